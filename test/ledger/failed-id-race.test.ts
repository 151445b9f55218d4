/**
 * One id, two concurrent attempts with different requests on disjoint accounts: one creates
 * the id, the other fails it on business state (EXCEEDS_CREDITS). Neither sees the other when
 * it reads, and they share no account lock, so only the primary key can order them: failed ids
 * are FAILED_ID rows of ledger.transfers, under the same key as created transfers. Whichever
 * writes second waits for the first to commit, gets 23505, is retried and answers as if the two
 * had run one after the other; the id ends up either created or failed, never both.
 *
 * The interleaving is forced with a table lock held by the test: the first attempt's write
 * round trip inserts its row for the id, then blocks on its insert into account_balances (its
 * accounts keep history) until the test lets it go, while the second attempt reads, evaluates
 * and reaches its own insert of the id (seen waiting on the first one's transaction in
 * pg_stat_activity). On the previous layout (a separate failed_transfers table) both attempts
 * committed: the id was created and remembered as failed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateAccountResult, CreateTransferResult as R } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import type { Pool } from "../../services/shared/db.ts";
import { account, createLedgerFixture, transfer, uid } from "./support.ts";

let fixture: Awaited<ReturnType<typeof createLedgerFixture>>;

beforeAll(async () => {
  fixture = await createLedgerFixture({ poolMax: 6 });
  const results = await fixture.engine.createAccounts([
    account("hist:1", { flags: { history: true } }),
    account("hist:2", { flags: { history: true } }),
    // A credit line of zero: any debit fails with EXCEEDS_CREDITS.
    account("limited", { flags: { debitsMustNotExceedCredits: true } }),
    account("other:1"),
    account("other:2"),
    account("other:3"),
  ]);
  expect(results.every((r) => r === CreateAccountResult.OK)).toBe(true);
});

afterAll(async () => {
  await fixture?.drop();
});

/**
 * Waits until a backend of the test's database waits for a lock of kind `waitEvent`: "relation"
 * (the table lock the test holds) or "transactionid" (another transaction's inserted key; with
 * disjoint accounts no row lock is waited for). pg_stat_activity.query is cut at 1 kB, so the
 * statement is not matched.
 */
async function waitForBlocked(pool: Pool, waitEvent: "relation" | "transactionid"): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await pool.query(
      `select count(*)::int as n from pg_stat_activity
       where datname = current_database() and wait_event_type = 'Lock' and wait_event = $1`,
      [waitEvent],
    );
    if (rows[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no backend waited for a ${waitEvent} lock`);
}

/**
 * Runs `start` while SHARE is held on account_balances (history inserts wait), then lets them
 * go, whether `start` succeeded or not; returns what `start` returned.
 */
async function withHistoryInsertsBlocked<T>(start: () => Promise<T>): Promise<T> {
  const client = await fixture.pool.connect();
  try {
    await client.query("begin; lock table ledger.account_balances in share mode");
    return await start();
  } finally {
    await client.query("commit");
    client.release();
  }
}

async function rowsOf(id: string): Promise<{ state: number; failed_result: number | null }[]> {
  const { rows } = await fixture.pool.query("select state, failed_result from ledger.transfers where id = $1", [id]);
  return rows;
}

describe("one id created and failed by two concurrent attempts", () => {
  it("the creation commits first: the failing attempt is retried and answers EXISTS_WITH_DIFFERENT_*", async () => {
    const id = uid("race");
    const [creating, failing] = await withHistoryInsertsBlocked(async () => {
      // Creates `id` (history accounts: its write blocks after inserting the transfer row).
      const creating = fixture.engine.createTransfers([transfer({ id, debitAccountId: "hist:1", creditAccountId: "hist:2", amount: 5n })]);
      await waitForBlocked(fixture.pool, "relation");
      // Fails `id` on business state, then tries to remember the failure under the same key.
      const failing = fixture.engine.createTransfers([transfer({ id, debitAccountId: "limited", creditAccountId: "other:1", amount: 7n })]);
      await waitForBlocked(fixture.pool, "transactionid");
      return [creating, failing];
    });

    expect(await creating).toEqual([R.OK]);
    // Serial order: the creation first, so the second attempt sees the id with other accounts.
    expect(await failing).toEqual([R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID]);
    expect(await rowsOf(id)).toEqual([{ state: 1, failed_result: null }]);
    // And again later: still the transfer, never ID_ALREADY_FAILED.
    expect(
      await fixture.engine.createTransfers([transfer({ id, debitAccountId: "limited", creditAccountId: "other:1", amount: 7n })]),
    ).toEqual([R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID]);
    const report = await fixture.engine.audit();
    expect(report.violations).toEqual([]);
  });

  it("the failure commits first: the creating attempt is retried and answers ID_ALREADY_FAILED", async () => {
    const id = uid("race");
    const [failing, creating] = await withHistoryInsertsBlocked(async () => {
      // One batch: a transfer between history accounts (so its write blocks on the history
      // insert, after the failed id's row) and `id`, which fails with EXCEEDS_CREDITS.
      const failing = fixture.engine.createTransfers([
        transfer({ id: uid("ok"), debitAccountId: "hist:1", creditAccountId: "hist:2", amount: 1n }),
        transfer({ id, debitAccountId: "limited", creditAccountId: "other:1", amount: 7n }),
      ]);
      await waitForBlocked(fixture.pool, "relation");
      // Creates `id` on accounts disjoint from the failing batch's (no row lock orders the
      // two): its insert waits for the failed id's row.
      const creating = fixture.engine.createTransfers([transfer({ id, debitAccountId: "other:2", creditAccountId: "other:3", amount: 5n })]);
      await waitForBlocked(fixture.pool, "transactionid");
      return [failing, creating];
    });

    expect(await failing).toEqual([R.OK, R.EXCEEDS_CREDITS]);
    expect(await creating).toEqual([R.ID_ALREADY_FAILED]);
    expect(await rowsOf(id)).toEqual([{ state: 7, failed_result: R.EXCEEDS_CREDITS }]);
    // The remembered failure carries no money: no account moved for it.
    const balances = await fixture.pool.query(
      "select id, debits_posted::text, credits_posted::text from ledger.accounts where id in ('other:1', 'other:2', 'other:3', 'limited') order by id",
    );
    expect(balances.rows).toEqual([
      { id: "limited", debits_posted: "0", credits_posted: "0" },
      { id: "other:1", debits_posted: "0", credits_posted: "0" },
      { id: "other:2", debits_posted: "0", credits_posted: "0" },
      { id: "other:3", debits_posted: "0", credits_posted: "0" },
    ]);
    expect(await fixture.engine.lookupTransfers([id])).toEqual([]);
    const report = await fixture.engine.audit();
    expect(report.violations).toEqual([]);
  });

  it("a remembered failure is not a hold: posting it is PENDING_TRANSFER_NOT_FOUND", async () => {
    const id = uid("failed-hold");
    expect(
      await fixture.engine.createTransfers([
        transfer({ id, debitAccountId: "limited", creditAccountId: "other:1", amount: 3n, flags: { pending: true } }),
      ]),
    ).toEqual([R.EXCEEDS_CREDITS]);
    expect(
      await fixture.engine.createTransfers([transfer({ id: uid("post"), pendingId: id, flags: { postPendingTransfer: true } })]),
    ).toEqual([R.PENDING_TRANSFER_NOT_FOUND]);
    const listed = await fixture.engine.listAccountTransfers({ accountId: "limited" });
    expect(listed.transfers.map((t) => t.id)).not.toContain(id);
  });

  it("a FAILED_ID row that carries money is refused by the database", async () => {
    await expect(
      fixture.pool.query(
        `insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, requested_amount, ledger, code,
           create_time, state, failed_result) values ('bad-failed', 'other:1', 'other:2', 5, 5, 840, 1, now(), 7, 34)`,
      ),
    ).rejects.toThrow(/transfers_failed_id_carries_nothing/);
  });
});
