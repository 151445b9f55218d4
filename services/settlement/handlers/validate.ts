import { invalidArgument } from "../../shared/errors.ts";
import { clientIdPattern } from "../../shared/ids.ts";
import { isCurrency } from "../../shared/money.ts";
import { businessDateProblem } from "../domain/dates.ts";

/** Throws INVALID_ARGUMENT naming `field` unless `value` is a YYYY-MM-DD real date (1970..9999). */
export function requireBusinessDate(value: string, field = "business_date"): string {
  const problem = businessDateProblem(value);
  if (problem) throw invalidArgument(field, problem);
  return value;
}

/** Throws INVALID_ARGUMENT naming `field` unless `value` is a supported ISO 4217 code. */
export function requireCurrency(value: string, field = "currency_code"): string {
  if (!isCurrency(value)) throw invalidArgument(field, "must be a supported ISO 4217 code, e.g. USD");
  return value;
}

/** Throws INVALID_ARGUMENT naming `field` unless `value` is 1..64 chars of [A-Za-z0-9_.:-]. */
export function requireMerchantId(value: string, field = "merchant_id"): string {
  if (!clientIdPattern.test(value)) throw invalidArgument(field, "must be 1..64 characters of [A-Za-z0-9_.:-]");
  return value;
}
