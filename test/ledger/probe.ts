/**
 * Throughput probe (not a test): engine batches of 1000 and group commit with 64 concurrent
 * single-transfer submitters, directly against the engine. Run:
 *   node test/ledger/probe.ts
 */
import { createGroupCommitter } from "../../services/ledger/store/group-commit.ts";
import { createLedgerEngine } from "../../services/ledger/store/engine.ts";
import { account, createLedgerTestDatabase, transfer, uid } from "./support.ts";

const db = await createLedgerTestDatabase({ poolMax: 16 });
try {
  const engine = createLedgerEngine(db.pool);
  const ids = Array.from({ length: 1000 }, (_, i) => `acct-${i}`);
  await engine.createAccounts(ids.map((id) => account(id)));
  const randomPair = () => {
    const dr = Math.floor(Math.random() * ids.length);
    const cr = (dr + 1 + Math.floor(Math.random() * (ids.length - 1))) % ids.length;
    return { debitAccountId: ids[dr], creditAccountId: ids[cr] };
  };

  // 1. Engine batches of 1000 random transfers, sequential.
  const batches = 20;
  let start = performance.now();
  for (let b = 0; b < batches; b++) {
    await engine.createTransfers(Array.from({ length: 1000 }, () => transfer({ id: uid("b"), ...randomPair(), amount: 1n })));
  }
  let seconds = (performance.now() - start) / 1000;
  console.log(`engine, batches of 1000: ${Math.round((batches * 1000) / seconds)} transfers/s (${((seconds * 1000) / batches).toFixed(1)} ms/batch)`);

  // 2. Group commit, 64 concurrent submitters each sending single transfers in a loop.
  for (const inFlightMax of [1, 2, 3, 4]) {
    for (const hot of [false, true]) {
      const committer = createGroupCommitter(engine, { inFlightMax });
      const perSubmitter = 300;
      const latencies: number[] = [];
      start = performance.now();
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          for (let i = 0; i < perSubmitter; i++) {
            const pair = hot ? { debitAccountId: ids[0], creditAccountId: ids[1 + (i % 999)] } : randomPair();
            const t0 = performance.now();
            await committer.submit([transfer({ id: uid("g"), ...pair, amount: 1n })]);
            latencies.push(performance.now() - t0);
          }
        }),
      );
      seconds = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      const stats = committer.stats();
      console.log(
        `group commit, 64 submitters x ${perSubmitter} singles, inFlight ${inFlightMax}, ${hot ? "hot account" : "random accounts"}: ` +
          `${Math.round((64 * perSubmitter) / seconds)} transfers/s, p50 ${latencies[Math.floor(latencies.length / 2)].toFixed(1)} ms, ` +
          `p99 ${latencies[Math.floor(latencies.length * 0.99)].toFixed(1)} ms, ${(stats.transfers / stats.transactions).toFixed(1)} transfers/tx`,
      );
    }
  }
  const report = await engine.audit();
  console.log(`audit ok: ${report.ok}`);
} finally {
  await db.drop();
}
