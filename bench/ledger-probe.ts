/**
 * Engine probe (not a test, not the benchmark): drives the ledger engine directly, without
 * gRPC, and prints where a batch's time goes, statement by statement. Use it to profile the
 * batch path (`node --cpu-prof bench/ledger-probe.ts ...`) and to EXPLAIN the statements.
 *
 *   node bench/ledger-probe.ts [--batch 1000] [--batches 20] [--accounts 10000] [--feed on|off]
 *                              [--singles 64x300] [--in-flight 2] [--explain]
 *
 * 1. sequential engine batches of --batch uniform transfers (with the change feed as in
 *    production unless --feed off): transfers/s and the time per statement kind;
 * 2. group commit with --singles (submitters x transfers each), uniform and hot account;
 * 3. --explain: EXPLAIN (ANALYZE, BUFFERS, WAL) of each write statement of one batch (rolled back).
 * The database (ledger_probe_<random>) is dropped at the end.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import pg from "pg";
import { create } from "@bufbuild/protobuf";
import { AccountSchema, TransferSchema } from "../gen/payments/ledger/v1/ledger_pb.js";
import { transfersFeed } from "../services/ledger/change-feed.ts";
import { createLedgerEngine } from "../services/ledger/store/engine.ts";
import { createGroupCommitter } from "../services/ledger/store/group-commit.ts";
import { applyMigrations, createPool, dropDatabase, ensureDatabase, withDatabase } from "../services/shared/db.ts";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "1000" },
    batches: { type: "string", default: "20" },
    accounts: { type: "string", default: "10000" },
    feed: { type: "string", default: "on" },
    singles: { type: "string", default: "64x300" },
    "in-flight": { type: "string", default: "2" },
    explain: { type: "boolean", default: false },
  },
});
const batchSize = Number(values.batch);
const batches = Number(values.batches);
const accountCount = Number(values.accounts);
const [submitters, perSubmitter] = values.singles.split("x").map(Number);
const inFlightMax = Number(values["in-flight"]);

// Time every statement by its first words (the probe is the only user of this process's pg).
const statementTimes = new Map<string, { count: number; ms: number }>();
const originalQuery = pg.Client.prototype.query as (...args: unknown[]) => Promise<unknown>;
(pg.Client.prototype as unknown as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
  const text = typeof args[0] === "string" ? args[0] : "";
  const kind = text.replace(/\s+/g, " ").trim().slice(0, 48);
  const started = performance.now();
  const result = originalQuery.apply(this, args);
  if (result && typeof (result as Promise<unknown>).then === "function") {
    (result as Promise<unknown>).then(
      () => {
        const entry = statementTimes.get(kind) ?? { count: 0, ms: 0 };
        entry.count++;
        entry.ms += performance.now() - started;
        statementTimes.set(kind, entry);
      },
      () => {},
    );
  }
  return result;
};

const url = withDatabase(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres", `ledger_probe_${randomBytes(4).toString("hex")}`);
await ensureDatabase(url);
const pool = createPool(url, { max: 16, applicationName: "ledger-probe" });
try {
  await applyMigrations(pool, "ledger", `${import.meta.dirname}/../services/ledger/store/migrations`);
  const engine = createLedgerEngine(pool);
  const onCommit = values.feed === "off" ? undefined : transfersFeed("probe");
  const ids = Array.from({ length: accountCount }, (_, i) => `u:${i}`);
  for (let start = 0; start < ids.length; start += 5000) {
    await engine.createAccounts(ids.slice(start, start + 5000).map((id) => create(AccountSchema, { id, ledger: 840, code: 1 })));
  }
  await engine.createAccounts([create(AccountSchema, { id: "hot", ledger: 840, code: 1 })]);
  let counter = 0;
  const transferOf = (hot: boolean) => {
    const debit = Math.floor(Math.random() * ids.length);
    const credit = (debit + 1 + Math.floor(Math.random() * (ids.length - 1))) % ids.length;
    return create(TransferSchema, {
      id: `p.${(++counter).toString().padStart(10, "0")}`,
      debitAccountId: ids[debit],
      creditAccountId: hot ? "hot" : ids[credit],
      amount: 1n,
      ledger: 840,
      code: 1,
    });
  };

  // 1. Sequential batches.
  await engine.createTransfers(Array.from({ length: batchSize }, () => transferOf(false)), { onCommit }); // warm-up
  statementTimes.clear();
  let cpu = process.cpuUsage();
  let started = performance.now();
  for (let b = 0; b < batches; b++) {
    await engine.createTransfers(Array.from({ length: batchSize }, () => transferOf(false)), { onCommit });
  }
  let seconds = (performance.now() - started) / 1000;
  cpu = process.cpuUsage(cpu);
  console.log(
    `engine, ${batches} sequential batches of ${batchSize} (feed ${values.feed}): ${Math.round((batches * batchSize) / seconds)} transfers/s, ` +
      `${((seconds * 1000) / batches).toFixed(1)} ms/batch, node CPU ${(((cpu.user + cpu.system) / 1000) / batches).toFixed(1)} ms/batch`,
  );
  for (const [kind, { count, ms }] of [...statementTimes].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`  ${(ms / batches).toFixed(2).padStart(8)} ms/batch  ${String(count).padStart(5)}x  ${kind}`);
  }

  // 2. Group commit with concurrent single-transfer submitters.
  for (const hot of [false, true]) {
    const committer = createGroupCommitter(engine, { inFlightMax, onCommit });
    const latencies: number[] = [];
    started = performance.now();
    await Promise.all(
      Array.from({ length: submitters }, async () => {
        for (let i = 0; i < perSubmitter; i++) {
          const t0 = performance.now();
          await committer.submit([transferOf(hot)]);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const stats = committer.stats();
    console.log(
      `group commit, ${submitters} submitters x ${perSubmitter} singles, in flight ${inFlightMax}, ${hot ? "hot" : "uniform"}: ` +
        `${Math.round((submitters * perSubmitter) / seconds)} transfers/s, p50 ${latencies[Math.floor(latencies.length / 2)].toFixed(1)} ms, ` +
        `p99 ${latencies[Math.floor(latencies.length * 0.99)].toFixed(1)} ms, ${(stats.transfers / stats.transactions).toFixed(1)} transfers/tx`,
    );
  }

  // 3. EXPLAIN the write statements of one batch.
  if (values.explain) {
    const client = await pool.connect();
    const explainQuery = client.query.bind(client) as (text: string, params?: unknown[]) => Promise<pg.QueryResult>;
    (client as unknown as { query: unknown }).query = async (text: string, params?: unknown[]) => {
      // The engine sends ';'-joined statements per round trip: explain each on its own (inside a
      // savepoint, rolled back), then run it for real.
      const statements = params ? [text] : text.split(/;\n|;$/).map((part) => part.trim()).filter(Boolean);
      const results: pg.QueryResult[] = [];
      for (const statement of statements) {
        if (/^(with|insert|update|select)/i.test(statement) && !/pg_notify/.test(statement)) {
          await explainQuery("savepoint probe_explain");
          const plan = await explainQuery(`explain (analyze, buffers, wal, costs off) ${statement}`, params);
          console.log(`\n-- ${statement.replace(/\s+/g, " ").slice(0, 100)}\n${plan.rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
          await explainQuery("rollback to savepoint probe_explain");
        }
        results.push(await explainQuery(statement, params));
      }
      return results.length === 1 ? results[0] : results;
    };
    const poolConnect = pool.connect.bind(pool);
    (pool as unknown as { connect: unknown }).connect = async () => client;
    try {
      await createLedgerEngine(pool).createTransfers(Array.from({ length: batchSize }, () => transferOf(false)), {
        onCommit: async (inner, committed) => {
          await onCommit?.(inner, committed);
          throw new Error("rolled back on purpose");
        },
      });
    } catch (error) {
      if ((error as Error).message !== "rolled back on purpose") throw error;
    } finally {
      (pool as unknown as { connect: unknown }).connect = poolConnect; // the engine released the client
    }
  }
  const audit = await engine.audit();
  console.log(`audit ok: ${audit.ok}${audit.ok ? "" : ` ${audit.violations.slice(0, 5).join("; ")}`}`);
} finally {
  await pool.end();
  await dropDatabase(url);
}
