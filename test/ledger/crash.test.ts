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
import { createClient } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { CreateAccountResult, CreateTransferResult as R } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { dropDatabase, withDatabase } from "../../services/shared/db.ts";
import { createGrpcJsTransport } from "../../services/shared/grpc-transport.ts";
import { streamNamesOf } from "../../services/shared/nats.ts";
import { connectTestNats, natsUrl, postgresBaseUrl, uniqueStreamNames, uniqueSuffix } from "../support/env.ts";
import { startMesh, type MeshEndpoint, type RunningMesh } from "../../scripts/lib/launcher.ts";

const accountCount = 40;
const workers = 16;
const chainLength = 3;

/**
 * Starts `node services/ledger/main.ts` on free ports with the launcher (scripts/lib/launcher.ts)
 * and resolves once it printed its ready line.
 */
async function startLedger(): Promise<{ mesh: RunningMesh; target: string; pid: number }> {
  const mesh = await startMesh({ services: ["ledger"], env, ports: "free", logs: "silent", skipPreflight: true, readyTimeoutMs: 20_000 });
  const endpoint = mesh.endpoints.ledger as MeshEndpoint;
  return { mesh, target: endpoint.grpc, pid: endpoint.pid };
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
const env: Record<string, string> = {
  DATABASE_URL: databaseUrl,
  NATS_URL: natsUrl,
  NATS_STREAM: stream,
  NATS_SUBJECT_PREFIX: prefix,
  LOG_LEVEL: "error",
  SHUTDOWN_GRACE_MS: "1000",
};
let ledger: RunningMesh | undefined;

afterAll(async () => {
  await ledger?.stop();
  await dropDatabase(databaseUrl).catch(() => {});
  const { nc, cleanup } = await connectTestNats(stream);
  const jsm = await nc.jetstreamManager();
  for (const { name } of streamNamesOf(stream, prefix)) await jsm.streams.delete(name).catch(() => {});
  await cleanup();
});

describe("ledger crash (kill -9 under load, restart)", () => {
  it("keeps every acknowledged transfer, applies no chain by halves, and audits clean", { timeout: 60_000 }, async () => {
    let started = await startLedger();
    ledger = started.mesh;
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
    process.kill(started.pid, "SIGKILL");
    await started.mesh.unexpectedExit;
    ledger = undefined;
    stopLoad = true;
    await load;
    transport.close();
    const inFlight = calls.filter((call) => call.results === undefined);
    expect(acknowledged()).toBeGreaterThanOrEqual(300);
    expect(inFlight.length).toBeGreaterThan(0); // the kill really hit calls in flight

    // Restart on the same database and stream.
    started = await startLedger();
    ledger = started.mesh;
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
