/**
 * Settlement tables (PostgreSQL schema "settlement").
 *
 * business_days: one row per (business_date, currency_code) being closed. Created together with
 *   the day's planned batches (the plan is frozen before any money moves, so a re-run after a
 *   crash settles exactly the same amounts); close_time is set, in the same transaction that
 *   marks the batches settled and enqueues their events, once the ledger has them.
 * batches: one row per merchant per business day; amounts are int8 minor units (bigint).
 *   state: 'planned' (frozen, ledger not yet confirmed; invisible to reads), 'settled',
 *   'reconciled'.
 * outbox: the shared transactional outbox (SettlementBatchSettled events).
 *
 * No relative imports except the shared tables: drizzle-kit loads this file on its own.
 * Migrations: `npx drizzle-kit generate --config services/settlement/drizzle.config.ts`.
 */
import { sql } from "drizzle-orm";
import { bigint, check, index, integer, pgSchema, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { outboxTable } from "../../shared/outbox-table.ts";

export const settlementSchema = pgSchema("settlement");

const money = (name: string) => bigint(name, { mode: "bigint" }).notNull();

export const businessDays = settlementSchema.table(
  "business_days",
  {
    businessDate: text("business_date").notNull(),
    currencyCode: text("currency_code").notNull(),
    planTime: timestamp("plan_time", { withTimezone: true }).notNull().defaultNow(),
    /** When the day was closed (batches settled, events enqueued); null while closing. */
    closeTime: timestamp("close_time", { withTimezone: true }),
    batchCount: integer("batch_count").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.businessDate, table.currencyCode] }),
    check("business_days_date_format", sql`${table.businessDate} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`),
  ],
);

export const batches = settlementSchema.table(
  "batches",
  {
    id: text("id").primaryKey(),
    businessDate: text("business_date").notNull(),
    currencyCode: text("currency_code").notNull(),
    merchantId: text("merchant_id").notNull(),
    partnerId: text("partner_id").notNull(),
    gross: money("gross"),
    refunds: money("refunds"),
    interchange: money("interchange"),
    schemeFees: money("scheme_fees"),
    markup: money("markup"),
    fees: money("fees"),
    net: money("net"),
    captureCount: money("capture_count"),
    refundCount: money("refund_count"),
    state: text("state").notNull(),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
    settleTime: timestamp("settle_time", { withTimezone: true }),
    reconcileTime: timestamp("reconcile_time", { withTimezone: true }),
  },
  (table) => [
    uniqueIndex("batches_date_merchant_idx").on(table.businessDate, table.merchantId),
    index("batches_merchant_idx").on(table.merchantId, table.id),
    check("batches_state", sql`${table.state} in ('planned', 'settled', 'reconciled')`),
    check("batches_fees_sum", sql`${table.fees} = ${table.interchange} + ${table.schemeFees} + ${table.markup}`),
    check("batches_net", sql`${table.net} = ${table.gross} - ${table.refunds} - ${table.fees}`),
    check("batches_non_negative", sql`${table.gross} >= 0 and ${table.refunds} >= 0 and ${table.fees} >= 0 and ${table.captureCount} >= 0 and ${table.refundCount} >= 0`),
  ],
);

export const outbox = outboxTable(settlementSchema);
