/**
 * `npm run bench -- [options]`: a closed-loop gRPC load runner, built from the protobuf-es
 * descriptors (toBinary/fromBinary), over a lean HTTP/2 gRPC client (default) or @grpc/grpc-js.
 *
 *   --mode authorize | authorize-capture | ledger-transfers   (default authorize)
 *   --concurrency C     calls in flight (default 32)
 *   --duration S        seconds to run (default 10), or --requests N for a fixed count
 *   --connections K     HTTP/2 connections spread over (default 1)
 *   --cards N           card pool size (default 200), each with a USD 10,000,000.00 limit
 *   --batch B           transfers per CreateTransfers in ledger mode (default 1)
 *   --target host:port  authorization gRPC (default 127.0.0.1:$AUTHORIZATION_GRPC_PORT or 50051)
 *   --ledger-target host:port  ledger gRPC (default 127.0.0.1:$LEDGER_GRPC_PORT or 50053)
 *   --deadline-ms D     per-call deadline (default 5000)
 *   --client h2|grpc-js load-generator client (default h2: bench/lib/h2-grpc-transport.ts,
 *                       about a third of grpc-js's CPU per call; grpc-js: the reference client)
 *   --json              one JSON object on stdout
 *
 * Setup: a bench merchant (m_bench, partner_bench) and a pool of Luhn-valid synthetic cards
 * (authorize modes), or two bench accounts on ledger 840 (ledger mode). Every call gets a
 * fresh idempotency key / transfer id. Prints requests/s, latency p50/p95/p99/max
 * (hdr-histogram-js), errors by gRPC code and approved/declined counts. See bench/README.md.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { create, type DescService } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { AuthorizationService } from "../gen/payments/authorization/v1/authorization_service_pb.js";
import { MoneySchema } from "../gen/payments/common/v1/money_pb.js";
import { LedgerService } from "../gen/payments/ledger/v1/ledger_service_pb.js";
import { AccountSchema, TransferSchema } from "../gen/payments/ledger/v1/ledger_pb.js";
import { CreateAccountResult, CreateTransferResult } from "../gen/payments/ledger/v1/ledger_results_pb.js";
import { bump, latencyRecorder, toJson } from "../scripts/lib/stats.ts";
import { grpcClientOf, luhnPan, type Unary } from "../scripts/lib/grpc-generic.ts";
import { createH2GrpcTransport } from "./lib/h2-grpc-transport.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "authorize" },
    concurrency: { type: "string", default: "32" },
    duration: { type: "string", default: "10" },
    requests: { type: "string" },
    connections: { type: "string", default: "1" },
    cards: { type: "string", default: "200" },
    batch: { type: "string", default: "1" },
    target: { type: "string", default: `127.0.0.1:${process.env.AUTHORIZATION_GRPC_PORT ?? "50051"}` },
    "ledger-target": { type: "string", default: `127.0.0.1:${process.env.LEDGER_GRPC_PORT ?? "50053"}` },
    "deadline-ms": { type: "string", default: "5000" },
    client: { type: "string", default: "h2" },
    json: { type: "boolean", default: false },
  },
});
const int = (name: string, text: string | undefined, min: number): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`bench: --${name} must be an integer >= ${min}\n`);
    process.exit(2);
  }
  return value;
};
const mode = values.mode;
if (mode !== "authorize" && mode !== "authorize-capture" && mode !== "ledger-transfers") {
  process.stderr.write("bench: --mode must be authorize, authorize-capture or ledger-transfers\n");
  process.exit(2);
}
const concurrency = int("concurrency", values.concurrency, 1);
const durationSeconds = int("duration", values.duration, 1);
const requestsMax = values.requests === undefined ? undefined : int("requests", values.requests, 1);
const connections = int("connections", values.connections, 1);
const cardCount = int("cards", values.cards, 1);
const batch = int("batch", values.batch, 1);
const deadlineMs = int("deadline-ms", values["deadline-ms"], 1);
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const clientKind = values.client;
if (clientKind !== "h2" && clientKind !== "grpc-js") {
  say("--client must be h2 or grpc-js");
  process.exit(2);
}

/** The same call shape as grpcClientOf, over the lean HTTP/2 transport. */
function h2ClientOf(service: DescService, target: string): Record<string, Unary> & { close(): void } {
  const transport = createH2GrpcTransport({ baseUrl: target, defaultTimeoutMs: deadlineMs });
  const client = createClient(service, transport) as unknown as Record<string, (request: unknown, options: { timeoutMs?: number }) => Promise<unknown>>;
  const calls: Record<string, Unary> = {};
  for (const method of service.methods) {
    calls[method.localName] = (request, options = {}) => client[method.localName](request, { timeoutMs: options.deadlineMs });
  }
  return Object.assign(calls, { close: () => transport.close() });
}

const isLedger = mode === "ledger-transfers";
const target = isLedger ? values["ledger-target"] : values.target;
const service = isLedger ? LedgerService : AuthorizationService;
// --client h2 (default): the lean HTTP/2 gRPC client of bench/lib/h2-grpc-transport.ts, about a
// third of grpc-js's CPU per call, so the load generator takes less of the cores it shares with
// the mesh; --client grpc-js: @grpc/grpc-js, the reference Node client.
const clients = Array.from({ length: connections }, (_, index) =>
  clientKind === "grpc-js" ? grpcClientOf(service, target, index) : h2ClientOf(service, target),
);
const setup = clients[0];
const run = randomBytes(4).toString("hex");
const usd = (amountMinor: bigint) => create(MoneySchema, { currencyCode: "USD", amountMinor });

let cardTokens: string[] = [];
const debitAccount = `bench:${run}:debit`;
const creditAccount = `bench:${run}:credit`;
try {
  if (isLedger) {
    const response = (await setup.createAccounts({
      accounts: [debitAccount, creditAccount].map((id) => create(AccountSchema, { id, ledger: 840, code: 900 })),
    })) as { results: CreateAccountResult[] };
    if (!response.results.every((result) => result === CreateAccountResult.OK || result === CreateAccountResult.EXISTS)) {
      throw new Error(`CreateAccounts results ${response.results.map((result) => CreateAccountResult[result]).join(",")}`);
    }
  } else {
    await setup.createMerchant({ merchantId: "m_bench", partnerId: "partner_bench", name: "Bench merchant", currencyCode: "USD" });
    cardTokens = await Promise.all(
      Array.from({ length: cardCount }, async (_, index) => {
        const pan = luhnPan(`49${run.slice(0, 6).replace(/[a-f]/g, (c) => String(c.charCodeAt(0) % 10))}${String(index).padStart(7, "0")}`);
        const response = (await setup.createCardAccount({ pan, creditLimit: usd(1_000_000_000n) })) as { cardAccount?: { cardToken: string } };
        return response.cardAccount?.cardToken ?? "";
      }),
    );
  }
} catch (error) {
  say(`setup against ${target} failed: ${(error as Error).message}; is the mesh running (npm start)?`);
  process.exit(2);
}
say(`${mode} against ${target}: concurrency ${concurrency}, ${requestsMax ? `${requestsMax} requests` : `${durationSeconds} s`}, ${connections} connection(s)`);

const latency = latencyRecorder();
const errors: Record<string, number> = {};
const outcomes: Record<string, number> = {};
let issued = 0;
let completed = 0;
const stopAt = Date.now() + durationSeconds * 1000;
const more = () => (requestsMax !== undefined ? issued < requestsMax : Date.now() < stopAt);

const once = async (client: (typeof clients)[number]): Promise<void> => {
  const started = process.hrtime.bigint();
  try {
    if (isLedger) {
      const transfers = Array.from({ length: batch }, () =>
        create(TransferSchema, { id: `b:${randomUUID()}`, debitAccountId: debitAccount, creditAccountId: creditAccount, amount: 1n, ledger: 840, code: 900 }),
      );
      const response = (await client.createTransfers({ transfers }, { deadlineMs })) as { results: CreateTransferResult[] };
      for (const result of response.results) bump(outcomes, CreateTransferResult[result] ?? String(result));
    } else {
      const amount = usd(BigInt(100 + Math.floor(Math.random() * 9_900)));
      const response = (await client.authorize(
        {
          idempotencyKey: randomUUID(),
          merchantId: "m_bench",
          card: { case: "cardToken", value: cardTokens[issued % cardTokens.length] },
          amount,
          merchantCategory: "misc_net",
        },
        { deadlineMs },
      )) as { authorization?: { id: string; responseCodeIso: string } };
      const code = response.authorization?.responseCodeIso ?? "";
      bump(outcomes, code === "00" ? "approved" : `declined_${code}`);
      if (mode === "authorize-capture" && code === "00") {
        await client.capture({ idempotencyKey: randomUUID(), authorizationId: response.authorization!.id, amount, finalCapture: true }, { deadlineMs });
      }
    }
    latency.record(started);
  } catch (error) {
    const code = (error as grpc.ServiceError).code;
    bump(errors, typeof code === "number" ? grpc.status[code] : "CLIENT_ERROR");
  } finally {
    completed += 1;
  }
};

const startedAt = process.hrtime.bigint();
await Promise.all(
  Array.from({ length: concurrency }, async (_, worker) => {
    const client = clients[worker % clients.length];
    while (more()) {
      issued += 1;
      await once(client);
    }
  }),
);
const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
for (const client of clients) client.close();

const summary = latency.summary();
const result = {
  mode,
  target,
  concurrency,
  connections,
  batch: isLedger ? batch : undefined,
  requests: completed,
  seconds: Math.round(seconds * 1000) / 1000,
  requestsPerSecond: Math.round((completed / seconds) * 10) / 10,
  itemsPerSecond: isLedger ? Math.round(((completed - Object.values(errors).reduce((a, b) => a + b, 0)) * batch / seconds) * 10) / 10 : undefined,
  latencyMs: summary,
  errors,
  outcomes,
};
if (values.json) {
  process.stdout.write(`${toJson(result)}\n`);
} else {
  process.stdout.write(
    [
      `${mode} @ ${target}: ${completed} requests in ${result.seconds} s = ${result.requestsPerSecond} req/s${isLedger ? ` (${result.itemsPerSecond} transfers/s)` : ""}`,
      `latency ms: p50 ${summary.p50Ms}  p95 ${summary.p95Ms}  p99 ${summary.p99Ms}  max ${summary.maxMs}`,
      `outcomes: ${Object.entries(outcomes).map(([key, count]) => `${key} ${count}`).join(", ") || "none"}`,
      `errors: ${Object.entries(errors).map(([key, count]) => `${key} ${count}`).join(", ") || "none"}`,
    ].join("\n") + "\n",
  );
}
process.exit(Object.keys(errors).length === 0 ? 0 : 1);
