import { headers as natsHeaders, type NatsConnection } from "nats";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { toBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import { currentRequestId, requestIdHeader } from "./context.ts";
import { schemaHeader } from "./events.ts";
import type { Logger } from "./log.ts";
import { eventsPublished } from "./telemetry.ts";

/**
 * Inserts an event into `<schema>.outbox` using the caller's transaction client, so the event
 * commits (or not) together with the state change. No NOTIFY: PostgreSQL serializes every
 * notifying commit of the cluster on one lock held through the WAL flush, which would cap the
 * whole mesh's commit rate; the relay polls instead (relayPollMs).
 */
export async function enqueueEvent<D extends DescMessage>(
  client: pg.PoolClient | pg.Client,
  schema: string,
  subject: string,
  eventId: string,
  messageSchema: D,
  message: MessageShape<D>,
): Promise<void> {
  await insertOutboxRecord(client, schema, outboxRecord(subject, eventId, messageSchema, message));
}

/** Inserts an encoded outbox row with the caller's (transaction) client. */
export async function insertOutboxRecord(client: pg.PoolClient | pg.Client, schema: string, record: OutboxRecord): Promise<void> {
  await client.query(`insert into ${schema}.outbox (${outboxColumns}) values ($1, $2, $3, $4, $5)`, outboxValues(record));
}

/** One outbox row: the event encoded, with the current request id as a header. */
export interface OutboxRecord {
  readonly eventId: string;
  readonly subject: string;
  readonly schemaName: string;
  readonly payload: Buffer;
  readonly headers: Record<string, string>;
}

/** Column list of an outbox insert, in the order of outboxValues. */
export const outboxColumns = "event_id, subject, schema_name, payload, headers";

/** Encodes an event as an outbox row, for callers that write it in a statement of their own. */
export function outboxRecord<D extends DescMessage>(subject: string, eventId: string, messageSchema: D, message: MessageShape<D>): OutboxRecord {
  const requestId = currentRequestId();
  return {
    eventId,
    subject,
    schemaName: messageSchema.typeName,
    payload: Buffer.from(toBinary(messageSchema, message)),
    headers: requestId ? { [requestIdHeader]: requestId } : {},
  };
}

/** Query parameters of an outbox row, in the order of outboxColumns. */
export function outboxValues(record: OutboxRecord): unknown[] {
  return [record.eventId, record.subject, record.schemaName, record.payload, record.headers];
}

/** Relay batch size, and how long the relay waits after finding the outbox empty (an event
 * waits at most about this long before it is published). */
export const relayBatchMax = 500;
export const relayPollMs = 50;

export interface OutboxRelay {
  /** Publishes everything currently unpublished, then resolves. */
  flush(): Promise<void>;
  /** Flushes and stops. */
  stop(): Promise<void>;
}

/**
 * Starts the outbox relay of `schema`: takes unpublished rows in order with
 * `FOR UPDATE SKIP LOCKED` (safe with several replicas), publishes each to JetStream with
 * Nats-Msg-Id = event id (the stream drops duplicates within its window, so a crash between
 * publish and mark is harmless), awaits every PubAck, then marks the rows published in the same
 * transaction. Polls every relayPollMs while the outbox is empty and runs back to back while
 * it is not.
 */
export async function startOutboxRelay(options: {
  pool: pg.Pool;
  schema: string;
  nc: NatsConnection;
  logger: Logger;
}): Promise<OutboxRelay> {
  const { pool, schema, nc, logger } = options;
  const js = nc.jetstream();
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;

  const publishBatch = async (): Promise<number> => {
    const client = await pool.connect();
    try {
      await client.query("begin");
      const rows = await client.query<{ seq: bigint; event_id: string; subject: string; schema_name: string; payload: Buffer; headers: Record<string, string> }>(
        `select seq, event_id, subject, schema_name, payload, headers from ${schema}.outbox
         where publish_time is null order by seq limit ${relayBatchMax} for update skip locked`,
      );
      if (rows.rowCount === 0) {
        await client.query("commit");
        return 0;
      }
      await Promise.all(
        rows.rows.map((row) => {
          const headers = natsHeaders();
          headers.set(schemaHeader, row.schema_name);
          for (const [key, value] of Object.entries(row.headers)) headers.set(key, value);
          return js.publish(row.subject, row.payload, { msgID: row.event_id, headers, timeout: 10_000 });
        }),
      );
      await client.query(`update ${schema}.outbox set publish_time = now() where seq = any($1::bigint[])`, [
        rows.rows.map((row) => row.seq.toString()),
      ]);
      await client.query("commit");
      eventsPublished.inc({ service: schema }, rows.rowCount ?? 0);
      return rows.rowCount ?? 0;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };

  const drain = async (): Promise<void> => {
    do {
      again = false;
      while ((await publishBatch()) === relayBatchMax) {
        // full batch: there may be more
      }
    } while (again);
  };

  const kick = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = drain()
      .catch((error) => logger.warn({ err: error }, "outbox relay failed; will retry"))
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const timer = setInterval(() => void kick(), relayPollMs);
  void kick();

  const flush = async () => {
    await kick();
    if (again || running) await kick();
  };
  return {
    flush,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await flush();
    },
  };
}
