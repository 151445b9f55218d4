/**
 * `npm run bench:ledger [-- options]`: LedgerService.CreateTransfers over gRPC (h2c), against
 * the database's own ceiling for the same writes (pgbench), in one run.
 *
 *   --duration S     seconds measured per case (default 5), after --warmup S (default 1)
 *   --cases LIST     comma-separated case names or substrings (default: all 18), e.g.
 *                    "b1000-c8-uniform,b1-c64-uniform,b1-c64-hot"; "none" runs no gRPC case
 *   --repeat N       run everything N times and print medians (default 1)
 *   --accounts N     uniform accounts (default 10000)
 *   --client h2|raw|connect  load-generator client (default h2; see bench/lib/ledger-client.ts)
 *   --load-threads N         drive each case from N load threads (worker_threads, one HTTP/2
 *                            connection each; default 1): shows whether one load-generator
 *                            event loop limits a case (measured: it does not, see docs/ledger.md)
 *   --pgbench on|off        run the pgbench ceiling scripts (default on)
 *   --json           one JSON object on stdout (the table goes to stderr)
 *   --fresh-rounds   give every round (--repeat) its own fresh database, ledger and stream, so
 *                    rounds repeat one experiment; by default rounds share one database and the
 *                    transfer tables grow by about 2 M rows per round (each round prints the
 *                    table's size before it starts)
 *   --keep           keep the database (for EXPLAIN afterwards); dropped by default
 *   --ledger-node-args "..."  extra node flags for the ledger child (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p")
 *
 * What it does: starts its own ledger (`node services/ledger/main.ts`, LOG_LEVEL=warn) on a
 * fresh database `ledger_bench_<random>`, a unique JetStream stream and subject prefix and free
 * ports, with the change feed on (it is part of the product); creates N uniform accounts u:0..
 * u:N-1 and one hot account (no balance limits); then runs every case: batch 1 / 100 / 1000
 * transfers per call x 1 / 8 / 64 calls in flight (closed loop) x uniform (debit and credit
 * drawn uniformly, distinct) / hot (every transfer credits the hot account, debits uniform).
 * Transfer ids are unique, time-ordered ("x<case>.<counter>"), as TigerBeetle advises clients.
 * Per case: transfers/s, calls/s, latency p50/p95/p99/max (hdr-histogram-js), CPU seconds per
 * second of the ledger process, of this load generator, of every PostgreSQL process and of the
 * whole machine ("machine busy", from /proc/stat: 2.0 is both cores), the group commit's mean
 * transfers per database transaction and ms per transaction and the mean time a call spent in
 * the ledger's handler (all three scraped from the ledger's /metrics), and every non-OK result
 * or failed call (must be 0). Then pgbench (/usr/bin/pgbench, -M prepared) runs bench/pgbench/single.sql (64 clients)
 * and bench/pgbench/batch.sql (8 clients) on the same tables, and the targets of issue 3 are
 * printed with the measured ratios and PASS/FAIL. The ledger's Audit must pass after every round;
 * at the end each ledger is stopped by its PID and its database and stream are removed.
 *
 * Client: the lean HTTP/2 gRPC client (bench/lib/h2-grpc-transport.ts) costs the least CPU per
 * call (measured with --client; see docs/ledger.md), so it is the default: on a 2-core machine
 * every cycle the load generator spends is taken from the ledger and PostgreSQL.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { create } from "@bufbuild/protobuf";
import * as hdr from "hdr-histogram-js";
import { AccountSchema } from "../gen/payments/ledger/v1/ledger_pb.js";
import { CreateAccountResult } from "../gen/payments/ledger/v1/ledger_results_pb.js";
import { createPool, dropDatabase, withDatabase } from "../services/shared/db.ts";
import { ledgerClient, type ClientKind } from "./lib/ledger-client.ts";
import { newLatencyHistogram, startLoad, type LoadSpec, type LoadTally } from "./lib/ledger-load.ts";
import { cpuSecondsOf, machineCpuSeconds, median, postgresCpuSeconds } from "./lib/measure.ts";
import { connectNats, streamNamesOf } from "../services/shared/nats.ts";
import { startMesh, type MeshEndpoint, type RunningMesh } from "../scripts/lib/launcher.ts";

const root = `${import.meta.dirname}/..`;
const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    cases: { type: "string", default: "" },
    repeat: { type: "string", default: "1" },
    accounts: { type: "string", default: "10000" },
    client: { type: "string", default: "h2" },
    "load-threads": { type: "string", default: "1" },
    pgbench: { type: "string", default: "on" },
    json: { type: "boolean", default: false },
    "fresh-rounds": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    "ledger-node-args": { type: "string", default: "" },
  },
});
const say = (line: string) => process.stderr.write(`${line}\n`);
const intArg = (name: string, text: string | undefined, min: number): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    say(`bench:ledger: --${name} must be an integer >= ${min}`);
    process.exit(2);
  }
  return value;
};
const durationSeconds = intArg("duration", values.duration, 1);
const warmupSeconds = intArg("warmup", values.warmup, 0);
const repeat = intArg("repeat", values.repeat, 1);
const accountCount = intArg("accounts", values.accounts, 2);
const clientKind = values.client as ClientKind;
if (clientKind !== "h2" && clientKind !== "raw" && clientKind !== "connect") {
  say("bench:ledger: --client must be h2, raw or connect");
  process.exit(2);
}
const runPgbench = values.pgbench !== "off";
const loadThreads = intArg("load-threads", values["load-threads"], 1);
const hotId = "hot";
const postgresBaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

// ---------------------------------------------------------------------------------------------
// Cases

interface Case {
  name: string;
  batch: number;
  concurrency: number;
  hot: boolean;
}
const allCases: Case[] = [];
for (const batch of [1, 100, 1000]) {
  for (const concurrency of [1, 8, 64]) {
    for (const hot of [false, true]) allCases.push({ name: `b${batch}-c${concurrency}-${hot ? "hot" : "uniform"}`, batch, concurrency, hot });
  }
}
const wanted = values.cases === "" ? [] : values.cases.split(",").map((name) => name.trim()).filter(Boolean);
const cases = wanted.length === 0 ? allCases : allCases.filter((c) => wanted.some((w) => c.name === w || c.name.includes(w)));

// ---------------------------------------------------------------------------------------------
// Load-generator clients

// ---------------------------------------------------------------------------------------------
// The ledger child process

/**
 * Starts the ledger (`node [--ledger-node-args] services/ledger/main.ts`) on free ports with the
 * launcher (scripts/lib/launcher.ts), its logs discarded; resolves once it printed its ready
 * line. `stop()` sends SIGTERM by PID, SIGKILL after 15 s.
 */
async function startLedger(env: Record<string, string>): Promise<{ mesh: RunningMesh; endpoint: MeshEndpoint }> {
  const nodeArgs = values["ledger-node-args"].split(" ").filter(Boolean);
  const mesh = await startMesh({
    services: ["ledger"],
    env,
    ports: "free",
    logs: "silent",
    skipPreflight: true,
    readyTimeoutMs: 30_000,
    stopGraceMs: 15_000,
    command: () => ({ file: process.execPath, args: [...nodeArgs, `${root}/services/ledger/main.ts`] }),
  });
  return { mesh, endpoint: mesh.endpoints.ledger as MeshEndpoint };
}

/** Sums and counts of the ledger's group-commit histograms, scraped from its /metrics. */
async function groupCommitTotals(
  metricsUrl: string,
): Promise<{ transactions: number; transfers: number; seconds: number; calls: number; callSeconds: number }> {
  try {
    const text = await (await fetch(metricsUrl)).text();
    const value = (name: string, labels = "[^}]*") =>
      Number(new RegExp(`^${name}(?:\\{${labels}\\})? ([0-9.e+-]+)$`, "m").exec(text)?.[1] ?? 0); // no series yet: nothing observed
    const createTransfers = '[^}]*method="CreateTransfers",code="ok"[^}]*';
    return {
      transactions: value("ledger_group_commit_transfers_count"),
      transfers: value("ledger_group_commit_transfers_sum"),
      seconds: value("ledger_group_commit_transaction_seconds_sum"),
      calls: value("rpc_server_duration_seconds_count", createTransfers),
      callSeconds: value("rpc_server_duration_seconds_sum", createTransfers),
    };
  } catch {
    return { transactions: Number.NaN, transfers: Number.NaN, seconds: Number.NaN, calls: Number.NaN, callSeconds: Number.NaN };
  }
}

// ---------------------------------------------------------------------------------------------
// Running one case

interface CaseResult {
  name: string;
  batch: number;
  concurrency: number;
  hot: boolean;
  /** Load threads that drove the case (1 = the main thread). */
  loadThreads: number;
  transfersPerSecond: number;
  callsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  nonOk: number;
  failedCalls: number;
  ledgerCpuSeconds: number;
  loadCpuSeconds: number;
  postgresCpuSeconds: number;
  /** Busy CPU seconds of the whole machine (every process, both cores). */
  machineBusySeconds: number;
  /** Group commit: database transactions per second, mean transfers and mean ms per transaction. */
  transactionsPerSecond: number;
  transfersPerTransaction: number;
  transactionMs: number;
  /** Mean time a CreateTransfers call spent in the ledger's handler (rpc_server_duration_seconds). */
  handlerMs: number;
  seconds: number;
}

let caseNumber = 0;

/** Runs the case's load in `threads` load threads (worker_threads), each with its own connection. */
async function threadedLoad(target: string, spec: LoadSpec, threads: number) {
  const shares = Array.from({ length: threads }, (_, i) => Math.floor(spec.concurrency / threads) + (i < spec.concurrency % threads ? 1 : 0));
  const workers = shares.map(
    (concurrency, i) =>
      new Worker(new URL("./lib/ledger-load-thread.ts", import.meta.url), {
        workerData: { target, clientKind, spec: { ...spec, concurrency, tag: `${spec.tag}t${i}.` } },
      }),
  );
  // Each thread posts "ready" once its client and loops are started.
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
    ),
  );
  return {
    measure() {
      for (const worker of workers) worker.postMessage("measure");
    },
    async stop(): Promise<LoadTally> {
      const tallies = await Promise.all(
        workers.map(
          (worker) =>
            new Promise<Omit<LoadTally, "histogram"> & { histogram: string }>((resolve, reject) => {
              worker.once("message", resolve);
              worker.once("error", reject);
              worker.postMessage("stop");
            }),
        ),
      );
      const total: LoadTally = { calls: 0, transfers: 0, nonOk: 0, failedCalls: 0, nonOkSeen: {}, firstFailures: [], histogram: newLatencyHistogram() };
      for (const tally of tallies) {
        total.calls += tally.calls;
        total.transfers += tally.transfers;
        total.nonOk += tally.nonOk;
        total.failedCalls += tally.failedCalls;
        total.firstFailures.push(...tally.firstFailures);
        for (const [name, count] of Object.entries(tally.nonOkSeen)) total.nonOkSeen[name] = (total.nonOkSeen[name] ?? 0) + count;
        total.histogram.add(hdr.decodeFromCompressedBase64(tally.histogram));
      }
      await Promise.all(workers.map((worker) => worker.terminate()));
      return total;
    },
  };
}

async function runCase(
  client: ReturnType<typeof ledgerClient>,
  target: string,
  c: Case,
  ledgerPid: number,
  metricsUrl: string,
): Promise<CaseResult> {
  caseNumber++;
  const spec: LoadSpec = { batch: c.batch, concurrency: c.concurrency, hot: c.hot, accountCount, hotId, tag: `x${caseNumber}.` };
  const threads = Math.min(loadThreads, c.concurrency);
  const load = threads > 1 ? await threadedLoad(target, spec, threads) : startLoad(client.createTransfers, spec);
  await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));
  load.measure();
  const ledgerCpu0 = cpuSecondsOf(ledgerPid);
  const loadCpu0 = process.cpuUsage();
  const postgresCpu0 = postgresCpuSeconds();
  const machine0 = machineCpuSeconds();
  const groups0 = await groupCommitTotals(metricsUrl);
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationSeconds * 1000));
  const seconds = (performance.now() - t0) / 1000;
  const ledgerCpuSeconds = cpuSecondsOf(ledgerPid) - ledgerCpu0;
  const loadCpu = process.cpuUsage(loadCpu0);
  const postgresCpu = postgresCpuSeconds() - postgresCpu0;
  const machineBusy = machineCpuSeconds().busy - machine0.busy;
  const groups1 = await groupCommitTotals(metricsUrl);
  const tally = await load.stop();
  for (const failure of tally.firstFailures.slice(0, 3)) say(`  ${c.name}: call failed: ${failure}`);
  if (Object.keys(tally.nonOkSeen).length > 0) say(`  ${c.name}: non-OK results ${JSON.stringify(tally.nonOkSeen)}`);
  const ms = (percentile: number) => tally.histogram.getValueAtPercentile(percentile) / 1000;
  return {
    name: c.name,
    batch: c.batch,
    concurrency: c.concurrency,
    hot: c.hot,
    loadThreads: threads,
    transfersPerSecond: tally.transfers / seconds,
    callsPerSecond: tally.calls / seconds,
    p50Ms: ms(50),
    p95Ms: ms(95),
    p99Ms: ms(99),
    maxMs: tally.histogram.maxValue / 1000,
    nonOk: tally.nonOk,
    failedCalls: tally.failedCalls,
    ledgerCpuSeconds,
    loadCpuSeconds: (loadCpu.user + loadCpu.system) / 1e6,
    postgresCpuSeconds: postgresCpu,
    machineBusySeconds: machineBusy,
    transactionsPerSecond: (groups1.transactions - groups0.transactions) / seconds,
    transfersPerTransaction: (groups1.transfers - groups0.transfers) / (groups1.transactions - groups0.transactions),
    transactionMs: (1000 * (groups1.seconds - groups0.seconds)) / (groups1.transactions - groups0.transactions),
    handlerMs: (1000 * (groups1.callSeconds - groups0.callSeconds)) / (groups1.calls - groups0.calls),
    seconds,
  };
}

// ---------------------------------------------------------------------------------------------
// pgbench

interface PgbenchResult {
  script: string;
  clients: number;
  transfersPerTransaction: number;
  tps: number;
  transfersPerSecond: number;
  latencyAverageMs: number;
  failed: number;
}

function pgbench(url: string, script: "single" | "batch", clients: number): PgbenchResult {
  const transfersPerTransaction = script === "single" ? 1 : 1000;
  const args = [
    "-n", "-M", "prepared", "-c", String(clients), "-j", "2", "-T", String(durationSeconds),
    "-D", `accounts=${accountCount}`, "-f", `${root}/bench/pgbench/${script}.sql`, url,
  ];
  const result = spawnSync("/usr/bin/pgbench", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`pgbench ${script} failed: ${result.stderr || result.stdout}`);
  const tps = Number(/tps = ([\d.]+)/.exec(result.stdout)?.[1] ?? Number.NaN);
  const latencyAverageMs = Number(/latency average = ([\d.]+) ms/.exec(result.stdout)?.[1] ?? Number.NaN);
  const failed = Number(/number of failed transactions: (\d+)/.exec(result.stdout)?.[1] ?? 0);
  return { script, clients, transfersPerTransaction, tps, transfersPerSecond: tps * transfersPerTransaction, latencyAverageMs, failed };
}

// ---------------------------------------------------------------------------------------------
// Reporting

function medianOf<T extends Record<string, unknown>>(runs: T[]): T {
  const first = runs[0];
  const out: Record<string, unknown> = { ...first };
  for (const [key, value] of Object.entries(first)) {
    if (typeof value === "number") out[key] = median(runs.map((run) => run[key] as number));
  }
  if ("nonOk" in first) out.nonOk = runs.reduce((sum, run) => sum + (run.nonOk as number), 0);
  if ("failedCalls" in first) out.failedCalls = runs.reduce((sum, run) => sum + (run.failedCalls as number), 0);
  return out as T;
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "-");

function tableOf(results: CaseResult[]): string {
  const header = "| case | transfers/s | calls/s | p50 ms | p95 ms | p99 ms | max ms | non-OK | failed calls | ledger CPU s/s | load CPU s/s | PostgreSQL CPU s/s | machine busy s/s | transfers/tx | ms/tx | handler ms/call |";
  const rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${fixed(r.transfersPerSecond)} | ${fixed(r.callsPerSecond)} | ${fixed(r.p50Ms, 1)} | ${fixed(r.p95Ms, 1)} | ${fixed(r.p99Ms, 1)} | ${fixed(r.maxMs, 1)} | ${r.nonOk} | ${r.failedCalls} | ${fixed(r.ledgerCpuSeconds / r.seconds, 2)} | ${fixed(r.loadCpuSeconds / r.seconds, 2)} | ${fixed(r.postgresCpuSeconds / r.seconds, 2)} | ${fixed(r.machineBusySeconds / r.seconds, 2)} | ${fixed(r.transfersPerTransaction, 1)} | ${fixed(r.transactionMs, 1)} | ${fixed(r.handlerMs, 1)} |`,
  );
  return [header, rule, ...rows].join("\n");
}

interface Target {
  name: string;
  measured: string;
  goal: string;
  pass: boolean | undefined;
}

function targetsOf(results: CaseResult[], single: PgbenchResult | undefined, batch: PgbenchResult | undefined): Target[] {
  const find = (name: string) => results.find((r) => r.name === name);
  const targets: Target[] = [];
  const b1000 = find("b1000-c8-uniform");
  if (b1000) {
    targets.push({ name: "b1000-c8-uniform transfers/s", measured: fixed(b1000.transfersPerSecond), goal: ">= 20000", pass: b1000.transfersPerSecond >= 20_000 });
    if (batch) {
      const ratio = b1000.transfersPerSecond / batch.transfersPerSecond;
      targets.push({ name: "b1000-c8-uniform / pgbench batch.sql (8 clients)", measured: `${ratio.toFixed(2)}x (${fixed(batch.transfersPerSecond)}/s)`, goal: ">= 0.70x", pass: ratio >= 0.7 });
    }
  }
  const b1 = find("b1-c64-uniform");
  if (b1) {
    targets.push({ name: "b1-c64-uniform transfers/s", measured: fixed(b1.transfersPerSecond), goal: ">= 5000", pass: b1.transfersPerSecond >= 5_000 });
    targets.push({ name: "b1-c64-uniform p99", measured: `${fixed(b1.p99Ms, 1)} ms`, goal: "<= 30 ms", pass: b1.p99Ms <= 30 });
    if (single) {
      const ratio = b1.transfersPerSecond / single.transfersPerSecond;
      targets.push({ name: "b1-c64-uniform / pgbench single.sql (64 clients)", measured: `${ratio.toFixed(2)}x (${fixed(single.transfersPerSecond)}/s)`, goal: ">= 1.50x", pass: ratio >= 1.5 });
    }
    const hot = find("b1-c64-hot");
    if (hot) {
      const ratio = hot.transfersPerSecond / b1.transfersPerSecond;
      targets.push({ name: "b1-c64-hot / b1-c64-uniform", measured: `${ratio.toFixed(2)}x (${fixed(hot.transfersPerSecond)}/s)`, goal: ">= 0.80x", pass: ratio >= 0.8 });
    }
  }
  for (const r of results) {
    if (r.nonOk > 0 || r.failedCalls > 0) targets.push({ name: `${r.name} non-OK / failed`, measured: `${r.nonOk} / ${r.failedCalls}`, goal: "0 / 0", pass: false });
  }
  return targets;
}

// ---------------------------------------------------------------------------------------------
// Main

/** One benchmark database with its ledger: accounts created, pgbench tables set up. */
interface Setup {
  databaseUrl: string;
  stream: string;
  subjectPrefix: string;
  mesh?: RunningMesh;
  client?: ReturnType<typeof ledgerClient>;
  ledgerPid: number;
  grpc: string;
  metrics: string;
}

/**
 * Creates database `ledger_bench_<random>`, starts a ledger on it with a unique JetStream stream
 * and subject prefix, creates the uniform accounts and the hot account, and runs
 * bench/pgbench/setup.sql. The setup is pushed on `pending` before anything starts, so the
 * caller can tear down whatever a failed setup left behind.
 */
async function setUp(pending: Setup[]): Promise<Setup> {
  const suffix = randomBytes(4).toString("hex");
  const setup: Setup = {
    databaseUrl: withDatabase(postgresBaseUrl, `ledger_bench_${suffix}`),
    stream: `LEDGER_BENCH_${suffix}`,
    subjectPrefix: `lbench${suffix}`,
    ledgerPid: 0,
    grpc: "",
    metrics: "",
  };
  pending.push(setup);
  const env: Record<string, string> = {
    DATABASE_URL: setup.databaseUrl,
    NATS_URL: natsUrl,
    NATS_STREAM: setup.stream,
    NATS_SUBJECT_PREFIX: setup.subjectPrefix,
    LOG_LEVEL: "warn",
  };
  const started = await startLedger(env);
  setup.mesh = started.mesh;
  setup.ledgerPid = started.endpoint.pid;
  setup.grpc = started.endpoint.grpc;
  setup.metrics = started.endpoint.metrics;
  const client = ledgerClient(started.endpoint.grpc, clientKind);
  setup.client = client;
  const accountIds = Array.from({ length: accountCount }, (_, i) => `u:${i}`);
  const allAccounts = [...accountIds, hotId];
  for (let start = 0; start < allAccounts.length; start += 5000) {
    const results = await client.createAccounts(
      allAccounts.slice(start, start + 5000).map((id) => create(AccountSchema, { id, ledger: 840, code: 1 })),
    );
    const bad = results.filter((r) => r !== CreateAccountResult.OK && r !== CreateAccountResult.EXISTS);
    if (bad.length > 0) throw new Error(`CreateAccounts: ${bad.map((r) => CreateAccountResult[r]).join(",")}`);
  }
  const setupPool = createPool(setup.databaseUrl, { max: 1, applicationName: "bench-ledger" });
  await setupPool.query(readFileSync(`${root}/bench/pgbench/setup.sql`, "utf8"));
  await setupPool.query("vacuum analyze ledger.accounts");
  await setupPool.end();
  say(`ledger pid ${setup.ledgerPid} at ${setup.grpc} on ${setup.databaseUrl.replace(/^.*\//, "")}; ${allAccounts.length} accounts created`);
  return setup;
}

/** Stops the ledger by its PID, then drops the database and the streams (unless --keep). */
async function tearDown(setup: Setup): Promise<void> {
  setup.client?.close();
  await setup.mesh?.stop();
  if (values.keep) {
    say(`kept database ${setup.databaseUrl} and stream ${setup.stream}`);
    return;
  }
  await dropDatabase(setup.databaseUrl).catch((error) => say(`drop database failed: ${(error as Error).message}`));
  try {
    const nc = await connectNats(natsUrl, "bench-ledger");
    const jsm = await nc.jetstreamManager();
    for (const { name } of streamNamesOf(setup.stream, setup.subjectPrefix)) await jsm.streams.delete(name).catch(() => {});
    await nc.close();
  } catch (error) {
    say(`stream cleanup failed: ${(error as Error).message}`);
  }
}

/** Rows in ledger.transfers and the table's size with its indexes, as text for the log. */
async function tableSizeOf(databaseUrl: string): Promise<string> {
  const pool = createPool(databaseUrl, { max: 1, applicationName: "bench-ledger" });
  try {
    const { rows } = await pool.query<{ n: string; total: string; indexes: string }>(
      `select count(*)::text as n, pg_size_pretty(pg_total_relation_size('ledger.transfers')) as total,
              pg_size_pretty(pg_indexes_size('ledger.transfers')) as indexes from ledger.transfers`,
    );
    return `${rows[0].n} transfers, ${rows[0].total} with indexes (indexes ${rows[0].indexes})`;
  } finally {
    await pool.end();
  }
}

const freshRounds = values["fresh-rounds"];
say(
  `bench:ledger: ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ""}, ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}; ` +
    `${cases.length} case(s) x ${durationSeconds} s (+${warmupSeconds} s warm-up) x ${repeat}${freshRounds ? " (a fresh database per round)" : ""}, client ${clientKind}`,
);
const pending: Setup[] = [];
let exitCode = 0;
try {
  let setup = await setUp(pending);
  const runs: CaseResult[][] = cases.map(() => []);
  const singles: PgbenchResult[] = [];
  const batches: PgbenchResult[] = [];
  const audits: { ok: boolean; violations: string[] }[] = [];
  for (let round = 1; round <= repeat; round++) {
    if (freshRounds && round > 1) {
      await tearDown(pending.shift() as Setup);
      setup = await setUp(pending);
    }
    const tag = repeat > 1 ? `[${round}/${repeat}] ` : "";
    say(`${tag}before the round: ${await tableSizeOf(setup.databaseUrl)}`);
    for (const [index, c] of cases.entries()) {
      const result = await runCase(setup.client as ReturnType<typeof ledgerClient>, setup.grpc, c, setup.ledgerPid, setup.metrics);
      runs[index].push(result);
      say(
        `${tag}${c.name.padEnd(18)} ${fixed(result.transfersPerSecond).padStart(7)} transfers/s ` +
          `${fixed(result.callsPerSecond).padStart(6)} calls/s  p50 ${fixed(result.p50Ms, 1)} p99 ${fixed(result.p99Ms, 1)} ms  ` +
          `ledger CPU ${fixed(result.ledgerCpuSeconds / result.seconds, 2)}  load CPU ${fixed(result.loadCpuSeconds / result.seconds, 2)}  ` +
          `PostgreSQL CPU ${fixed(result.postgresCpuSeconds / result.seconds, 2)}  machine busy ${fixed(result.machineBusySeconds / result.seconds, 2)}  ` +
          `${fixed(result.transfersPerTransaction, 1)} transfers/tx ${fixed(result.transactionMs, 1)} ms/tx, handler ${fixed(result.handlerMs, 1)} ms/call` +
          `${result.nonOk + result.failedCalls > 0 ? `  NON-OK ${result.nonOk} FAILED ${result.failedCalls}` : ""}`,
      );
    }
    if (runPgbench) {
      say(`${tag}before pgbench: ${await tableSizeOf(setup.databaseUrl)}`);
      const single = pgbench(setup.databaseUrl, "single", 64);
      const batch = pgbench(setup.databaseUrl, "batch", 8);
      singles.push(single);
      batches.push(batch);
      say(
        `${tag}pgbench single.sql 64 clients ${fixed(single.transfersPerSecond)} transfers/s (avg ${fixed(single.latencyAverageMs, 1)} ms); ` +
          `batch.sql 8 clients ${fixed(batch.transfersPerSecond)} transfers/s (${fixed(batch.tps, 1)} tx/s, avg ${fixed(batch.latencyAverageMs, 1)} ms)`,
      );
    }
    const audit = await (setup.client as ReturnType<typeof ledgerClient>).audit();
    audits.push(audit);
    say(`${tag}Audit: ${audit.ok ? "ok" : audit.violations.slice(0, 3).join("; ")}`);
  }
  const results = runs.map((caseRuns) => medianOf(caseRuns as unknown as Record<string, unknown>[]) as unknown as CaseResult);
  const single = singles.length > 0 ? medianOf(singles as unknown as Record<string, unknown>[]) as unknown as PgbenchResult : undefined;
  const batch = batches.length > 0 ? medianOf(batches as unknown as Record<string, unknown>[]) as unknown as PgbenchResult : undefined;

  const targets = targetsOf(results, single, batch);
  const violations = audits.flatMap((a) => a.violations);
  targets.push({ name: "ledger Audit after every round", measured: violations.length === 0 ? "ok" : violations.slice(0, 3).join("; "), goal: "ok", pass: violations.length === 0 });

  say(`\n${repeat > 1 ? `medians of ${repeat} runs\n` : ""}${tableOf(results)}`);
  if (single && batch) {
    say(`\n| pgbench script | clients | transfers/tx | tx/s | transfers/s | latency avg ms | failed |\n|---|---:|---:|---:|---:|---:|---:|`);
    for (const p of [single, batch]) {
      say(`| ${p.script}.sql | ${p.clients} | ${p.transfersPerTransaction} | ${fixed(p.tps, 1)} | ${fixed(p.transfersPerSecond)} | ${fixed(p.latencyAverageMs, 1)} | ${p.failed} |`);
    }
  }
  say(`\n| target | measured | goal | verdict |\n|---|---|---|---|`);
  for (const t of targets) say(`| ${t.name} | ${t.measured} | ${t.goal} | ${t.pass === undefined ? "-" : t.pass ? "PASS" : "FAIL"} |`);
  if (targets.some((t) => t.pass === false)) exitCode = 1;
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({
        machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg() },
        date: new Date().toISOString(),
        durationSeconds,
        repeat,
        client: clientKind,
        cases: results,
        pgbench: { single, batch },
        targets,
        freshRounds,
        audits,
      })}\n`,
    );
  }
} catch (error) {
  say(`bench:ledger failed: ${(error as Error).stack ?? error}`);
  exitCode = 2;
} finally {
  for (const setup of pending) await tearDown(setup);
}
process.exit(exitCode);
