/**
 * Reporting read models (PostgreSQL schema "reporting"), built only from events.
 *
 * daily_summaries  per merchant x business date x currency: counters and volumes (minor units)
 * daily_declines   per merchant x business date x currency x ISO 8583 code: decline counts
 * transactions     per authorization: the furthest-along snapshot seen; change_seq (from the
 *                  transaction_changes sequence) orders updates for StreamTransactions
 * inbox / dead_letters  the consumer's processed event ids and parked events (services/shared)
 *
 * Business dates are text YYYY-MM-DD (checked), so pg never turns them into local-time Dates.
 * Migrations: `npx drizzle-kit generate --config services/reporting/drizzle.config.ts`.
 */
import { sql } from "drizzle-orm";
import { bigint, check, index, integer, pgSchema, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { deadLetterTable, inboxTable } from "../../shared/outbox-table.ts";

export const reportingSchema = pgSchema("reporting");

const minor = (name: string) => bigint(name, { mode: "bigint" }).notNull().default(sql`0`);

export const dailySummaries = reportingSchema.table(
  "daily_summaries",
  {
    merchantId: text("merchant_id").notNull(),
    businessDate: text("business_date").notNull(),
    currencyCode: text("currency_code").notNull(),
    authorizationCount: minor("authorization_count"),
    approvedCount: minor("approved_count"),
    declinedCount: minor("declined_count"),
    fraudDeclinedCount: minor("fraud_declined_count"),
    approvedAmountMinor: minor("approved_amount_minor"),
    capturedAmountMinor: minor("captured_amount_minor"),
    refundedAmountMinor: minor("refunded_amount_minor"),
    releasedAmountMinor: minor("released_amount_minor"),
    settledGrossMinor: minor("settled_gross_minor"),
    settledFeesMinor: minor("settled_fees_minor"),
    settledNetMinor: minor("settled_net_minor"),
    updateTime: timestamp("update_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.merchantId, table.businessDate, table.currencyCode] }),
    index("daily_summaries_date_idx").on(table.businessDate),
    check("daily_summaries_date_format", sql`${table.businessDate} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`),
  ],
);

export const dailyDeclines = reportingSchema.table(
  "daily_declines",
  {
    merchantId: text("merchant_id").notNull(),
    businessDate: text("business_date").notNull(),
    currencyCode: text("currency_code").notNull(),
    responseCode: text("response_code").notNull(),
    declineCount: minor("decline_count"),
  },
  (table) => [primaryKey({ columns: [table.merchantId, table.businessDate, table.currencyCode, table.responseCode] })],
);

export const transactionChanges = reportingSchema.sequence("transaction_changes");

export const transactions = reportingSchema.table(
  "transactions",
  {
    authorizationId: text("authorization_id").primaryKey(),
    merchantId: text("merchant_id").notNull(),
    partnerId: text("partner_id").notNull(),
    businessDate: text("business_date").notNull(),
    currencyCode: text("currency_code").notNull(),
    amountMinor: minor("amount_minor"),
    capturedAmountMinor: minor("captured_amount_minor"),
    refundedAmountMinor: minor("refunded_amount_minor"),
    state: text("state").notNull(),
    stateRank: integer("state_rank").notNull(),
    responseCode: text("response_code").notNull(),
    eventTime: timestamp("event_time", { withTimezone: true, precision: 6 }).notNull(),
    occurTime: timestamp("occur_time", { withTimezone: true, precision: 6 }).notNull(),
    progressMinor: minor("progress_minor"),
    changeSeq: bigint("change_seq", { mode: "bigint" }).notNull(),
    updateTime: timestamp("update_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index("transactions_merchant_idx").on(table.merchantId, table.eventTime.desc(), table.authorizationId.desc()),
    index("transactions_change_idx").on(table.changeSeq),
  ],
);

export const inbox = inboxTable(reportingSchema);
export const deadLetters = deadLetterTable(reportingSchema);
