/**
 * The notification consumer: turns each merchant event into one pending delivery per webhook
 * endpoint of the event's partner, inside the inbox transaction (services/shared/inbox.ts), so a
 * redelivered event creates nothing twice. Sending happens later in the dispatcher, never
 * inside this transaction.
 */
import type pg from "pg";
import type { ConsumedEvent } from "../shared/inbox.ts";
import { newId } from "../shared/ids.ts";
import { eventBodyOf, eventTypeOf, partnerIdOf } from "./domain/events.ts";

/** Durable consumer name: `<stream>_notification`. */
export function notificationDurable(stream: string): string {
  return `${stream}_notification`;
}

/**
 * Builds the inbox handler. For an event whose partner has endpoints: stores the canonical JSON
 * body once (notification.event_bodies) and inserts one PENDING delivery per endpoint (unique
 * per endpoint and event); the consumer's afterCommit then wakes the dispatcher. Events
 * without a partner or without endpoints only leave their inbox row. Returns the number of deliveries created.
 */
export function createNotificationHandler(options: { schema?: string; subjectPrefix: string }) {
  const schema = options.schema ?? "notification";
  return async (client: pg.PoolClient, event: ConsumedEvent): Promise<number> => {
    const eventId = event.eventId;
    const partnerId = partnerIdOf(event.message);
    if (partnerId === "") return 0;
    const found = await client.query<{ id: string }>(`select id from ${schema}.endpoints where partner_id = $1 order by id`, [partnerId]);
    if (found.rowCount === 0) return 0;
    const eventType = eventTypeOf(event.subject, options.subjectPrefix);
    await client.query(
      `insert into ${schema}.event_bodies (event_id, event_type, body) values ($1, $2, $3) on conflict (event_id) do nothing`,
      [eventId, eventType, eventBodyOf(event.message)],
    );
    const ids = found.rows.map(() => newId("dlv"));
    const inserted = await client.query(
      `insert into ${schema}.deliveries (id, endpoint_id, event_id, event_type, state, next_attempt_time)
       select d.id, d.endpoint_id, $3, $4, 1, now() from unnest($1::text[], $2::text[]) as d(id, endpoint_id)
       on conflict (endpoint_id, event_id) do nothing`,
      [ids, found.rows.map((row) => row.id), eventId, eventType],
    );
    return inserted.rowCount ?? 0;
  };
}
