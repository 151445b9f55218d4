/**
 * Row <-> domain mapping for the ledger tables, and exact time conversion.
 * Times travel to PostgreSQL as ISO-8601 strings with 6 fraction digits and come back as
 * int8 microseconds (`extract(epoch ...)` is numeric, so exact): no float anywhere.
 */
import {
  TransferState,
  type AccountState,
  type BalanceSnapshot,
  type StoredTransfer,
} from "../domain/model.ts";

/** µs since epoch -> "YYYY-MM-DDTHH:MM:SS.ffffffZ" (exact). */
export function isoOfMicros(timeUs: bigint): string {
  const ms = timeUs / 1000n - (timeUs % 1000n < 0n ? 1n : 0n);
  const micros = timeUs - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString(); // time, not money: ms fit a double exactly
  return `${iso.slice(0, 23)}${micros.toString().padStart(3, "0")}Z`;
}

/** SQL expression reading a timestamptz column as int8 µs since epoch. */
export function microsOf(column: string): string {
  return `(extract(epoch from ${column}) * 1000000)::int8`;
}

/** Current wall-clock time in µs since epoch. */
export function wallClockMicros(): bigint {
  return BigInt(Date.now()) * 1000n;
}

/** int8 column holding a uint32 (ledger, code, timeout) -> number, range-checked. */
export function uint32Of(value: bigint | number): number {
  const big = typeof value === "bigint" ? value : BigInt(value);
  if (big < 0n || big > 0xffff_ffffn) throw new Error(`ledger bug: ${big} is not a uint32`);
  return Number(big);
}

export const accountColumns = `id, ledger, code, flag_debits_must_not_exceed_credits, flag_credits_must_not_exceed_debits,
  flag_history, flag_closed, user_data, debits_pending, debits_posted, credits_pending, credits_posted,
  ${microsOf("create_time")} as create_time_us`;

/**
 * `transfers.state` of a failed id (store-only, not a TransferState): the row remembers that the
 * id failed on business state and carries nothing else (schema.ts). Every read of transfers as
 * money excludes it.
 */
export const failedIdState = 7;

/** Select list of a transfer row; `alias` qualifies the columns (e.g. "t."). */
export function transferColumnsOf(alias = ""): string {
  const a = alias;
  return `${a}id, ${a}debit_account_id, ${a}credit_account_id, ${a}amount, ${a}requested_amount,
  coalesce(${a}pending_id, '') as pending_id, ${a}ledger, ${a}code, ${a}flag_linked, ${a}flag_pending,
  ${a}flag_post_pending_transfer, ${a}flag_void_pending_transfer, ${a}defaulted_fields, ${a}timeout_seconds,
  ${a}user_data, ${microsOf(`${a}create_time`)} as create_time_us, ${microsOf(`${a}expires_at`)} as expires_at_us,
  ${microsOf(`${a}resolve_time`)} as resolve_time_us, ${a}state`;
}

export const transferColumns = transferColumnsOf();

/** Row of `select ${accountColumns}` -> AccountState. */
export function accountOfRow(row: Record<string, unknown>): AccountState {
  return {
    id: row.id as string,
    ledger: uint32Of(row.ledger as bigint),
    code: uint32Of(row.code as bigint),
    flags: {
      debitsMustNotExceedCredits: row.flag_debits_must_not_exceed_credits as boolean,
      creditsMustNotExceedDebits: row.flag_credits_must_not_exceed_debits as boolean,
      history: row.flag_history as boolean,
      closed: row.flag_closed as boolean,
    },
    userData: row.user_data as string,
    debitsPending: row.debits_pending as bigint,
    debitsPosted: row.debits_posted as bigint,
    creditsPending: row.credits_pending as bigint,
    creditsPosted: row.credits_posted as bigint,
    createTimeUs: row.create_time_us as bigint,
  };
}

/** Row of `select ${transferColumns}` -> StoredTransfer. */
export function transferOfRow(row: Record<string, unknown>): StoredTransfer {
  return {
    id: row.id as string,
    debitAccountId: row.debit_account_id as string,
    creditAccountId: row.credit_account_id as string,
    amount: row.amount as bigint,
    requestedAmount: row.requested_amount as bigint,
    pendingId: row.pending_id as string,
    ledger: uint32Of(row.ledger as bigint),
    code: uint32Of(row.code as bigint),
    flags: {
      linked: row.flag_linked as boolean,
      pending: row.flag_pending as boolean,
      postPendingTransfer: row.flag_post_pending_transfer as boolean,
      voidPendingTransfer: row.flag_void_pending_transfer as boolean,
    },
    defaultedFields: row.defaulted_fields as number,
    timeoutSeconds: uint32Of(row.timeout_seconds as bigint),
    userData: row.user_data as string,
    createTimeUs: row.create_time_us as bigint,
    expiresAtUs: (row.expires_at_us as bigint | null) ?? null,
    resolveTimeUs: (row.resolve_time_us as bigint | null) ?? null,
    state: row.state as TransferState,
  };
}

/** Row of account_balances -> BalanceSnapshot. */
export function snapshotOfRow(row: Record<string, unknown>): BalanceSnapshot {
  return {
    accountId: row.account_id as string,
    transferId: row.transfer_id as string,
    timeUs: row.create_time_us as bigint,
    debitsPending: row.debits_pending as bigint,
    debitsPosted: row.debits_posted as bigint,
    creditsPending: row.credits_pending as bigint,
    creditsPosted: row.credits_posted as bigint,
  };
}
