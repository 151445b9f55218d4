/**
 * Webhook retry schedule (pure). A schedule is the list of waits between attempts: with
 * "1s,5s,30s" a delivery gets an immediate first attempt, then up to three retries after about
 * 1 s, 5 s and 30 s; after the last it is FAILED. Each wait gets +/- jitter so receivers that
 * failed together are not retried in lockstep. Sources: Stripe (exponential, ~3 days),
 * Hyperswitch (16 attempts over ~24 h), SEMANTICS.md "Webhooks".
 */

/** Default: 12 attempts spread over about 2.9 days (Stripe retries for up to 3 days). */
export const retryScheduleDefault = "1s,5s,30s,2m,10m,1h,3h,6h,12h,24h,24h";

/** Bounds on a schedule: at most 50 retries, each wait at most 7 days. */
export const retryScheduleEntriesMax = 50;
export const retryWaitMsMax = 7 * 24 * 3600 * 1000;

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "250ms", "1s", "5m", "2h", "1d" into milliseconds; throws on anything else. */
export function parseDurationMs(text: string): number {
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`bad duration ${JSON.stringify(text)}: expected <integer><ms|s|m|h|d>`);
  return Number(match[1]) * unitMs[match[2]];
}

/** Parses a comma-separated schedule into waits in ms; throws naming the bad entry. */
export function parseRetrySchedule(text: string): number[] {
  const entries = text.split(",").map((entry) => entry.trim()).filter(Boolean);
  if (entries.length > retryScheduleEntriesMax) throw new Error(`retry schedule has more than ${retryScheduleEntriesMax} entries`);
  return entries.map((entry) => {
    const waitMs = parseDurationMs(entry);
    if (waitMs < 1 || waitMs > retryWaitMsMax) throw new Error(`retry wait ${entry} must be within 1ms..7d`);
    return waitMs;
  });
}

/** Attempts a delivery gets in one round: the first plus one per schedule entry. */
export function attemptsMaxOf(scheduleMs: readonly number[]): number {
  return scheduleMs.length + 1;
}

/**
 * Wait in ms before the next attempt after `attemptsDone` failed attempts in this round, or
 * undefined when the round is exhausted (the delivery becomes FAILED). `jitterRatio` in 0..1
 * spreads the wait uniformly over wait * (1 +/- jitterRatio); `random` returns 0..1.
 */
export function nextRetryWaitMs(
  scheduleMs: readonly number[],
  attemptsDone: number,
  jitterRatio: number,
  random: () => number = Math.random,
): number | undefined {
  if (attemptsDone < 1) throw new Error("attemptsDone must be >= 1");
  const waitMs = scheduleMs[attemptsDone - 1];
  if (waitMs === undefined) return undefined;
  const factor = 1 + jitterRatio * (2 * random() - 1);
  return Math.max(1, Math.round(waitMs * factor));
}
