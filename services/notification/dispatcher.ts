/**
 * The webhook dispatcher: delivers pending deliveries with a queue per endpoint, so one slow or
 * failing partner never delays another (Adyen's per-endpoint queues; SEMANTICS.md "Webhooks").
 *
 * - State lives in PostgreSQL (notification.deliveries); a restart resumes what is pending.
 * - Claims: one statement takes, per endpoint, up to that endpoint's free local slots of due
 *   deliveries (FOR UPDATE SKIP LOCKED, so replicas never take the same row) and leases them:
 *   claim_token is set and next_attempt_time moves to the end of the lease. A crashed
 *   dispatcher's claims come due again when the lease ends (at-least-once; receivers dedupe on
 *   Payments-Event-Id).
 * - Concurrency is bounded per endpoint (endpointConcurrency) and overall (concurrency).
 * - Each attempt: POST the stored canonical JSON, signed (signature.ts), per-attempt timeout, no
 *   redirects followed. 2xx = SUCCEEDED; anything else (non-2xx, network error, timeout) waits
 *   for the next entry of the retry schedule with jitter, or is FAILED after the last.
 * - The result is written only while the claim is still ours (a manual Redeliver in between
 *   takes precedence); every attempt is recorded in notification.delivery_attempts.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { inTransaction } from "../shared/db.ts";
import type { Logger } from "../shared/log.ts";
import { nextRetryWaitMs } from "./domain/schedule.ts";
import { signatureHeader, signatureHeaderValue } from "./signature.ts";

export interface DispatcherOptions {
  readonly pool: pg.Pool;
  readonly logger: Logger;
  /** Waits between attempts, ms (domain/schedule.ts). */
  readonly retryScheduleMs: readonly number[];
  /** 0..1: each wait is spread over wait * (1 +/- jitterRatio). */
  readonly jitterRatio: number;
  /** Per-attempt HTTP timeout, ms. */
  readonly attemptTimeoutMs: number;
  /** In-flight attempts per endpoint in this process. */
  readonly endpointConcurrency: number;
  /** In-flight attempts overall in this process. */
  readonly concurrency: number;
  /** Poll interval for retries coming due (new deliveries also wake it through wake()), ms. */
  readonly pollMs: number;
  readonly schema?: string;
  /** Injected for tests. */
  readonly fetch?: typeof fetch;
  readonly random?: () => number;
}

export interface RunningDispatcher {
  /** Looks for due deliveries now. */
  wake(): void;
  /** Stops claiming, aborts in-flight attempts (their claims are released unrecorded), resolves. */
  stop(): Promise<void>;
}

/** Longest error text kept on a delivery or attempt row. */
const errorLengthMax = 500;
/** A claim lasts the attempt timeout plus this margin. */
const leaseMarginMs = 30_000;

interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  round_attempt_count: number;
  attempt_count: number;
  url: string;
  secret: string;
  previous_secret: string | null;
  body: string;
}

/** Starts the dispatcher loop (woken by wake() for new deliveries, plus a poll). */
export async function startDispatcher(options: DispatcherOptions): Promise<RunningDispatcher> {
  const { pool, logger, endpointConcurrency, concurrency, attemptTimeoutMs } = options;
  const schema = options.schema ?? "notification";
  const fetchImpl = options.fetch ?? fetch;
  const random = options.random ?? Math.random;
  const token = randomBytes(8).toString("hex");
  const inFlightByEndpoint = new Map<string, number>();
  const attempts = new Set<Promise<void>>();
  const shutdown = new AbortController();
  let inFlight = 0;
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  let endpointCursor = "";

  const claim = async (): Promise<ClaimedDelivery[]> => {
    const free = concurrency - inFlight;
    if (free <= 0) return [];
    const busy = [...inFlightByEndpoint.entries()];
    const result = await pool.query<ClaimedDelivery>(
      `with candidates as (
         select c.id from ${schema}.endpoints e
         left join unnest($1::text[], $2::int[]) as f(endpoint_id, free_slots) on f.endpoint_id = e.id
         cross join lateral (
           select d.id from ${schema}.deliveries d
           where d.endpoint_id = e.id and d.state = 1 and d.next_attempt_time <= now()
           order by d.next_attempt_time
           limit coalesce(f.free_slots, $3)
           for update of d skip locked
         ) c
         order by e.id <= $4, e.id
         limit $5
       )
       update ${schema}.deliveries d
          set claim_token = $6, next_attempt_time = now() + ($7::bigint * interval '1 millisecond'), update_time = now()
         from candidates, ${schema}.endpoints e, ${schema}.event_bodies b
        where d.id = candidates.id and e.id = d.endpoint_id and b.event_id = d.event_id
       returning d.id, d.endpoint_id, d.event_id, d.event_type, d.round_attempt_count, d.attempt_count,
                 e.url, e.secret, e.previous_secret, b.body`,
      [
        busy.map(([endpointId]) => endpointId),
        busy.map(([, count]) => Math.max(0, endpointConcurrency - count)),
        endpointConcurrency,
        endpointCursor,
        free,
        token,
        attemptTimeoutMs + leaseMarginMs,
      ],
    );
    return result.rows;
  };

  const send = async (delivery: ClaimedDelivery): Promise<{ statusCode: number; error: string }> => {
    const timestampSeconds = Math.floor(Date.now() / 1000);
    const secrets = delivery.previous_secret ? [delivery.secret, delivery.previous_secret] : [delivery.secret];
    const protocol = new URL(delivery.url).protocol;
    if (protocol !== "http:" && protocol !== "https:") return { statusCode: 0, error: "refused: not an http(s) URL" };
    try {
      const response = await fetchImpl(delivery.url, {
        method: "POST",
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(attemptTimeoutMs), shutdown.signal]),
        headers: {
          "content-type": "application/json",
          "user-agent": "payments-mesh-webhooks/1",
          "payments-event-id": delivery.event_id,
          "payments-event-type": delivery.event_type,
          "payments-delivery-id": delivery.id,
          "payments-delivery-attempt": String(delivery.attempt_count + 1),
          [signatureHeader.toLowerCase()]: signatureHeaderValue(secrets, delivery.body, timestampSeconds),
        },
        body: delivery.body,
      });
      await response.body?.cancel().catch(() => {});
      return { statusCode: response.status, error: response.ok ? "" : `HTTP ${response.status}` };
    } catch (error) {
      const name = (error as Error)?.name;
      const text = name === "TimeoutError" ? `timeout after ${attemptTimeoutMs} ms` : String((error as Error)?.cause ?? (error as Error)?.message ?? error);
      return { statusCode: 0, error: text.slice(0, errorLengthMax) };
    }
  };

  const record = async (delivery: ClaimedDelivery, outcome: { statusCode: number; error: string }, durationMs: number) => {
    const succeeded = outcome.statusCode >= 200 && outcome.statusCode < 300;
    const roundAttempts = delivery.round_attempt_count + 1;
    const waitMs = succeeded ? undefined : nextRetryWaitMs(options.retryScheduleMs, roundAttempts, options.jitterRatio, random);
    const state = succeeded ? 2 : waitMs === undefined ? 3 : 1;
    await inTransaction(pool, async (client) => {
      await client.query(
        `insert into ${schema}.delivery_attempts (delivery_id, attempt_number, status_code, error, duration_ms) values ($1, $2, $3, $4, $5)`,
        [delivery.id, delivery.attempt_count + 1, outcome.statusCode, outcome.error, Math.round(durationMs)],
      );
      await client.query(
        `update ${schema}.deliveries
            set state = $3::smallint, attempt_count = attempt_count + 1, round_attempt_count = $4, last_status_code = $5, last_error = $6,
                next_attempt_time = case when $3::smallint = 1 then now() + ($7::bigint * interval '1 millisecond') else now() end,
                claim_token = null, update_time = now()
          where id = $1 and claim_token = $2`,
        [delivery.id, token, state, roundAttempts, outcome.statusCode, outcome.error, waitMs ?? 0],
      );
    });
    if (state === 3) logger.warn({ delivery_id: delivery.id, endpoint_id: delivery.endpoint_id, event_id: delivery.event_id }, "webhook delivery failed after its last attempt");
  };

  const release = async (delivery: ClaimedDelivery) => {
    await pool.query(
      `update ${schema}.deliveries set claim_token = null, next_attempt_time = now(), update_time = now() where id = $1 and claim_token = $2`,
      [delivery.id, token],
    );
  };

  const attempt = async (delivery: ClaimedDelivery) => {
    const started = performance.now();
    try {
      const outcome = await send(delivery);
      if (shutdown.signal.aborted) await release(delivery);
      else await record(delivery, outcome, performance.now() - started);
    } catch (error) {
      logger.error({ err: error, delivery_id: delivery.id }, "recording a webhook attempt failed; the lease will expire and it is retried");
    } finally {
      inFlight -= 1;
      const left = (inFlightByEndpoint.get(delivery.endpoint_id) ?? 1) - 1;
      if (left <= 0) inFlightByEndpoint.delete(delivery.endpoint_id);
      else inFlightByEndpoint.set(delivery.endpoint_id, left);
      if (!stopped) kick();
    }
  };

  const drain = async () => {
    do {
      again = false;
      const claimed = await claim();
      for (const delivery of claimed) {
        inFlight += 1;
        inFlightByEndpoint.set(delivery.endpoint_id, (inFlightByEndpoint.get(delivery.endpoint_id) ?? 0) + 1);
        endpointCursor = delivery.endpoint_id > endpointCursor ? delivery.endpoint_id : endpointCursor;
        const promise = attempt(delivery);
        attempts.add(promise);
        void promise.finally(() => attempts.delete(promise));
      }
      if (claimed.length === 0) endpointCursor = "";
      else again = again || inFlight < concurrency;
    } while (again && !stopped);
  };

  const kick = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .catch((error) => logger.warn({ err: error }, "webhook dispatcher claim failed; will retry"))
      .finally(() => {
        running = undefined;
      });
  };

  const timer = setInterval(kick, options.pollMs);
  kick();

  return {
    wake: kick,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await running;
      shutdown.abort();
      await Promise.allSettled([...attempts]);
    },
  };
}
