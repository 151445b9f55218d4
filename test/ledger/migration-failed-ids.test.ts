/**
 * Migration 0003 on a database that has data: the failed ids of ledger.failed_transfers become
 * FAILED_ID rows of ledger.transfers with their result and time; an id that the old layout had
 * both created and remembered as failed (the race 0003 closes) stays the transfer it became.
 * The database is first migrated with 0000..0002 only (a copy of the migrations folder whose
 * journal stops there), filled, then migrated to the head.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateTransferResult as R } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { createLedgerEngine } from "../../services/ledger/store/engine.ts";
import { applyMigrations, createPool, dropDatabase, ensureDatabase, withDatabase, type Pool } from "../../services/shared/db.ts";
import { ledgerMigrationsFolder, postgresBaseUrl, transfer, uid } from "./support.ts";

const url = withDatabase(postgresBaseUrl, `ledger_test_${uid("mig").replace(/-/g, "_")}`);
let pool: Pool;
let oldFolder: string;

beforeAll(async () => {
  oldFolder = mkdtempSync(join(tmpdir(), "ledger-migrations-"));
  cpSync(ledgerMigrationsFolder, oldFolder, { recursive: true });
  const journalPath = join(oldFolder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: { tag: string }[] };
  const upTo = journal.entries.findIndex((entry) => entry.tag === "0002_batch_round_trips");
  expect(upTo).toBeGreaterThanOrEqual(0);
  journal.entries = journal.entries.slice(0, upTo + 1);
  writeFileSync(journalPath, JSON.stringify(journal));
  await ensureDatabase(url);
  pool = createPool(url, { max: 4, applicationName: "test-ledger-migration" });
  await applyMigrations(pool, "ledger", oldFolder);
});

afterAll(async () => {
  rmSync(oldFolder, { recursive: true, force: true });
  if (pool) {
    pool.on("error", () => {});
    await pool.end();
  }
  await dropDatabase(url);
});

describe("migration 0003: failed ids move into transfers", () => {
  it("carries every failed id over, keeps a created id created, and the engine answers from the new rows", async () => {
    await pool.query(`
      insert into ledger.accounts (id, ledger, code, create_time) values ('m:1', 840, 1, now()), ('m:2', 840, 1, now());
      update ledger.accounts set debits_posted = 5 where id = 'm:1';
      update ledger.accounts set credits_posted = 5 where id = 'm:2';
      insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, requested_amount, ledger, code, create_time, state)
        values ('both', 'm:1', 'm:2', 5, 5, 840, 1, now(), 1);
      insert into ledger.failed_transfers (id, result, create_time) values
        ('failed:a', ${R.EXCEEDS_CREDITS}, '2026-11-01T00:00:00.000001Z'),
        ('failed:b', ${R.DEBIT_ACCOUNT_NOT_FOUND}, '2026-11-02T00:00:00Z'),
        ('both', ${R.EXCEEDS_DEBITS}, '2026-11-03T00:00:00Z');`);

    await applyMigrations(pool, "ledger", ledgerMigrationsFolder);

    const { rows } = await pool.query(
      `select id, state, failed_result, amount::text, debit_account_id, ledger::int, create_time = $1::timestamptz as a_time
       from ledger.transfers order by id`,
      ["2026-11-01T00:00:00.000001Z"],
    );
    expect(rows).toEqual([
      { id: "both", state: 1, failed_result: null, amount: "5", debit_account_id: "m:1", ledger: 840, a_time: false },
      { id: "failed:a", state: 7, failed_result: R.EXCEEDS_CREDITS, amount: "0", debit_account_id: "", ledger: 0, a_time: true },
      { id: "failed:b", state: 7, failed_result: R.DEBIT_ACCOUNT_NOT_FOUND, amount: "0", debit_account_id: "", ledger: 0, a_time: false },
    ]);
    const { rows: tables } = await pool.query("select to_regclass('ledger.failed_transfers') as t");
    expect(tables[0].t).toBeNull();

    const engine = createLedgerEngine(pool);
    const retry = (id: string) => transfer({ id, debitAccountId: "m:1", creditAccountId: "m:2", amount: 5n });
    expect(await engine.createTransfers([retry("failed:a"), retry("failed:b"), retry("both")])).toEqual([
      R.ID_ALREADY_FAILED,
      R.ID_ALREADY_FAILED,
      R.EXISTS,
    ]);
    expect((await engine.audit()).violations).toEqual([]);
  });
});
