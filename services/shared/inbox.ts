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

/** Events applied in one transaction at most (what is already delivered, up to this many). */
export const inboxBatchMax = 256;

export interface RunningConsumer {
  /** Stops pulling, finishes the event in hand, and resolves. */
  stop(): Promise<void>;
}

/**
 * Runs a durable JetStream pull consumer with an inbox. Each event is applied in a database
 * transaction that also inserts its own id (its `event_id` field; the Nats-Msg-Id header only
 * for a message without one) into `<schema>.inbox`, so a redelivered or republished event is a
 * no-op whatever its Nats-Msg-Id; `handle` runs with that transaction's client. Messages already
 * delivered are applied together, up to inboxBatchMax per transaction (one commit for many),
 * then acknowledged with the confirmed (double) ack. If a shared transaction fails, each of its
 * events is retried alone: a failure rolls back and naks with a growing delay, and on the last
 * allowed delivery the event is parked in `<schema>.dead_letters` and terminated, so a poison
 * message never blocks the stream. A message that cannot be decoded is parked at once.
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

  /** A message decoded, with its event id (the event's own, else the header's) and request id. */
  interface Decoded {
    msg: JsMsg;
    schemaName: string;
    event: ConsumedEvent;
    requestId: string;
  }

  /** Decodes a message; an undecodable one is parked at once (it can never succeed). */
  const decode = async (msg: JsMsg): Promise<Decoded | undefined> => {
    const headerId = msg.headers?.get("Nats-Msg-Id") || `${stream}:${msg.seq}`;
    const schemaName = msg.headers?.get(schemaHeader) ?? "";
    let message: Message;
    try {
      message = decodeEvent(schemaName, msg.data);
    } catch (error) {
      eventsConsumed.inc({ consumer: durable, outcome: "failed" });
      await park(msg, headerId, schemaName, error);
      return undefined;
    }
    const ownId = (message as { eventId?: unknown }).eventId;
    const eventId = typeof ownId === "string" && ownId !== "" ? ownId : headerId;
    return { msg, schemaName, event: { eventId, subject: msg.subject, message }, requestId: msg.headers?.get(requestIdHeader) || eventId };
  };

  /**
   * Applies `batch` in ONE transaction: per event, the inbox insert (a duplicate, also within the
   * batch, is a no-op) and the handler under the event's request id; then COMMIT, afterCommit
   * for the new ones, and the confirmed acks. Throws (after ROLLBACK) if any event fails.
   */
  const applyBatch = async (batch: readonly Decoded[]): Promise<void> => {
    const client = await pool.connect();
    const fresh: Decoded[] = [];
    try {
      await client.query("begin");
      for (const item of batch) {
        const inserted = await client.query(`insert into ${schema}.inbox (event_id, subject) values ($1, $2) on conflict do nothing`, [
          item.event.eventId,
          item.msg.subject,
        ]);
        if (inserted.rowCount !== 1) continue;
        fresh.push(item);
        await requestContext.run({ requestId: item.requestId }, () => handle(client, item.event));
      }
      await client.query("commit");
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    for (const item of fresh) afterCommit?.(item.event);
    await Promise.all(batch.map((item) => item.msg.ackAck()));
    eventsConsumed.inc({ consumer: durable, outcome: "processed" }, fresh.length);
    if (batch.length > fresh.length) eventsConsumed.inc({ consumer: durable, outcome: "duplicate" }, batch.length - fresh.length);
  };

  /** One event on its own: on failure, nak with a growing delay, or park it on its last delivery. */
  const applyOne = async (item: Decoded): Promise<void> => {
    try {
      await applyBatch([item]);
    } catch (error) {
      eventsConsumed.inc({ consumer: durable, outcome: "failed" });
      const { msg } = item;
      if (msg.info.deliveryCount >= consumerDeliverMax) {
        await park(msg, item.event.eventId, item.schemaName, error);
      } else {
        requestContext.run({ requestId: item.requestId }, () =>
          logger.warn({ err: error, event_id: item.event.eventId, delivery: msg.info.deliveryCount }, "event failed; will be redelivered"),
        );
        msg.nak(1_000 * msg.info.deliveryCount);
      }
    }
  };

  /** Messages already delivered are applied together (one commit for many); if the shared
   * transaction fails, each is retried alone so one bad event cannot hold back the others. */
  const applyDelivered = async (msgs: readonly JsMsg[]): Promise<void> => {
    const decoded = (await Promise.all(msgs.map(decode))).filter((item): item is Decoded => item !== undefined);
    if (decoded.length === 0) return;
    if (decoded.length === 1) return applyOne(decoded[0]);
    try {
      await applyBatch(decoded);
    } catch {
      for (const item of decoded) await applyOne(item);
    }
  };

  const loop = (async () => {
    let pending: JsMsg[] = [];
    for await (const msg of messages) {
      pending.push(msg);
      // Keep collecting while more messages are already buffered, up to a batch. getPending()
      // counts the message in hand too (nats.js QueuedIterator: yields + inflight).
      if (messages.getPending() > 1 && pending.length < inboxBatchMax) continue;
      const batch = pending;
      pending = [];
      await applyDelivered(batch);
    }
  })();

  return {
    async stop() {
      await messages.close();
      await loop.catch(() => {});
    },
  };
}
