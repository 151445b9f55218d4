/**
 * Amount profiles of merchant categories: what a legitimate purchase in a category usually
 * costs. Amounts are integer minor units of `currency` (USD cents); a profile only applies to
 * authorizations in that currency (no FX conversion in the scorer).
 *
 * Source: the legitimate (is_fraud = 0) rows of the Sparkov slice in
 * /work/shared/data/transactions.csv.gz, measured by scripts/fraud-eval.ts --profiles:
 * `highMinor` is about the 99th percentile of legitimate amounts, rounded; `ceilingMinor` is
 * just above the largest legitimate amount; `lowMinor` is set
 * only where the category has a real floor (a fuel fill or a grocery basket is rarely a few
 * dollars) and sits below the 1st percentile. Categories with many legitimate micro-payments
 * (online shopping, travel, misc) have no floor. These are category-level facts, not fitted to
 * any card or merchant; see docs/fraud.md.
 */
export interface CategoryProfile {
  readonly currency: string;
  /** Amounts at or below this are unusually small for the category ("card testing"); 0n: no floor. */
  readonly lowMinor: bigint;
  /** About the 99th percentile of legitimate amounts in the category. */
  readonly highMinor: bigint;
  /** Just above the largest legitimate amount seen in the category: beyond its range. */
  readonly ceilingMinor: bigint;
}

const usd = (lowMinor: bigint, highMinor: bigint, ceilingMinor: bigint): CategoryProfile => ({
  currency: "USD",
  lowMinor,
  highMinor,
  ceilingMinor,
});

/** Sparkov's 14 categories ("_net" = card not present, "_pos" = card present). */
export const categoryProfiles: Readonly<Record<string, CategoryProfile>> = {
  entertainment: usd(0n, 30_000n, 45_000n),
  food_dining: usd(0n, 20_000n, 47_000n),
  gas_transport: usd(2_500n, 11_000n, 13_000n),
  grocery_net: usd(1_500n, 12_000n, 13_000n),
  grocery_pos: usd(2_000n, 24_000n, 26_000n),
  health_fitness: usd(0n, 20_000n, 30_000n),
  home: usd(0n, 23_000n, 33_000n),
  kids_pets: usd(0n, 21_000n, 33_000n),
  misc_net: usd(0n, 80_000n, 165_000n),
  misc_pos: usd(0n, 47_000n, 90_000n),
  personal_care: usd(0n, 20_000n, 23_000n),
  shopping_net: usd(0n, 77_000n, 145_000n),
  shopping_pos: usd(0n, 68_000n, 130_000n),
  travel: usd(0n, 61_000n, 320_000n),
};

/** The profile of `category` for `currency`, or undefined (unknown category or other currency). */
export function profileOf(category: string, currency: string): CategoryProfile | undefined {
  const profile = Object.hasOwn(categoryProfiles, category) ? categoryProfiles[category] : undefined;
  return profile && profile.currency === currency ? profile : undefined;
}
