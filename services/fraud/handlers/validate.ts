/**
 * Validation of AssessRequest at the edge: every problem is INVALID_ARGUMENT naming the field
 * (services/shared/errors.ts), checked in field order before anything is read or written.
 */
import type { AssessRequest } from "../../../gen/payments/fraud/v1/fraud_service_pb.js";
import type { GeoPoint as GeoPointMessage } from "../../../gen/payments/common/v1/money_pb.js";
import { invalidArgument } from "../../shared/errors.ts";
import { clientIdPattern } from "../../shared/ids.ts";
import { amountMinorMax, isCurrency } from "../../shared/money.ts";
import type { GeoPoint, Transaction } from "../domain/scorer.ts";

/** A card token: "card_" + 8..64 hex digits (an HMAC fingerprint of the PAN, never the PAN). */
export const cardTokenPattern = /^card_[0-9a-fA-F]{8,64}$/;
/** Anything that is only digits (spaces and dashes allowed) may be a PAN and is refused. */
const panLike = /^[0-9 -]{6,}$/;
const textLengthMax = 64;
/** Event times accepted: 1970-01-01 .. 9999-12-31 UTC. */
const eventTimeMsMax = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The validated request: the scorer's Transaction plus the ids the store needs. */
export interface ValidAssessRequest {
  readonly authorizationId: string;
  readonly cardToken: string;
  readonly merchantId: string;
  readonly transaction: Transaction;
}

/** Validates an authorization id (required, 1..64 of [A-Za-z0-9_.:-]); `field` names it in errors. */
export function validateAuthorizationId(value: string, field = "authorization_id"): string {
  if (value === "") throw invalidArgument(field, "required");
  if (!clientIdPattern.test(value)) throw invalidArgument(field, "must be 1..64 characters of [A-Za-z0-9_.:-]");
  return value;
}

function validatePoint(point: GeoPointMessage | undefined, field: string): GeoPoint | undefined {
  if (point === undefined) return undefined;
  if (!Number.isFinite(point.latitude) || point.latitude < -90 || point.latitude > 90) {
    throw invalidArgument(`${field}.latitude`, "must be a number in -90..90");
  }
  if (!Number.isFinite(point.longitude) || point.longitude < -180 || point.longitude > 180) {
    throw invalidArgument(`${field}.longitude`, "must be a number in -180..180");
  }
  return { latitude: point.latitude, longitude: point.longitude };
}

/**
 * Checks an AssessRequest and returns it in domain form. Throws INVALID_ARGUMENT naming the
 * first bad field: authorization_id (required, id charset), card_token (required, "card_<hex>",
 * never all digits: a PAN), merchant_id and merchant_category (<= 64 chars), amount (required),
 * amount.currency_code (known ISO 4217), amount.amount_minor (1..2^63-1), event_time
 * (required, 1970..9999), cardholder_location / merchant_location (degrees in range).
 */
export function validateAssessRequest(request: AssessRequest): ValidAssessRequest {
  const authorizationId = validateAuthorizationId(request.authorizationId);
  if (request.cardToken === "") throw invalidArgument("card_token", "required");
  if (panLike.test(request.cardToken)) {
    throw invalidArgument("card_token", "looks like a card number (PAN); send the card token (card_<hex>), never the PAN");
  }
  if (!cardTokenPattern.test(request.cardToken)) throw invalidArgument("card_token", "must be card_ followed by 8..64 hex digits");
  if (request.merchantId.length > textLengthMax) throw invalidArgument("merchant_id", `must be at most ${textLengthMax} characters`);
  if (request.merchantCategory.length > textLengthMax) {
    throw invalidArgument("merchant_category", `must be at most ${textLengthMax} characters`);
  }
  const amount = request.amount;
  if (amount === undefined) throw invalidArgument("amount", "required");
  if (!isCurrency(amount.currencyCode)) throw invalidArgument("amount.currency_code", "must be a known ISO 4217 code, e.g. USD");
  if (amount.amountMinor < 1n || amount.amountMinor > amountMinorMax) {
    throw invalidArgument("amount.amount_minor", "must be >= 1 (minor units)");
  }
  const eventTime = request.eventTime;
  if (eventTime === undefined) throw invalidArgument("event_time", "required");
  if (eventTime.nanos < 0 || eventTime.nanos > 999_999_999) throw invalidArgument("event_time.nanos", "must be 0..999999999");
  // Bounded as a bigint first, so the conversion of these seconds (a time, not money) is exact.
  if (eventTime.seconds < 0n || eventTime.seconds > BigInt(Math.floor(eventTimeMsMax / 1000))) {
    throw invalidArgument("event_time", "must be between 1970-01-01 and 9999-12-31 UTC");
  }
  const eventTimeMs = Number(eventTime.seconds) * 1000 + Math.floor(eventTime.nanos / 1_000_000);
  if (eventTimeMs > eventTimeMsMax) {
    throw invalidArgument("event_time", "must be between 1970-01-01 and 9999-12-31 UTC");
  }
  const cardholderLocation = validatePoint(request.cardholderLocation, "cardholder_location");
  const merchantLocation = validatePoint(request.merchantLocation, "merchant_location");
  return {
    authorizationId,
    cardToken: request.cardToken,
    merchantId: request.merchantId,
    transaction: {
      amountMinor: amount.amountMinor,
      currencyCode: amount.currencyCode,
      merchantCategory: request.merchantCategory,
      cardPresent: request.cardPresent,
      cardholderLocation,
      merchantLocation,
      eventTimeMs,
    },
  };
}
