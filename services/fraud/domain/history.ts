/**
 * A card's recent history in EVENT time (the authorization's event_time, never the wall
 * clock), summarized into the figures the scorer uses. The same summary is computed in SQL by
 * store/queries.ts (one round trip); this pure version serves the offline evaluation and the
 * tests, which check that both agree.
 */

/** One earlier authorization of the card (a fact: it was attempted at eventTimeMs). */
export interface HistoryEntry {
  readonly eventTimeMs: number;
  /** Minor units of currencyCode. */
  readonly amountMinor: bigint;
  readonly currencyCode: string;
  /** Score 0..1000 the attempt got when it was assessed. */
  readonly score: number;
}

/** What the scorer knows about the card before the authorization being scored. */
export interface CardHistory {
  /** Attempts with eventTime in [t - 1 h, t). */
  readonly count1h: number;
  /** Attempts with eventTime in [t - 24 h, t). */
  readonly count24h: number;
  /** Attempts in [t - 24 h, t) whose score was >= the high-risk score (the decline threshold). */
  readonly highRiskCount24h: number;
  /** Same-currency attempts before t in the amount profile (the latest profileSizeMax). */
  readonly profileCount: number;
  /** Floor of their mean amount, minor units; 0n when profileCount is 0. */
  readonly meanAmountMinor: bigint;
  /** Their lower median amount (percentile_disc 0.5), minor units; 0n when profileCount is 0. */
  readonly medianAmountMinor: bigint;
  /** Event time of the latest attempt before t (any currency), or undefined. */
  readonly previousEventTimeMs: number | undefined;
}

export const hourMs = 3_600_000;
export const dayMs = 24 * hourMs;
/** The amount profile covers at most this many latest same-currency attempts (bounded work). */
export const profileSizeMax = 200;

export const emptyHistory: CardHistory = {
  count1h: 0,
  count24h: 0,
  highRiskCount24h: 0,
  profileCount: 0,
  meanAmountMinor: 0n,
  medianAmountMinor: 0n,
  previousEventTimeMs: undefined,
};

/**
 * Summarizes `entries` (any order) as seen by an authorization at `eventTimeMs` in
 * `currencyCode`. Only entries strictly before eventTimeMs count. `highRiskScore` is the score
 * from which an earlier attempt counts as high risk.
 */
export function summarizeHistory(
  entries: readonly HistoryEntry[],
  eventTimeMs: number,
  currencyCode: string,
  highRiskScore: number,
): CardHistory {
  let count1h = 0;
  let count24h = 0;
  let highRiskCount24h = 0;
  let previousEventTimeMs: number | undefined;
  const sameCurrency: HistoryEntry[] = [];
  for (const entry of entries) {
    if (entry.eventTimeMs >= eventTimeMs) continue;
    if (previousEventTimeMs === undefined || entry.eventTimeMs > previousEventTimeMs) previousEventTimeMs = entry.eventTimeMs;
    if (entry.eventTimeMs >= eventTimeMs - hourMs) count1h += 1;
    if (entry.eventTimeMs >= eventTimeMs - dayMs) {
      count24h += 1;
      if (entry.score >= highRiskScore) highRiskCount24h += 1;
    }
    if (entry.currencyCode === currencyCode) sameCurrency.push(entry);
  }
  sameCurrency.sort((a, b) => b.eventTimeMs - a.eventTimeMs);
  const profile = sameCurrency.slice(0, profileSizeMax).map((entry) => entry.amountMinor);
  if (profile.length === 0) return { ...emptyHistory, count1h, count24h, highRiskCount24h, previousEventTimeMs };
  const sum = profile.reduce((total, amount) => total + amount, 0n);
  const sorted = [...profile].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    count1h,
    count24h,
    highRiskCount24h,
    profileCount: profile.length,
    meanAmountMinor: sum / BigInt(profile.length),
    medianAmountMinor: sorted[(sorted.length - 1) >> 1],
    previousEventTimeMs,
  };
}
