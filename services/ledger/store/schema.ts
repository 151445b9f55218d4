/**
 * Ledger tables (PostgreSQL schema "ledger"), modelled on TigerBeetle's Account and Transfer.
 *
 * Money columns are int8 minor units, read as bigint (drizzle mode "bigint", and
 * services/shared/db.ts makes pg return every int8 as bigint). Times are timestamptz with
 * microsecond precision; the engine writes them from exact integer microseconds.
 *
 * Its only relative import is the shared outbox table (the change feed), which drizzle-kit loads.
 * Migrations: `npx drizzle-kit generate --config services/ledger/drizzle.config.ts`.
 */
import { sql } from "drizzle-orm";
import { outboxTable } from "../../shared/outbox-table.ts";
import {
  bigint,
  boolean,
  check,
  index,
  pgSchema,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

export const ledgerSchema = pgSchema("ledger");

/** The change feed's transactional outbox (services/shared/outbox.ts relays it to JetStream). */
export const outbox = outboxTable(ledgerSchema);

/** TransferState values as stored in transfers.state (same numbers as ledger.proto TransferState). */
export const transferStateStored = {
  posted: 1,
  pending: 2,
  pendingPosted: 3,
  pendingVoided: 4,
  pendingExpired: 5,
  voiding: 6,
} as const;

/**
 * One row per account. Balances are absolute values written by the engine while the row is
 * locked (SELECT ... FOR UPDATE); each is 0..2^63-1 (the CHECKs catch a bug, never a business case).
 */
export const accounts = ledgerSchema.table(
  "accounts",
  {
    id: text("id").primaryKey(),
    /** uint32 ledger number (ISO 4217 numeric code by convention). int8 so all of uint32 fits. */
    ledger: bigint("ledger", { mode: "number" }).notNull(),
    /** uint32 account kind. */
    code: bigint("code", { mode: "number" }).notNull(),
    flagDebitsMustNotExceedCredits: boolean("flag_debits_must_not_exceed_credits").notNull().default(false),
    flagCreditsMustNotExceedDebits: boolean("flag_credits_must_not_exceed_debits").notNull().default(false),
    flagHistory: boolean("flag_history").notNull().default(false),
    flagClosed: boolean("flag_closed").notNull().default(false),
    userData: text("user_data").notNull().default(""),
    debitsPending: bigint("debits_pending", { mode: "bigint" }).notNull().default(sql`0`),
    debitsPosted: bigint("debits_posted", { mode: "bigint" }).notNull().default(sql`0`),
    creditsPending: bigint("credits_pending", { mode: "bigint" }).notNull().default(sql`0`),
    creditsPosted: bigint("credits_posted", { mode: "bigint" }).notNull().default(sql`0`),
    createTime: timestamp("create_time", { withTimezone: true, precision: 6 }).notNull(),
  },
  (table) => [
    check("accounts_debits_pending_non_negative", sql`${table.debitsPending} >= 0`),
    check("accounts_debits_posted_non_negative", sql`${table.debitsPosted} >= 0`),
    check("accounts_credits_pending_non_negative", sql`${table.creditsPending} >= 0`),
    check("accounts_credits_posted_non_negative", sql`${table.creditsPosted} >= 0`),
    check(
      "accounts_flags_mutually_exclusive",
      sql`not (${table.flagDebitsMustNotExceedCredits} and ${table.flagCreditsMustNotExceedDebits})`,
    ),
  ],
);

/**
 * One row per created transfer (immutable, except that a hold's state and resolve_time change
 * exactly once: PENDING -> PENDING_POSTED | PENDING_VOIDED | PENDING_EXPIRED).
 *
 * debit/credit/ledger/code hold the resolved values (for post/void: the hold's). What the client
 * sent is kept for the `exists` comparison: `defaulted_fields` has bit 1 debit_account_id,
 * 2 credit_account_id, 4 ledger, 8 code set when the client left that field empty, and
 * `requested_amount` is the amount as sent (2^63-1 for "post the whole hold").
 *
 * How a row contributes to balances (audit and point-in-time balances rely on this):
 * - state PENDING: amount to debits_pending / credits_pending while the hold is open;
 * - state POSTED (plain transfer or post record): amount to debits_posted / credits_posted;
 * - PENDING_POSTED / PENDING_VOIDED / PENDING_EXPIRED holds and VOIDING records: nothing now
 *   (a hold contributed to *_pending during [create_time, resolve_time));
 * - state 7 (FAILED_ID, store-only, not a TransferState): nothing ever. The id failed on
 *   business state (CreateTransferResult DEBIT_ACCOUNT_NOT_FOUND and later, TigerBeetle's
 *   "transient" results) and can never succeed: a later attempt returns ID_ALREADY_FAILED.
 *   `failed_result` holds the first failure's result; the row carries no accounts, no amount
 *   and ledger 0 (transfers_failed_id_carries_nothing). Failed ids live in this table, under
 *   the same primary key as created transfers, so a concurrent attempt that creates the id and
 *   one that fails it conflict on the key (one waits for the other, gets 23505 and is retried
 *   against the committed row) instead of both committing.
 */
export const transfers = ledgerSchema.table(
  "transfers",
  {
    id: text("id").primaryKey(),
    debitAccountId: text("debit_account_id").notNull(),
    creditAccountId: text("credit_account_id").notNull(),
    amount: bigint("amount", { mode: "bigint" }).notNull(),
    requestedAmount: bigint("requested_amount", { mode: "bigint" }).notNull(),
    pendingId: text("pending_id"),
    ledger: bigint("ledger", { mode: "number" }).notNull(),
    code: bigint("code", { mode: "number" }).notNull(),
    flagLinked: boolean("flag_linked").notNull().default(false),
    flagPending: boolean("flag_pending").notNull().default(false),
    flagPostPendingTransfer: boolean("flag_post_pending_transfer").notNull().default(false),
    flagVoidPendingTransfer: boolean("flag_void_pending_transfer").notNull().default(false),
    defaultedFields: smallint("defaulted_fields").notNull().default(0),
    timeoutSeconds: bigint("timeout_seconds", { mode: "number" }).notNull().default(0),
    userData: text("user_data").notNull().default(""),
    createTime: timestamp("create_time", { withTimezone: true, precision: 6 }).notNull(),
    /** Holds with a timeout only: create_time + timeout_seconds. */
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 6 }),
    /** Holds only: when the hold left PENDING. */
    resolveTime: timestamp("resolve_time", { withTimezone: true, precision: 6 }),
    state: smallint("state").notNull(),
    /** FAILED_ID rows only: the CreateTransferResult number of the first failure. */
    failedResult: smallint("failed_result"),
  },
  (table) => [
    // An account's transfers, by time (ListAccountTransfers, balance as of a time). FAILED_ID
    // rows are left out (every query by account says `state <> 7`): they carry no accounts.
    index("transfers_debit_account_create_time")
      .on(table.debitAccountId, table.createTime, table.id)
      .where(sql`${table.state} <> 7`),
    index("transfers_credit_account_create_time")
      .on(table.creditAccountId, table.createTime, table.id)
      .where(sql`${table.state} <> 7`),
    index("transfers_pending_expires_at")
      .on(table.expiresAt)
      .where(sql`${table.state} = 2 and ${table.expiresAt} is not null`),
    // A hold is resolved at most once: at most one post/void transfer names it.
    uniqueIndex("transfers_pending_id_unique").on(table.pendingId).where(sql`${table.pendingId} is not null`),
    check("transfers_amount_non_negative", sql`${table.amount} >= 0`),
    check("transfers_state_known", sql`${table.state} between 1 and 7`),
    check(
      "transfers_failed_id_carries_nothing",
      sql`(${table.state} = 7) = (${table.failedResult} is not null) and (${table.state} <> 7 or (${table.amount} = 0
        and ${table.requestedAmount} = 0 and ${table.debitAccountId} = '' and ${table.creditAccountId} = ''
        and ${table.pendingId} is null and ${table.ledger} = 0))`,
    ),
  ],
);

/**
 * Balance snapshots of accounts with the history flag: one row per (account, transfer that
 * changed it). An expiry writes a row whose transfer_id is the expired hold's id.
 */
export const accountBalances = ledgerSchema.table(
  "account_balances",
  {
    accountId: text("account_id").notNull(),
    seq: bigint("seq", { mode: "bigint" }).generatedAlwaysAsIdentity(),
    transferId: text("transfer_id").notNull(),
    createTime: timestamp("create_time", { withTimezone: true, precision: 6 }).notNull(),
    debitsPending: bigint("debits_pending", { mode: "bigint" }).notNull(),
    debitsPosted: bigint("debits_posted", { mode: "bigint" }).notNull(),
    creditsPending: bigint("credits_pending", { mode: "bigint" }).notNull(),
    creditsPosted: bigint("credits_posted", { mode: "bigint" }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.accountId, table.seq] }),
    index("account_balances_account_create_time").on(table.accountId, table.createTime),
  ],
);
