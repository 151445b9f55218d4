import { DeliverPolicy, type NatsConnection } from "nats";
import { decodeEvent, schemaHeader } from "../../services/shared/events.ts";

/** One event the mesh published on JetStream, reduced to what the replay checks. */
export interface PublishedEvent {
  readonly seq: number;
  readonly subject: string;
  readonly eventId: string;
  /** Partner of the merchant the event is about ("" when the event has none). */
  readonly partnerId: string;
}

/** True when NATS subject `subject` matches `filter` (tokens, `*` one token, `>` the rest). */
export function subjectMatches(filter: string, subject: string): boolean {
  const filterTokens = filter.split(".");
  const subjectTokens = subject.split(".");
  for (let index = 0; index < filterTokens.length; index += 1) {
    const token = filterTokens[index];
    if (token === ">") return subjectTokens.length > index;
    if (index >= subjectTokens.length) return false;
    if (token !== "*" && token !== subjectTokens[index]) return false;
  }
  return filterTokens.length === subjectTokens.length;
}

/** Subjects of the merchant-event stream the consumers (notification, reporting) read whole. */
export function merchantEventFilters(prefix: string): string[] {
  return [`${prefix}.authorization.>`, `${prefix}.settlement.>`];
}

/** The filter subjects of durable `durable` (every subject of the stream when it reads the whole
 * stream, as the mesh's consumers do), or `fallback` when it does not exist (yet). */
export async function consumerFilters(nc: NatsConnection, stream: string, durable: string, fallback: string[]): Promise<string[]> {
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.consumers.info(stream, durable);
    const filters = info.config.filter_subjects ?? (info.config.filter_subject ? [info.config.filter_subject] : []);
    return filters.length > 0 ? filters : (await jsm.streams.info(stream)).config.subjects;
  } catch {
    return fallback;
  }
}

/** Pending + unacknowledged messages of durable `durable`; undefined when it does not exist. */
export async function durableLag(nc: NatsConnection, stream: string, durable: string): Promise<number | undefined> {
  try {
    const info = await (await nc.jetstreamManager()).consumers.info(stream, durable);
    return info.num_pending + info.num_ack_pending;
  } catch {
    return undefined;
  }
}

/** The stream's last sequence number (0 when empty). */
export async function lastSequence(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  return info.state.last_seq;
}

/**
 * Reads every message with sequence in (afterSeq, uptoSeq] from `stream` with an ordered
 * (ephemeral) consumer, decoding the event id and partner from the Protobuf body
 * (authorization events: authorization.partner_id; settlement: batch.partner_id).
 * Bounded by `timeoutMs`; throws when the range cannot be read in time.
 */
export async function readPublished(
  nc: NatsConnection,
  stream: string,
  afterSeq: number,
  uptoSeq: number,
  timeoutMs = 30_000,
): Promise<PublishedEvent[]> {
  if (uptoSeq <= afterSeq) return [];
  const js = nc.jetstream();
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 });
  const messages = await consumer.consume({ max_messages: 1_000 });
  const events: PublishedEvent[] = [];
  const timer = setTimeout(() => void messages.close(), timeoutMs);
  let lastSeen = afterSeq;
  try {
    for await (const message of messages) {
      lastSeen = message.seq;
      if (message.seq > uptoSeq) break;
      const schemaName = message.headers?.get(schemaHeader) ?? "";
      let eventId = message.headers?.get("Nats-Msg-Id") ?? "";
      let partnerId = "";
      try {
        const decoded = decodeEvent(schemaName, message.data) as {
          eventId?: string;
          authorization?: { partnerId?: string };
          batch?: { partnerId?: string };
        };
        eventId = decoded.eventId || eventId;
        partnerId = decoded.authorization?.partnerId ?? decoded.batch?.partnerId ?? "";
      } catch {
        // Unknown schema: counted by subject only.
      }
      events.push({ seq: message.seq, subject: message.subject, eventId, partnerId });
      if (message.seq >= uptoSeq) break;
    }
  } finally {
    clearTimeout(timer);
    await messages.close().catch(() => {});
  }
  if (lastSeen < uptoSeq) throw new Error(`read stream ${stream} only up to ${lastSeen} of ${uptoSeq} within ${timeoutMs} ms`);
  return events;
}
