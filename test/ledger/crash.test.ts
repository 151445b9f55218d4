/**
 * Crash test (issue 3, "Proof"): a real ledger process under a CreateTransfers load over gRPC
 * is killed with SIGKILL mid-load, restarted on the same database, and then:
 * - every transfer whose call was acknowledged with result OK exists (LookupTransfers), and
 *   every acknowledged failure does not;
 * - no linked chain is half-applied: each chain (acknowledged or cut off by the kill) is either
 *   fully present or fully absent;
 * - resubmitting the calls that never got an answer resolves their unknown outcome: a single
 *   transfer is then OK or EXISTS; a chain all OK, or EXISTS then LINKED_EVENT_FAILED (an
 *   existing member fails a chain, as in TigerBeetle);
 * - the Audit passes (every balance equals the sum of its transfers, debits = credits).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createClient } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { CreateAccountResult, CreateTransferResult as R } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { dropDatabase, withDatabase } from "../../services/shared/db.ts";
import { createGrpcJsTransport } from "../../services/shared/grpc-transport.ts";
import { streamNamesOf } from "../../services/shared/nats.ts";
import { connectTestNats, natsUrl, postgresBaseUrl, uniqueStreamNames, uniqueSuffix } from "../support/env.ts";
import { freePort } from "../../scripts/lib/launcher.ts";

const root = `${import.meta.dirname}/../..`;
const accountCount = 40;
const workers = 16;
const chainLength = 3;

/** Starts `node services/ledger/main.ts` and resolves with its gRPC address once ready. */
async function startLedger(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; target: string }> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [`${root}/services/ledger/main.ts`], {
    env: { ...env, LEDGER_GRPC_PORT: String(grpcPort), LEDGER_HTTP_PORT: String(httpPort) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`ledger not ready in 20 s: ${err.slice(-1500)}`)), 20_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-4000);
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n").find((text) => text.includes('"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve({ child, target: (JSON.parse(line) as { grpc: string }).grpc });
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`ledger exited (${code ?? signal}) before ready: ${err.slice(-1500)}`));
    });
  });
}

function stop(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(child.pid as number, signal);
  return exited;
}

interface Call {
  transfers: { id: string; debitAccountId: string; creditAccountId: string; amount: bigint; ledger: number; code: number; flags?: { linked: boolean } }[];
  chain: boolean;
  /** Results when the call was acknowledged; undefined when it never got an answer. */
  results?: R[];
}

const suffix = uniqueSuffix();
const databaseUrl = withDatabase(postgresBaseUrl, `ledger_crash_${suffix}`);
const { stream, prefix } = uniqueStreamNames();
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DATABASE_URL: databaseUrl,
  NATS_URL: natsUrl,
  NATS_STREAM: stream,
  NATS_SUBJECT_PREFIX: prefix,
  LOG_LEVEL: "error",
  SHUTDOWN_GRACE_MS: "1000",
};
let ledger: ChildProcess | undefined;

afterAll(async () => {
  await stop(ledger, "SIGTERM");
  await dropDatabase(databaseUrl).catch(() => {});
  const { nc, cleanup } = await connectTestNats(stream);
  const jsm = await nc.jetstreamManager();
  for (const { name } of streamNamesOf(stream, prefix)) await jsm.streams.delete(name).catch(() => {});
  await cleanup();
});

describe("ledger crash (kill -9 under load, restart)", () => {
  it("keeps every acknowledged transfer, applies no chain by halves, and audits clean", { timeout: 60_000 }, async () => {
    let started = await startLedger(env);
    ledger = started.child;
    let transport = createGrpcJsTransport({ baseUrl: started.target, defaultTimeoutMs: 10_000 });
    let client = createClient(LedgerService, transport);
    const accounts = Array.from({ length: accountCount }, (_, i) => `c:${i}`);
    const created = await client.createAccounts({ accounts: accounts.map((id) => ({ id, ledger: 840, code: 1 })) });
    expect(created.results.every((r) => r === CreateAccountResult.OK)).toBe(true);

    // Load: each worker sends, one call at a time, a single transfer or a linked chain of 3;
    // one chain in 8 ends with a transfer to a missing account, so it must fail as a whole.
    let counter = 0;
    const calls: Call[] = [];
    let stopLoad = false;
    const pick = () => accounts[Math.floor(Math.random() * accountCount)];
    const pair = () => {
      const debit = pick();
      let credit = pick();
      while (credit === debit) credit = pick();
      return { debitAccountId: debit, creditAccountId: credit };
    };
    const nextCall = (): Call => {
      const chain = counter % 2 === 1;
      const size = chain ? chainLength : 1;
      const doomed = chain && counter % 16 === 5;
      const transfers = Array.from({ length: size }, (_, i) => ({
        id: `k.${suffix}.${(++counter).toString().padStart(8, "0")}`,
        ...pair(),
        ...(doomed && i === size - 1 ? { creditAccountId: "c:missing" } : {}),
        amount: BigInt(1 + Math.floor(Math.random() * 1000)),
        ledger: 840,
        code: 1,
        ...(chain && i < size - 1 ? { flags: { linked: true } } : {}),
      }));
      return { transfers, chain };
    };
    const worker = async () => {
      while (!stopLoad) {
        const call = nextCall();
        calls.push(call);
        try {
          call.results = (await client.createTransfers({ transfers: call.transfers })).results;
        } catch {
          return; // the process died under this call: its outcome is unknown
        }
      }
    };
    const load = Promise.all(Array.from({ length: workers }, worker));
    const acknowledged = () => calls.filter((call) => call.results !== undefined).length;
    const deadline = Date.now() + 10_000;
    while (acknowledged() < 300 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await stop(ledger, "SIGKILL");
    stopLoad = true;
    await load;
    transport.close();
    const inFlight = calls.filter((call) => call.results === undefined);
    expect(acknowledged()).toBeGreaterThanOrEqual(300);
    expect(inFlight.length).toBeGreaterThan(0); // the kill really hit calls in flight

    // Restart on the same database and stream.
    started = await startLedger(env);
    ledger = started.child;
    transport = createGrpcJsTransport({ baseUrl: started.target, defaultTimeoutMs: 10_000 });
    client = createClient(LedgerService, transport);

    const allIds = calls.flatMap((call) => call.transfers.map((t) => t.id));
    const found = new Set<string>();
    for (let start = 0; start < allIds.length; start += 8000) {
      const page = await client.lookupTransfers({ ids: allIds.slice(start, start + 8000) });
      for (const transfer of page.transfers) found.add(transfer.id);
    }
    const lost: string[] = [];
    const ghosts: string[] = [];
    const halfApplied: string[] = [];
    for (const call of calls) {
      call.transfers.forEach((transfer, index) => {
        const result = call.results?.[index];
        if (result === R.OK && !found.has(transfer.id)) lost.push(transfer.id);
        if (result !== undefined && result !== R.OK && found.has(transfer.id)) ghosts.push(transfer.id);
      });
      const present = call.transfers.filter((transfer) => found.has(transfer.id)).length;
      if (call.chain && present !== 0 && present !== call.transfers.length) halfApplied.push(call.transfers[0].id);
    }
    expect(lost).toEqual([]);
    expect(ghosts).toEqual([]);
    expect(halfApplied).toEqual([]);
    // The doomed chains that were acknowledged failed as a whole.
    const doomedAcknowledged = calls.filter((call) => call.results && call.transfers.some((t) => t.creditAccountId === "c:missing"));
    expect(doomedAcknowledged.length).toBeGreaterThan(0);
    for (const call of doomedAcknowledged) {
      expect(call.results).toEqual([R.LINKED_EVENT_FAILED, R.LINKED_EVENT_FAILED, R.CREDIT_ACCOUNT_NOT_FOUND]);
    }

    // Resolve the unknown outcomes by resubmitting: committed before the kill -> EXISTS, else OK
    // (doomed chains: the same failure again, or ID_ALREADY_FAILED if it was remembered).
    for (const call of inFlight) {
      const { results } = await client.createTransfers({ transfers: call.transfers });
      const doomed = call.transfers.some((t) => t.creditAccountId === "c:missing");
      if (doomed) {
        expect(results.every((r) => r === R.LINKED_EVENT_FAILED || r === R.CREDIT_ACCOUNT_NOT_FOUND || r === R.ID_ALREADY_FAILED)).toBe(true);
        continue;
      }
      // A chain that committed answers as TigerBeetle does: EXISTS fails the chain, so its first
      // member says EXISTS and the others LINKED_EVENT_FAILED (and nothing moves).
      const wasPresent = found.has(call.transfers[0].id);
      expect(results).toEqual(call.transfers.map((_, i) => (!wasPresent ? R.OK : i === 0 ? R.EXISTS : R.LINKED_EVENT_FAILED)));
    }

    const audit = await client.audit({});
    expect(audit.violations).toEqual([]);
    expect(audit.ok).toBe(true);
    transport.close();
  });
});
