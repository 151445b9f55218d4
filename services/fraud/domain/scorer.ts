/**
 * rules-v1: the first fraud scorer. A pure function of what the authorization carries and the
 * card's recent history in event time. Each rule that fires adds points; the score is their
 * sum capped at 1000, and the authorization is declined at or above the decline score
 * (FRAUD_DECLINE_SCORE). Rules, weights and the measured results are in docs/fraud.md; the
 * weights were tuned with scripts/fraud-eval.ts on general features only (no card, merchant or
 * location is named anywhere).
 */
import { profileOf } from "./category-profiles.ts";
import { dayMs, type CardHistory } from "./history.ts";

export const modelVersion = "rules-v1";
export const scoreMax = 1000;
/** Default decline threshold, chosen with scripts/fraud-eval.ts (docs/fraud.md). */
export const declineScoreDefault = 550;

/** A WGS84 point in decimal degrees. */
export interface GeoPoint {
  readonly latitude: number;
  readonly longitude: number;
}

/** The authorization being scored. */
export interface Transaction {
  /** Minor units of currencyCode, >= 1. */
  readonly amountMinor: bigint;
  readonly currencyCode: string;
  readonly merchantCategory: string;
  readonly cardPresent: boolean;
  readonly cardholderLocation?: GeoPoint;
  readonly merchantLocation?: GeoPoint;
  /** Event time, epoch milliseconds (UTC). */
  readonly eventTimeMs: number;
}

/** Everything the rules look at, also stored with the assessment (as JSON) for audit. */
export interface Features {
  /** Hour of day of the event time in UTC, 0..23. */
  readonly hourUtc: number;
  /** 22:00..03:59 UTC. */
  readonly night: boolean;
  /** Cardholder -> merchant great-circle distance in km (haversine), -1 when unknown. */
  readonly distanceKm: number;
  readonly count1h: number;
  readonly count24h: number;
  readonly highRiskCount24h: number;
  readonly profileCount: number;
  readonly meanAmountMinor: bigint;
  readonly medianAmountMinor: bigint;
  /** amount * 1000 / card median, or -1n without a median. */
  readonly amountToMedianPermille: bigint;
  /** amount * 1000 / card mean, or -1n without a mean. */
  readonly amountToMeanPermille: bigint;
  /** amount * 1000 / category high amount, or -1n without a profile. */
  readonly amountToCategoryHighPermille: bigint;
  /** At or above the category's ceiling (beyond its legitimate range). */
  readonly beyondCategoryRange: boolean;
  /** At or below the category's floor (card testing). */
  readonly belowCategoryFloor: boolean;
  /** Minutes since the card's previous attempt, -1 when none. */
  readonly minutesSincePrevious: number;
}

export type Decision = "ALLOW" | "DECLINE";

export interface ScoreResult {
  readonly decision: Decision;
  /** 0..1000. */
  readonly score: number;
  /** Codes of the rules that fired, strongest first (ties in table order). */
  readonly reasons: readonly string[];
  readonly features: Features;
}

const earthRadiusKm = 6371.0088;

/** Great-circle distance in km between two WGS84 points (haversine formula). */
export function haversineKm(a: GeoPoint, b: GeoPoint): number {
  const radians = (degrees: number) => (degrees * Math.PI) / 180;
  const dLat = radians(b.latitude - a.latitude);
  const dLon = radians(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(radians(a.latitude)) * Math.cos(radians(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * earthRadiusKm * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Hour of day (0..23) of an epoch-millisecond time, in UTC. */
export function hourOfDayUtc(eventTimeMs: number): number {
  return Math.floor((((eventTimeMs % dayMs) + dayMs) % dayMs) / 3_600_000);
}

/** True for 22:00..03:59 UTC, where Sparkov fraud clusters (data README). */
export function isNight(hourUtc: number): boolean {
  return hourUtc >= 22 || hourUtc <= 3;
}

function permille(amountMinor: bigint, baseMinor: bigint): bigint {
  return baseMinor > 0n ? (amountMinor * 1000n) / baseMinor : -1n;
}

/** Derives the features of `transaction` given the card's `history`. */
export function extractFeatures(transaction: Transaction, history: CardHistory): Features {
  const hourUtc = hourOfDayUtc(transaction.eventTimeMs);
  const profile = profileOf(transaction.merchantCategory, transaction.currencyCode);
  const located = transaction.cardholderLocation && transaction.merchantLocation;
  return {
    hourUtc,
    night: isNight(hourUtc),
    distanceKm: located ? Math.round(haversineKm(transaction.cardholderLocation!, transaction.merchantLocation!)) : -1,
    count1h: history.count1h,
    count24h: history.count24h,
    highRiskCount24h: history.highRiskCount24h,
    profileCount: history.profileCount,
    meanAmountMinor: history.meanAmountMinor,
    medianAmountMinor: history.medianAmountMinor,
    amountToMedianPermille: permille(transaction.amountMinor, history.medianAmountMinor),
    amountToMeanPermille: permille(transaction.amountMinor, history.meanAmountMinor),
    amountToCategoryHighPermille: profile ? permille(transaction.amountMinor, profile.highMinor) : -1n,
    beyondCategoryRange: profile !== undefined && transaction.amountMinor >= profile.ceilingMinor,
    belowCategoryFloor: profile !== undefined && transaction.amountMinor <= profile.lowMinor,
    minutesSincePrevious:
      history.previousEventTimeMs === undefined ? -1 : Math.floor((transaction.eventTimeMs - history.previousEventTimeMs) / 60_000),
  };
}

/** One rule: a stable UPPER_SNAKE code, its points and when it fires. */
export interface Rule {
  readonly code: string;
  readonly points: number;
  readonly fires: (features: Features, transaction: Transaction) => boolean;
}

/** "High for the category" starts at this fraction (permille) of the category's p99 amount. */
export const highForCategoryPermille = 850n;

/** Card history needed before card-relative amount rules apply. */
export const cardProfileCountMin = 3;

/**
 * The rule table of rules-v1 (docs/fraud.md explains each). Mutually exclusive tiers of one
 * signal are listed strongest first and the first that fires wins (see `tier`).
 */
export const rules: readonly Rule[] = [
  // Amount against the category's legitimate range (category profile).
  { code: "AMOUNT_BEYOND_CATEGORY_RANGE", points: 450, fires: (f) => f.beyondCategoryRange },
  { code: "AMOUNT_FAR_ABOVE_CATEGORY", points: 350, fires: (f) => f.amountToCategoryHighPermille >= 1250n },
  { code: "AMOUNT_ABOVE_CATEGORY", points: 250, fires: (f) => f.amountToCategoryHighPermille >= 1000n },
  { code: "AMOUNT_HIGH_FOR_CATEGORY", points: 150, fires: (f) => f.amountToCategoryHighPermille >= highForCategoryPermille },
  // Earlier high-risk attempts on the card in the last 24 h (compromised cards come in bursts).
  { code: "RECENT_HIGH_RISK_ON_CARD", points: 250, fires: (f) => f.highRiskCount24h >= 1 },
  // Time of day, and a high amount at night.
  {
    code: "NIGHT_HIGH_AMOUNT",
    points: 150,
    fires: (f) => f.night && f.amountToCategoryHighPermille >= highForCategoryPermille,
  },
  // Unusually small amount for the category (card testing).
  { code: "AMOUNT_BELOW_CATEGORY_FLOOR", points: 200, fires: (f) => f.belowCategoryFloor },
  // Amount against the card's own spending (needs some history).
  {
    code: "AMOUNT_FAR_ABOVE_CARD_MEDIAN",
    points: 100,
    fires: (f) => f.profileCount >= cardProfileCountMin && f.amountToMedianPermille >= 5000n,
  },
  {
    code: "AMOUNT_ABOVE_CARD_MEDIAN",
    points: 50,
    fires: (f) => f.profileCount >= cardProfileCountMin && f.amountToMedianPermille >= 3000n,
  },
  { code: "NIGHT_TIME", points: 100, fires: (f) => f.night },
  // Velocity in event time.
  { code: "VELOCITY_1H", points: 120, fires: (f) => f.count1h >= 3 },
  { code: "VELOCITY_24H", points: 80, fires: (f) => f.count24h >= 10 },
  { code: "RAPID_REPEAT", points: 100, fires: (f) => f.minutesSincePrevious >= 0 && f.minutesSincePrevious < 2 },
  // Geography (cardholder home -> merchant).
  { code: "DISTANCE_VERY_FAR", points: 200, fires: (f) => f.distanceKm >= 2000 },
  { code: "DISTANCE_FAR", points: 100, fires: (f) => f.distanceKm >= 500 },
  // Card not present with an amount already high for the category.
  {
    code: "CARD_NOT_PRESENT_HIGH_AMOUNT",
    points: 50,
    fires: (f, t) => !t.cardPresent && f.amountToCategoryHighPermille >= highForCategoryPermille,
  },
];

/** Rule codes grouped as tiers of one signal: only the strongest firing code of a group counts. */
const tiers: readonly (readonly string[])[] = [
  ["AMOUNT_BEYOND_CATEGORY_RANGE", "AMOUNT_FAR_ABOVE_CATEGORY", "AMOUNT_ABOVE_CATEGORY", "AMOUNT_HIGH_FOR_CATEGORY"],
  ["AMOUNT_FAR_ABOVE_CARD_MEDIAN", "AMOUNT_ABOVE_CARD_MEDIAN"],
  ["DISTANCE_VERY_FAR", "DISTANCE_FAR"],
];
const tierOf = new Map<string, number>(tiers.flatMap((codes, index) => codes.map((code) => [code, index] as const)));

/**
 * Scores `transaction` against the card's `history`. Returns the decision (DECLINE when
 * score >= options.declineScore), the score 0..1000, the reasons strongest first and the
 * features. Pure: same input, same output.
 */
export function score(transaction: Transaction, history: CardHistory, options: { declineScore: number }): ScoreResult {
  const features = extractFeatures(transaction, history);
  const seenTiers = new Set<number>();
  const fired: Rule[] = [];
  for (const rule of rules) {
    const tier = tierOf.get(rule.code);
    if (tier !== undefined && seenTiers.has(tier)) continue;
    if (!rule.fires(features, transaction)) continue;
    if (tier !== undefined) seenTiers.add(tier);
    fired.push(rule);
  }
  const total = Math.min(scoreMax, fired.reduce((sum, rule) => sum + rule.points, 0));
  const reasons = fired
    .map((rule, index) => ({ rule, index }))
    .sort((a, b) => b.rule.points - a.rule.points || a.index - b.index)
    .map(({ rule }) => rule.code);
  return { decision: total >= options.declineScore ? "DECLINE" : "ALLOW", score: total, reasons, features };
}
