import { v7 as uuidv7 } from "uuid";

/**
 * The closed list of id prefixes. Every generated id is `<prefix>_<32 hex>` where the hex is a
 * UUIDv7 (RFC 9562): time-ordered, so ids sort by creation time and index well.
 */
export const idPrefixes = [
  "auth", // authorization
  "cap", // capture
  "rfd", // refund
  "vd", // void
  "evt", // event
  "fra", // fraud assessment
  "stl", // settlement batch
  "whe", // webhook endpoint
  "dlv", // webhook delivery
  "req", // request id
  "led", // ledger change event
] as const;

export type IdPrefix = (typeof idPrefixes)[number];

/** Returns a new time-ordered id such as `auth_0190f3c2...` (prefix + 32 lowercase hex). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${uuidv7().replaceAll("-", "")}`;
}

/** Client-chosen ids (accounts, transfers, merchants): 1..64 chars of [A-Za-z0-9_.:-]. */
export const clientIdPattern = /^[A-Za-z0-9_.:-]{1,64}$/;
