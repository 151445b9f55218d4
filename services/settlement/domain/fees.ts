/**
 * The settlement fee schedule and its integer arithmetic (docs/settlement.md, "Fees").
 *
 * Every amount is integer minor units in a bigint; basis points are integers (1 bps = 1/10000).
 * Fees are charged on captures only; refunds carry no fee and do not give fees back.
 *
 * Per capture of `amountMinor` (>= 0):
 *   interchange = roundHalfUp(amountMinor * interchangeBps / 10000)   (card-present or not)
 *   scheme      = roundHalfUp(amountMinor * schemeBps / 10000)
 *   markup      = roundHalfUp(amountMinor * markupBps / 10000) + markupFixedMinor
 * Rounding is per transaction and per component, half up (x.5 minor units -> x+1); amounts are
 * never negative, so half up is the same as half away from zero. A merchant's day totals are the
 * exact sums of the rounded per-capture components.
 */

/** Basis points per whole (10000 bps = 100%). */
export const basisPointsPerWhole = 10_000n;

/** A fee schedule: rates in integer basis points, the fixed part in minor units per capture. */
export interface FeeSchedule {
  /** Interchange for card-present captures (paid to the issuer). */
  readonly interchangeCardPresentBps: bigint;
  /** Interchange for card-not-present captures. */
  readonly interchangeCardNotPresentBps: bigint;
  /** Scheme (network) fee. */
  readonly schemeBps: bigint;
  /** Our markup (merchant discount) rate. */
  readonly markupBps: bigint;
  /** Our fixed markup per capture, minor units of the capture's currency. */
  readonly markupFixedMinor: bigint;
}

/**
 * The program's schedule: interchange 150 bps card-present / 180 bps card-not-present (in the
 * range of published US consumer credit interchange), scheme 13 bps, markup 30 bps + 10 minor
 * units per capture.
 */
export const defaultFeeSchedule: FeeSchedule = {
  interchangeCardPresentBps: 150n,
  interchangeCardNotPresentBps: 180n,
  schemeBps: 13n,
  markupBps: 30n,
  markupFixedMinor: 10n,
};

/** The fee components of one capture, minor units. */
export interface CaptureFees {
  readonly interchange: bigint;
  readonly scheme: bigint;
  readonly markup: bigint;
}

/**
 * `amountMinor * bps / 10000` rounded half up, in integers. Throws on a negative amount or rate
 * (a bug: amounts are validated before this point).
 */
export function basisPointsOf(amountMinor: bigint, bps: bigint): bigint {
  if (amountMinor < 0n || bps < 0n) throw new Error(`basisPointsOf: negative input ${amountMinor} * ${bps} bps`);
  return (amountMinor * bps + basisPointsPerWhole / 2n) / basisPointsPerWhole;
}

/** Fee components of one capture under `schedule` (see the module comment for the rule). */
export function captureFees(amountMinor: bigint, cardPresent: boolean, schedule: FeeSchedule = defaultFeeSchedule): CaptureFees {
  const interchangeBps = cardPresent ? schedule.interchangeCardPresentBps : schedule.interchangeCardNotPresentBps;
  return {
    interchange: basisPointsOf(amountMinor, interchangeBps),
    scheme: basisPointsOf(amountMinor, schedule.schemeBps),
    markup: basisPointsOf(amountMinor, schedule.markupBps) + schedule.markupFixedMinor,
  };
}
