import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  connect,
  nanos,
  type ConsumerConfig,
  type NatsConnection,
} from "nats";

/**
 * NATS JetStream plumbing: connection with a clear error when unreachable, idempotent stream
 * and durable-consumer declaration at start-up (STYLE: declare with the manager, then use).
 */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: url, name, timeout: 3_000, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  } catch (error) {
    throw new Error(
      `NATS is not reachable at ${url} (${(error as Error).message}); start nats-server with JetStream ` +
        "(nats-server -js) or set NATS_URL",
    );
  }
}

/** Stream limits: events kept 7 days, duplicates detected within 2 minutes by Nats-Msg-Id. */
export const streamDuplicateWindowMs = 120_000;
export const streamMaxAgeMs = 7 * 24 * 3600 * 1000;

/**
 * The two streams of a deployment named `stream` with subject prefix `prefix`:
 * - `<stream>`: merchant-facing events, `<prefix>.authorization.>` and `<prefix>.settlement.>`,
 *   read whole by the notification and reporting consumers (no subject filter needed, so this
 *   works on nats-server 2.9, which lacks multi-subject filters);
 * - `<stream>_LEDGER`: the ledger change feed, `<prefix>.ledger.>`, which can be far larger
 *   (one event per committed batch) and is for followers of the ledger.
 */
export function streamNamesOf(stream: string, prefix: string): { name: string; subjects: string[] }[] {
  return [
    { name: stream, subjects: [`${prefix}.authorization.>`, `${prefix}.settlement.>`] },
    { name: `${stream}_LEDGER`, subjects: [`${prefix}.ledger.>`] },
  ];
}

/** Declares (or updates) both streams, idempotently and safely when several processes race. */
export async function ensureStream(nc: NatsConnection, stream: string, prefix: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  // In order: the merchant stream first, so a stream of an older layout that captured
  // `<prefix>.>` is narrowed before the ledger stream claims `<prefix>.ledger.>`.
  for (const { name, subjects } of streamNamesOf(stream, prefix)) {
    const config = {
      name,
      subjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(streamMaxAgeMs),
      duplicate_window: nanos(streamDuplicateWindowMs),
      num_replicas: 1,
    };
    try {
      await jsm.streams.info(name);
      await jsm.streams.update(name, config);
    } catch (error) {
      if (!String((error as Error).message).includes("not found")) throw error;
      try {
        await jsm.streams.add(config);
      } catch (addError) {
        // Another process created it in between.
        if (!String((addError as Error).message).includes("already in use")) throw addError;
      }
    }
  }
}

/** Deletes both streams of a deployment (tests and throwaway demos only). */
export async function deleteStreams(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  for (const name of [stream, `${stream}_LEDGER`]) await jsm.streams.delete(name).catch(() => false);
}

/** Consumer bounds: redeliver after 30 s without ack, back off between tries, give up after
 * 10 deliveries (the consumer then parks the event in its dead-letter table). */
export const consumerAckWaitMs = 30_000;
export const consumerDeliverMax = 10;
export const consumerAckPendingMax = 1_000;

/** Declares a durable pull consumer (idempotent) on the whole stream, or filtered to `subjects`
 * (one subject uses `filter_subject`; several need nats-server 2.10+ for `filter_subjects`). */
export async function ensureConsumer(
  nc: NatsConnection,
  stream: string,
  durable: string,
  subjects: string[] = [],
): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const config: Partial<ConsumerConfig> = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ...(subjects.length === 1 ? { filter_subject: subjects[0] } : subjects.length > 1 ? { filter_subjects: subjects } : {}),
    ack_wait: nanos(consumerAckWaitMs),
    max_deliver: consumerDeliverMax,
    backoff: [5_000, 15_000, 30_000, 60_000].map(nanos),
    max_ack_pending: consumerAckPendingMax,
  };
  try {
    await jsm.consumers.info(stream, durable);
    await jsm.consumers.update(stream, durable, config);
  } catch (error) {
    if (!String((error as Error).message).includes("not found")) throw error;
    await jsm.consumers.add(stream, config);
  }
}

export type { NatsConnection };
