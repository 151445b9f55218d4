import { sql } from "drizzle-orm";
import { bigint, boolean, customType, index, integer, pgSchema, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { outboxTable } from "../../shared/outbox-table.ts";

// "authorization" is a reserved word in SQL, so the service's schema is "authz".
export const authz = pgSchema("authz");

const bytea = customType<{ data: Uint8Array; driverData: Buffer }>({
  dataType: () => "bytea",
  toDriver: (value) => Buffer.from(value),
  fromDriver: (value) => new Uint8Array(value),
});

/** Merchants and their ledger payable account. */
export const merchants = authz.table("merchants", {
  id: text("id").primaryKey(),
  partnerId: text("partner_id").notNull(),
  name: text("name").notNull(),
  currencyCode: text("currency_code").notNull(),
  payableAccountId: text("payable_account_id").notNull(),
  createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
});

/** Card credit lines by token (HMAC-SHA256 of the PAN); the PAN is never stored. */
export const cardAccounts = authz.table("card_accounts", {
  cardToken: text("card_token").primaryKey(),
  cardLast4: text("card_last4").notNull(),
  currencyCode: text("currency_code").notNull(),
  creditLimitMinor: bigint("credit_limit_minor", { mode: "bigint" }).notNull(),
  ledgerAccountId: text("ledger_account_id").notNull(),
  createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
});

/** Authorizations with their lifecycle totals (minor units of currency_code). */
export const authorizations = authz.table(
  "authorizations",
  {
    id: text("id").primaryKey(),
    merchantId: text("merchant_id").notNull(),
    partnerId: text("partner_id").notNull(),
    cardToken: text("card_token").notNull(),
    cardLast4: text("card_last4").notNull(),
    currencyCode: text("currency_code").notNull(),
    amountMinor: bigint("amount_minor", { mode: "bigint" }).notNull(),
    capturedMinor: bigint("captured_minor", { mode: "bigint" }).notNull().default(sql`0`),
    refundedMinor: bigint("refunded_minor", { mode: "bigint" }).notNull().default(sql`0`),
    state: text("state").notNull(),
    responseCode: text("response_code").notNull(),
    declineReason: text("decline_reason").notNull().default(""),
    merchantAdvice: text("merchant_advice").notNull().default(""),
    fraudAssessmentId: text("fraud_assessment_id").notNull().default(""),
    fraudScore: integer("fraud_score").notNull().default(0),
    fraudDeclined: boolean("fraud_declined").notNull().default(false),
    fraudReasons: text("fraud_reasons").array().notNull().default(sql`'{}'::text[]`),
    fraudFallbackUsed: boolean("fraud_fallback_used").notNull().default(false),
    holdTransferId: text("hold_transfer_id").notNull().default(""),
    holdSequence: integer("hold_sequence").notNull().default(0),
    merchantCategory: text("merchant_category").notNull(),
    cardPresent: boolean("card_present").notNull(),
    businessDate: text("business_date").notNull(),
    eventTime: timestamp("event_time", { withTimezone: true }).notNull(),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
    expireTime: timestamp("expire_time", { withTimezone: true }).notNull(),
  },
  (table) => [
    index("authorizations_open_expiry_idx").on(table.expireTime).where(sql`state in ('AUTHORIZED', 'PARTIALLY_CAPTURED')`),
    index("authorizations_merchant_idx").on(table.merchantId, table.createTime),
  ],
);

/** Captures and refunds: the clearing (presentment) file, by business date. */
export const operations = authz.table(
  "operations",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    authorizationId: text("authorization_id").notNull(),
    merchantId: text("merchant_id").notNull(),
    partnerId: text("partner_id").notNull(),
    currencyCode: text("currency_code").notNull(),
    amountMinor: bigint("amount_minor", { mode: "bigint" }).notNull(),
    businessDate: text("business_date").notNull(),
    eventTime: timestamp("event_time", { withTimezone: true }).notNull(),
    merchantCategory: text("merchant_category").notNull(),
    cardPresent: boolean("card_present").notNull(),
    ledgerTransferId: text("ledger_transfer_id").notNull(),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index("operations_business_date_idx").on(table.businessDate, table.id)],
);

/**
 * Idempotency keys, scoped by (method, key). state: in_flight (claimed, effect running),
 * retryable (a dependency's outcome is unknown; the next identical request takes over with the
 * same resource id, so ledger transfer ids repeat and cannot double-apply), completed
 * (response stored). Kept: nothing prunes them yet, so the promised 24 h hold trivially.
 */
export const idempotencyKeys = authz.table(
  "idempotency_keys",
  {
    method: text("method").notNull(),
    key: text("key").notNull(),
    requestHash: bytea("request_hash").notNull(),
    state: text("state").notNull(),
    resourceId: text("resource_id").notNull(),
    response: bytea("response"),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
    updateTime: timestamp("update_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.method, table.key] })],
);

export const outbox = outboxTable(authz);
