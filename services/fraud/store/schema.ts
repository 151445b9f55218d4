/**
 * Fraud tables (PostgreSQL schema "fraud").
 *
 * card_history: one row per assessed authorization, a fact ("this card attempted this amount at
 * this event time"); never updated. Velocity windows and amount profiles are read from it with
 * SQL on (card_token, event_time), so concurrent assessments of one card only add rows and can
 * never corrupt a counter.
 * assessments: the stored verdict per authorization (authorization_id unique: Assess is
 * idempotent on it).
 *
 * Money columns are int8 minor units read as bigint. This file has no relative imports on
 * purpose: drizzle-kit loads it on its own. Migrations:
 * `npx drizzle-kit generate --config services/fraud/drizzle.config.ts`.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, check, index, integer, jsonb, pgSchema, smallint, text, timestamp } from "drizzle-orm/pg-core";

export const fraudSchema = pgSchema("fraud");

/** Decision values as stored (same numbers as fraud_service.proto FraudDecision). */
export const decisionStored = { allow: 1, decline: 2 } as const;

export const cardHistory = fraudSchema.table(
  "card_history",
  {
    authorizationId: text("authorization_id").primaryKey(),
    cardToken: text("card_token").notNull(),
    merchantId: text("merchant_id").notNull().default(""),
    eventTime: timestamp("event_time", { withTimezone: true, precision: 3 }).notNull(),
    amountMinor: bigint("amount_minor", { mode: "bigint" }).notNull(),
    currencyCode: text("currency_code").notNull(),
    merchantCategory: text("merchant_category").notNull().default(""),
    cardPresent: boolean("card_present").notNull(),
    /** Score 0..1000 the attempt got (feeds RECENT_HIGH_RISK_ON_CARD). */
    score: integer("score").notNull(),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index("card_history_card_event_time_idx").on(table.cardToken, table.eventTime),
    check("card_history_amount_positive", sql`${table.amountMinor} >= 1`),
    check("card_history_score_range", sql`${table.score} between 0 and 1000`),
  ],
);

export const assessments = fraudSchema.table(
  "assessments",
  {
    id: text("id").primaryKey(),
    authorizationId: text("authorization_id").notNull().unique(),
    cardToken: text("card_token").notNull(),
    decision: smallint("decision").notNull(),
    score: integer("score").notNull(),
    reasons: text("reasons").array().notNull(),
    /** The scorer's features (bigint values as decimal strings). */
    features: jsonb("features").$type<Record<string, unknown>>().notNull(),
    cardCount1h: integer("card_count_1h").notNull(),
    cardCount24h: integer("card_count_24h").notNull(),
    cardMeanAmountMinor: bigint("card_mean_amount_minor", { mode: "bigint" }).notNull(),
    distanceKm: integer("distance_km").notNull(),
    modelVersion: text("model_version").notNull(),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    check("assessments_decision_known", sql`${table.decision} in (1, 2)`),
    check("assessments_score_range", sql`${table.score} between 0 and 1000`),
  ],
);
