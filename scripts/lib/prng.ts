import { createHash } from "node:crypto";

/**
 * mulberry32: a tiny seeded 32-bit PRNG (public domain, Tommy Ettinger). Deterministic for a
 * seed; not for cryptography. Returns floats in [0, 1) and integers.
 */
export function mulberry32(seed: number): { next(): number; nextUint32(): number } {
  let state = seed >>> 0;
  const nextUint32 = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return { nextUint32, next: () => nextUint32() / 4294967296 };
}

/**
 * A PRNG for one key under a run seed: the same (seed, key) always draws the same numbers,
 * whatever the order or concurrency the keys are processed in.
 */
export function prngFor(seed: number, key: string): ReturnType<typeof mulberry32> {
  const digest = createHash("sha256").update(`${seed}:${key}`).digest();
  return mulberry32(digest.readUInt32BE(0));
}

/** Share of captures the replay refunds (2 %), and of those the share refunded in full (50 %). */
export const refundShare = 0.02;
export const refundFullShare = 0.5;

/**
 * The derived refund of a captured row, decided by (seed, trans_num): undefined for ~98 % of
 * rows; otherwise the full amount (half the time) or a partial amount uniform in
 * 1..amount-1 cents (integer arithmetic on bigint, never a float on money).
 */
export function refundPlanFor(seed: number, transNum: string, capturedMinor: bigint): bigint | undefined {
  const random = prngFor(seed, transNum);
  if (random.next() >= refundShare) return undefined;
  if (capturedMinor <= 1n || random.next() < refundFullShare) return capturedMinor;
  const draw = (BigInt(random.nextUint32()) << 32n) | BigInt(random.nextUint32());
  return 1n + (draw % (capturedMinor - 1n));
}
