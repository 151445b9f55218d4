/**
 * Notification tables (PostgreSQL schema "notification").
 *
 * endpoints        a partner's webhook receivers with their signing secret(s)
 * event_bodies     the canonical Protobuf JSON of each event that has at least one delivery
 *                  (stored once, signed and POSTed per delivery)
 * deliveries       one event to one endpoint: state, attempts, next attempt; the dispatcher claims
 *                  due rows with FOR UPDATE SKIP LOCKED and a lease (claim_token + next_attempt_time)
 * delivery_attempts one row per HTTP attempt (audit; GetDeliveryStats.attempt_count)
 * inbox / dead_letters  the consumer's processed event ids and parked events (services/shared)
 *
 * This file has no relative imports except the shared table helpers: drizzle-kit loads it.
 * Migrations: `npx drizzle-kit generate --config services/notification/drizzle.config.ts`.
 */
import { sql } from "drizzle-orm";
import { bigserial, check, index, integer, pgSchema, smallint, text, timestamp, unique } from "drizzle-orm/pg-core";
import { deadLetterTable, inboxTable } from "../../shared/outbox-table.ts";

export const notificationSchema = pgSchema("notification");

/** deliveries.state values: the same numbers as notification_service.proto DeliveryState. */
export const deliveryStateStored = { pending: 1, succeeded: 2, failed: 3 } as const;

export const endpoints = notificationSchema.table(
  "endpoints",
  {
    id: text("id").primaryKey(),
    partnerId: text("partner_id").notNull(),
    url: text("url").notNull(),
    /** HMAC key; stored in clear because signing needs it (encrypt the column/volume in production). */
    secret: text("secret").notNull(),
    /** Previous secret during a rotation: requests carry a second v1 signed with it. */
    previousSecret: text("previous_secret"),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index("endpoints_partner_idx").on(table.partnerId, table.createTime),
    check("endpoints_secret_length", sql`length(${table.secret}) between 32 and 256`),
  ],
);

export const eventBodies = notificationSchema.table("event_bodies", {
  eventId: text("event_id").primaryKey(),
  /** Subject without the deployment prefix, e.g. "authorization.v1.captured". */
  eventType: text("event_type").notNull(),
  /** Canonical Protobuf JSON (toJsonString), the exact bytes signed and POSTed. */
  body: text("body").notNull(),
  createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
});

export const deliveries = notificationSchema.table(
  "deliveries",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id").notNull().references(() => endpoints.id),
    eventId: text("event_id").notNull().references(() => eventBodies.eventId),
    eventType: text("event_type").notNull(),
    state: smallint("state").notNull(),
    /** Every HTTP attempt ever made for this delivery (manual redeliveries included). */
    attemptCount: integer("attempt_count").notNull().default(0),
    /** Attempts since the delivery was (re)queued; drives the retry schedule. */
    roundAttemptCount: integer("round_attempt_count").notNull().default(0),
    lastStatusCode: integer("last_status_code").notNull().default(0),
    lastError: text("last_error").notNull().default(""),
    /** Due time when pending; while claimed, the end of the claim's lease. */
    nextAttemptTime: timestamp("next_attempt_time", { withTimezone: true }).notNull().defaultNow(),
    /** Set while a dispatcher holds the delivery; its result is written only if it still matches. */
    claimToken: text("claim_token"),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
    updateTime: timestamp("update_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    unique("deliveries_endpoint_event_unique").on(table.endpointId, table.eventId),
    index("deliveries_due_idx").on(table.endpointId, table.nextAttemptTime).where(sql`state = 1`),
    index("deliveries_event_idx").on(table.eventId),
    index("deliveries_endpoint_id_idx").on(table.endpointId, table.id),
    index("deliveries_state_idx").on(table.state),
    check("deliveries_state_known", sql`${table.state} in (1, 2, 3)`),
  ],
);

export const deliveryAttempts = notificationSchema.table(
  "delivery_attempts",
  {
    seq: bigserial("seq", { mode: "bigint" }).primaryKey(),
    deliveryId: text("delivery_id").notNull().references(() => deliveries.id),
    attemptNumber: integer("attempt_number").notNull(),
    statusCode: integer("status_code").notNull(),
    error: text("error").notNull().default(""),
    durationMs: integer("duration_ms").notNull(),
    attemptTime: timestamp("attempt_time", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index("delivery_attempts_delivery_idx").on(table.deliveryId, table.seq)],
);

export const inbox = inboxTable(notificationSchema);
export const deadLetters = deadLetterTable(notificationSchema);
