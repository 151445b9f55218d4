import { sql } from "drizzle-orm";
import { bigserial, customType, index, jsonb, text, timestamp, type PgSchema } from "drizzle-orm/pg-core";

// No relative imports here: drizzle-kit loads this file through each service's schema.ts.

const bytea = customType<{ data: Uint8Array; driverData: Buffer }>({
  dataType: () => "bytea",
  toDriver: (value) => Buffer.from(value),
  fromDriver: (value) => new Uint8Array(value),
});

/**
 * The transactional outbox of a service: an event row is inserted in the same database
 * transaction as the state change it reports; a relay publishes it to JetStream
 * (Nats-Msg-Id = event_id) and marks it published. Published rows are kept (nothing prunes
 * them yet).
 */
export function outboxTable(schema: PgSchema) {
  return schema.table(
    "outbox",
    {
      seq: bigserial("seq", { mode: "bigint" }).primaryKey(),
      eventId: text("event_id").notNull().unique(),
      subject: text("subject").notNull(),
      schemaName: text("schema_name").notNull(),
      payload: bytea("payload").notNull(),
      headers: jsonb("headers").$type<Record<string, string>>().notNull().default({}),
      createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
      publishTime: timestamp("publish_time", { withTimezone: true }),
    },
    (table) => [index("outbox_unpublished_idx").on(table.seq).where(sql`publish_time is null`)],
  );
}

/**
 * The inbox of a JetStream consumer: one row per processed event id, inserted in the same
 * transaction as the event's effects, so a redelivered event has no second effect.
 */
export function inboxTable(schema: PgSchema) {
  return schema.table("inbox", {
    eventId: text("event_id").primaryKey(),
    subject: text("subject").notNull(),
    processTime: timestamp("process_time", { withTimezone: true }).notNull().defaultNow(),
  });
}

/** Events a consumer gave up on after the stream's max deliveries, kept for manual replay. */
export function deadLetterTable(schema: PgSchema) {
  return schema.table("dead_letters", {
    eventId: text("event_id").primaryKey(),
    subject: text("subject").notNull(),
    schemaName: text("schema_name").notNull(),
    payload: bytea("payload").notNull(),
    error: text("error").notNull(),
    createTime: timestamp("create_time", { withTimezone: true }).notNull().defaultNow(),
  });
}
