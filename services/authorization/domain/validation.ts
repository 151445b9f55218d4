import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Money, GeoPoint } from "../../../gen/payments/common/v1/money_pb.js";
import { invalidArgument } from "../../shared/errors.ts";
import { clientIdPattern } from "../../shared/ids.ts";
import { amountMinorMax, isCurrency } from "../../shared/money.ts";
import { cardTokenPattern, isValidPan } from "./card.ts";

/**
 * Request validation for the authorization RPCs. Each check throws INVALID_ARGUMENT naming the
 * field (dotted proto path) before anything is read or written.
 */

/** Idempotency keys: 1..255 printable ASCII characters, no spaces (Stripe allows up to 255). */
export const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

export function requireIdempotencyKey(key: string): void {
  if (key === "") throw invalidArgument("idempotency_key", "is required");
  if (!idempotencyKeyPattern.test(key)) {
    throw invalidArgument("idempotency_key", "must be 1..255 printable ASCII characters without spaces");
  }
}

export function requireClientId(field: string, value: string): void {
  if (value === "") throw invalidArgument(field, "is required");
  if (!clientIdPattern.test(value)) throw invalidArgument(field, "must be 1..64 characters of [A-Za-z0-9_.:-]");
}

/** Authorization ids are "auth_" + 32 hex. */
export function requireAuthorizationId(value: string): void {
  if (value === "") throw invalidArgument("authorization_id", "is required");
  if (!/^auth_[0-9a-f]{32}$/.test(value)) throw invalidArgument("authorization_id", "is not an authorization id");
}

/** Money with a known ISO 4217 currency and 1 <= amount_minor <= 2^63-1. */
export function requirePositiveMoney(field: string, money: Money | undefined): asserts money is Money {
  if (!money) throw invalidArgument(field, "is required");
  if (money.currencyCode === "") throw invalidArgument(`${field}.currency_code`, "is required");
  if (!isCurrency(money.currencyCode)) throw invalidArgument(`${field}.currency_code`, `${JSON.stringify(money.currencyCode)} is not a supported ISO 4217 code`);
  if (money.amountMinor <= 0n) throw invalidArgument(`${field}.amount_minor`, "must be at least 1 minor unit");
  if (money.amountMinor > amountMinorMax) throw invalidArgument(`${field}.amount_minor`, "overflows 64-bit minor units");
}

export function requirePan(field: string, pan: string): void {
  if (pan === "") throw invalidArgument(field, "is required");
  if (!isValidPan(pan)) throw invalidArgument(field, "must be 8..19 digits (ISO/IEC 7812-1) passing the Luhn check");
}

export function requireCardToken(field: string, token: string): void {
  if (!cardTokenPattern.test(token)) throw invalidArgument(field, "must be a card token (card_ + 32 hex)");
}

export function requireGeoPoint(field: string, point: GeoPoint | undefined): void {
  if (!point) return;
  if (!Number.isFinite(point.latitude) || Math.abs(point.latitude) > 90) throw invalidArgument(`${field}.latitude`, "must be within -90..90");
  if (!Number.isFinite(point.longitude) || Math.abs(point.longitude) > 180) throw invalidArgument(`${field}.longitude`, "must be within -180..180");
}

/** A timestamp between 1970 and 9999; undefined means "now". */
export function timeOrNow(field: string, timestamp: Timestamp | undefined, now: Date): Date {
  if (!timestamp) return now;
  if (timestamp.seconds < 0n || timestamp.seconds > 253402300799n || timestamp.nanos < 0 || timestamp.nanos > 999_999_999) {
    throw invalidArgument(field, "must be a valid timestamp between 1970 and 9999");
  }
  return timestampDate(timestamp);
}

export const merchantCategoryPattern = /^[a-z][a-z0-9_]{0,63}$/;

export function requireMerchantCategory(value: string): void {
  if (value === "") throw invalidArgument("merchant_category", "is required");
  if (!merchantCategoryPattern.test(value)) throw invalidArgument("merchant_category", "must be lower snake case, 1..64 characters");
}

/** UTC calendar date of an instant, YYYY-MM-DD: the business date (cut-off 24:00 UTC). */
export function businessDateOf(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}
