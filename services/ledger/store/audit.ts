/**
 * The ledger audit: every invariant checked in SQL on one consistent snapshot
 * (REPEATABLE READ, READ ONLY). Sums are numeric (exact, no int8 overflow) and reported as
 * decimal strings.
 *
 * Invariants (TigerBeetle's double-entry guarantees, docs/coding/two-phase-transfers.md):
 * 1. per ledger: sum(debits_pending) = sum(credits_pending) and sum(debits_posted) = sum(credits_posted);
 * 2. each account's four balances equal the sum of its transfers recomputed from scratch:
 *    a hold in state PENDING adds its amount to *_pending; a transfer in state POSTED (plain or a
 *    post record) adds its amount to *_posted; resolved holds (PENDING_POSTED/VOIDED/EXPIRED)
 *    and VOIDING records add nothing;
 * 3. no account breaks its flags (limits count pending amounts) or leaves 0..2^63-1;
 * 4. every hold is resolved at most once, and its state agrees with its post/void record
 *    (PENDING_POSTED: one post of at most its amount; PENDING_VOIDED: one void; PENDING and
 *    PENDING_EXPIRED: none); every post/void names an existing hold;
 * 5. each transfer's accounts exist and share its ledger;
 * 6. (no id is both a transfer and a remembered failure: structural since failed ids became
 *    FAILED_ID rows under the transfers primary key, which carry no money by a CHECK constraint;
 *    every query below skips them);
 * 7. no PENDING hold is overdue (expires_at <= now) by more than the grace (see runAudit).
 */
import type { Pool } from "../../shared/db.ts";
import { TransferState } from "../domain/model.ts";
import { failedIdState, isoOfMicros } from "./rows.ts";

/** One ledger's totals (decimal strings of minor units, exact). */
export interface LedgerTotalsValue {
  ledger: number;
  debitsPending: string;
  debitsPosted: string;
  creditsPending: string;
  creditsPosted: string;
  accountCount: bigint;
  transferCount: bigint;
}

export interface AuditReport {
  ok: boolean;
  totals: LedgerTotalsValue[];
  violations: string[];
  overduePendingCount: bigint;
}

const violationsShownMax = 100;

/**
 * The audit's grace for overdue holds when the expiry loop runs every `expiryIntervalMs`:
 * five intervals (a run releases at most 8,190 holds, so a backlog takes several), at least
 * 10 s. µs.
 */
export function overdueGraceFor(expiryIntervalMs: number): bigint {
  return BigInt(Math.max(10_000, 5 * expiryIntervalMs)) * 1_000n;
}

/**
 * Runs the audit for `ledger` (0 = all) at `nowUs`. Every PENDING hold past its expires_at is
 * counted in overduePendingCount; it is a violation only when it is more than `overdueGraceUs`
 * past it (the expiry loop runs every LEDGER_EXPIRY_INTERVAL_MS, so a hold can be overdue for
 * up to about that long while everything works; 0 = every overdue hold is a violation).
 */
export async function runAudit(pool: Pool, ledger: number, nowUs: bigint, overdueGraceUs = 0n): Promise<AuditReport> {
  const client = await pool.connect();
  const violations: string[] = [];
  const add = (rows: Record<string, unknown>[], describe: (row: Record<string, unknown>) => string) => {
    for (const row of rows.slice(0, violationsShownMax)) violations.push(describe(row));
    if (rows.length > violationsShownMax) violations.push(`... and ${rows.length - violationsShownMax} more of the same kind`);
  };
  const P = TransferState.PENDING;
  const POSTED = TransferState.POSTED;
  // $1 = ledger (0 = all).
  const accountScope = "($1::int8 = 0 or a.ledger = $1::int8)";
  // Transfers as money: FAILED_ID rows (remembered failures, no accounts, ledger 0) excluded.
  const transferScope = `(t.state <> ${failedIdState} and ($1::int8 = 0 or t.ledger = $1::int8))`;
  try {
    await client.query("begin isolation level repeatable read read only");

    const totals = await client.query(
      `select a.ledger, sum(a.debits_pending)::text as dp, sum(a.debits_posted)::text as dpo,
         sum(a.credits_pending)::text as cp, sum(a.credits_posted)::text as cpo, count(*)::int8 as accounts,
         (select count(*) from ledger.transfers t where t.ledger = a.ledger and t.state <> ${failedIdState})::int8 as transfers
       from ledger.accounts a where ${accountScope} group by a.ledger order by a.ledger`,
      [ledger],
    );
    const totalsOut: LedgerTotalsValue[] = totals.rows.map((row) => ({
      ledger: Number(row.ledger as bigint), // a uint32 ledger number, not money
      debitsPending: row.dp as string,
      debitsPosted: row.dpo as string,
      creditsPending: row.cp as string,
      creditsPosted: row.cpo as string,
      accountCount: row.accounts as bigint,
      transferCount: row.transfers as bigint,
    }));
    for (const t of totalsOut) {
      if (t.debitsPending !== t.creditsPending) {
        violations.push(`ledger ${t.ledger}: sum debits_pending ${t.debitsPending} != sum credits_pending ${t.creditsPending}`);
      }
      if (t.debitsPosted !== t.creditsPosted) {
        violations.push(`ledger ${t.ledger}: sum debits_posted ${t.debitsPosted} != sum credits_posted ${t.creditsPosted}`);
      }
    }

    const recomputed = await client.query(
      `with c as (
         select t.debit_account_id as account_id,
           case when t.state = ${P} then t.amount else 0 end as dp,
           case when t.state = ${POSTED} then t.amount else 0 end as dpo,
           0::int8 as cp, 0::int8 as cpo
         from ledger.transfers t where ${transferScope}
         union all
         select t.credit_account_id, 0, 0,
           case when t.state = ${P} then t.amount else 0 end,
           case when t.state = ${POSTED} then t.amount else 0 end
         from ledger.transfers t where ${transferScope}
       ), s as (
         select account_id, sum(dp) as dp, sum(dpo) as dpo, sum(cp) as cp, sum(cpo) as cpo from c group by account_id
       )
       select coalesce(a.id, s.account_id) as id, a.id is null as missing,
         a.debits_pending::text as a_dp, a.debits_posted::text as a_dpo, a.credits_pending::text as a_cp,
         a.credits_posted::text as a_cpo, coalesce(s.dp, 0)::text as s_dp, coalesce(s.dpo, 0)::text as s_dpo,
         coalesce(s.cp, 0)::text as s_cp, coalesce(s.cpo, 0)::text as s_cpo
       from (select * from ledger.accounts a where ${accountScope}) a
       full join s on s.account_id = a.id
       where a.id is null
         or a.debits_pending <> coalesce(s.dp, 0) or a.debits_posted <> coalesce(s.dpo, 0)
         or a.credits_pending <> coalesce(s.cp, 0) or a.credits_posted <> coalesce(s.cpo, 0)
       order by 1`,
      [ledger],
    );
    add(recomputed.rows, (r) =>
      r.missing
        ? `account ${r.id}: named by transfers but missing (or on another ledger)`
        : `account ${r.id}: balances (dp ${r.a_dp}, dpo ${r.a_dpo}, cp ${r.a_cp}, cpo ${r.a_cpo}) != sum of transfers (dp ${r.s_dp}, dpo ${r.s_dpo}, cp ${r.s_cp}, cpo ${r.s_cpo})`,
    );

    const flags = await client.query(
      `select a.id from ledger.accounts a where ${accountScope} and (
         (a.flag_debits_must_not_exceed_credits and a.debits_pending::numeric + a.debits_posted > a.credits_posted)
         or (a.flag_credits_must_not_exceed_debits and a.credits_pending::numeric + a.credits_posted > a.debits_posted)
         or (a.flag_debits_must_not_exceed_credits and a.flag_credits_must_not_exceed_debits)
         or least(a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted) < 0)
       order by a.id`,
      [ledger],
    );
    add(flags.rows, (r) => `account ${r.id}: balances break its flags`);

    const holds = await client.query(
      `select h.id, h.state, count(r.id)::int8 as records,
         bool_and(coalesce(
           (h.state = ${TransferState.PENDING_POSTED} and r.flag_post_pending_transfer and r.state = ${POSTED} and r.amount <= h.amount)
           or (h.state = ${TransferState.PENDING_VOIDED} and r.flag_void_pending_transfer and r.state = ${TransferState.VOIDING}),
           false)) as records_agree
       from ledger.transfers h left join ledger.transfers r on r.pending_id = h.id
       where h.flag_pending and ${transferScope.replaceAll("t.", "h.")}
       group by h.id, h.state
       having not (
         (h.state in (${P}, ${TransferState.PENDING_EXPIRED}) and count(r.id) = 0)
         or (h.state in (${TransferState.PENDING_POSTED}, ${TransferState.PENDING_VOIDED}) and count(r.id) = 1
             and bool_and(coalesce(
               (h.state = ${TransferState.PENDING_POSTED} and r.flag_post_pending_transfer and r.state = ${POSTED} and r.amount <= h.amount)
               or (h.state = ${TransferState.PENDING_VOIDED} and r.flag_void_pending_transfer and r.state = ${TransferState.VOIDING}),
               false))))
       order by h.id`,
      [ledger],
    );
    add(holds.rows, (r) => `hold ${r.id}: state ${r.state} disagrees with its ${r.records} post/void record(s)`);

    const orphans = await client.query(
      `select t.id from ledger.transfers t left join ledger.transfers h on h.id = t.pending_id
       where t.pending_id is not null and ${transferScope} and (h.id is null or not h.flag_pending)
       order by t.id`,
      [ledger],
    );
    add(orphans.rows, (r) => `transfer ${r.id}: post/void of a transfer that is not a hold`);

    const ledgers = await client.query(
      `select t.id from ledger.transfers t
       join ledger.accounts d on d.id = t.debit_account_id join ledger.accounts c on c.id = t.credit_account_id
       where ${transferScope} and (d.ledger <> t.ledger or c.ledger <> t.ledger or d.id = c.id)
       order by t.id`,
      [ledger],
    );
    add(ledgers.rows, (r) => `transfer ${r.id}: accounts not distinct or not on the transfer's ledger`);

    const overdue = await client.query(
      `select count(*)::int8 as n, count(*) filter (where t.expires_at <= $3::timestamptz)::int8 as late
       from ledger.transfers t
       where t.state = ${P} and t.expires_at is not null and t.expires_at <= $2::timestamptz and ${transferScope}`,
      [ledger, isoOfMicros(nowUs), isoOfMicros(nowUs - overdueGraceUs)],
    );
    const overduePendingCount = overdue.rows[0].n as bigint;
    const late = overdue.rows[0].late as bigint;
    if (late > 0n) {
      violations.push(
        overdueGraceUs === 0n
          ? `${late} PENDING hold(s) past their expires_at`
          : `${late} PENDING hold(s) more than ${overdueGraceUs / 1_000_000n} s past their expires_at: holds are not being expired`,
      );
    }

    await client.query("commit");
    return { ok: violations.length === 0, totals: totalsOut, violations, overduePendingCount };
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
