import type { Message } from "@bufbuild/protobuf";
import type { JsMsg, NatsConnection } from "nats";
import type pg from "pg";
import { requestContext, requestIdHeader } from "./context.ts";
import { decodeEvent, schemaHeader } from "./events.ts";
import type { Logger } from "./log.ts";
import { consumerDeliverMax } from "./nats.ts";
import { eventsConsumed } from "./telemetry.ts";

/** What a consumer's handler gets for one event. */
export interface ConsumedEvent {
  readonly eventId: string;
  readonly subject: string;
  readonly message: Message;
}

export interface RunningConsumer {
  /** Stops pulling, finishes the event in hand, and resolves. */
  stop(): Promise<void>;
}

/**
 * Runs a durable JetStream pull consumer with an inbox: for each event, in ONE database
 * transaction, inserts the event's own id (its `event_id` field; the Nats-Msg-Id header only
 * for a message without one) into `<schema>.inbox` (a redelivered or republished event is a
 * no-op, whatever its Nats-Msg-Id) and runs
 * `handle` with the same transaction client; commits, then acknowledges with the confirmed
 * (double) ack. A failure rolls back and naks with a delay; on the last allowed delivery the
 * event is parked in `<schema>.dead_letters` and terminated, so a poison message never blocks
 * the stream. A message that cannot be decoded is parked at once (it can never succeed).
 */
export async function startInboxConsumer(options: {
  nc: NatsConnection;
  stream: string;
  durable: string;
  pool: pg.Pool;
  schema: string;
  logger: Logger;
  handle: (client: pg.PoolClient, event: ConsumedEvent) => Promise<void>;
  /** Runs after an event's transaction committed (not for duplicates), e.g. to wake an
   * in-process worker without a database NOTIFY. */
  afterCommit?: (event: ConsumedEvent) => void;
}): Promise<RunningConsumer> {
  const { nc, stream, durable, pool, schema, logger, handle, afterCommit } = options;
  const consumer = await nc.jetstream().consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: 256 });

  const park = async (msg: JsMsg, eventId: string, schemaName: string, error: unknown): Promise<void> => {
    logger.error({ err: error, event_id: eventId, subject: msg.subject }, "event parked in dead letters");
    await pool.query(
      `insert into ${schema}.dead_letters (event_id, subject, schema_name, payload, error) values ($1, $2, $3, $4, $5)
       on conflict (event_id) do nothing`,
      [eventId, msg.subject, schemaName, Buffer.from(msg.data), String((error as Error)?.stack ?? error)],
    );
    msg.term("dead-lettered");
  };

  const processOne = async (msg: JsMsg): Promise<void> => {
    const headerId = msg.headers?.get("Nats-Msg-Id") || `${stream}:${msg.seq}`;
    const schemaName = msg.headers?.get(schemaHeader) ?? "";
    let message: Message;
    try {
      message = decodeEvent(schemaName, msg.data);
    } catch (error) {
      eventsConsumed.inc({ consumer: durable, outcome: "failed" });
      await park(msg, headerId, schemaName, error);
      return;
    }
    const ownId = (message as { eventId?: unknown }).eventId;
    const eventId = typeof ownId === "string" && ownId !== "" ? ownId : headerId;
    const requestId = msg.headers?.get(requestIdHeader) || eventId;
    await requestContext.run({ requestId }, async () => {
      const client = await pool.connect();
      try {
        await client.query("begin");
        const inserted = await client.query(
          `insert into ${schema}.inbox (event_id, subject) values ($1, $2) on conflict do nothing`,
          [eventId, msg.subject],
        );
        const event = { eventId, subject: msg.subject, message };
        if (inserted.rowCount === 1) await handle(client, event);
        await client.query("commit");
        if (inserted.rowCount === 1) afterCommit?.(event);
        await msg.ackAck();
        eventsConsumed.inc({ consumer: durable, outcome: inserted.rowCount === 1 ? "processed" : "duplicate" });
      } catch (error) {
        await client.query("rollback").catch(() => {});
        eventsConsumed.inc({ consumer: durable, outcome: "failed" });
        if (msg.info.deliveryCount >= consumerDeliverMax) {
          await park(msg, eventId, schemaName, error);
        } else {
          logger.warn({ err: error, event_id: eventId, delivery: msg.info.deliveryCount }, "event failed; will be redelivered");
          msg.nak(1_000 * msg.info.deliveryCount);
        }
      } finally {
        client.release();
      }
    });
  };

  const loop = (async () => {
    for await (const msg of messages) {
      await processOne(msg);
    }
  })();

  return {
    async stop() {
      await messages.close();
      await loop.catch(() => {});
    },
  };
}
