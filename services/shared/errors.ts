import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The one place domain errors become wire errors. Every error carries a stable machine-readable
 * reason (AIP-193) in the `payments-error-reason` header/trailer, and bad input names its field
 * in `payments-error-field`. Callers match the reason, never the message text.
 */
export const errorReasonHeader = "payments-error-reason";
export const errorFieldHeader = "payments-error-field";

function withMeta(message: string, code: Code, reason: string, field?: string): ConnectError {
  const metadata = new Headers({ [errorReasonHeader]: reason });
  if (field) metadata.set(errorFieldHeader, field);
  return new ConnectError(message, code, metadata);
}

/** INVALID_ARGUMENT naming the field, e.g. invalidArgument("amount.amount_minor", "must be >= 1"). */
export function invalidArgument(field: string, problem: string): ConnectError {
  return withMeta(`${field}: ${problem}`, Code.InvalidArgument, "INVALID_FIELD", field);
}

/** NOT_FOUND for an unknown id, naming the field that carried it. */
export function notFound(field: string, id: string): ConnectError {
  return withMeta(`${field}: ${JSON.stringify(id)} not found`, Code.NotFound, "NOT_FOUND", field);
}

/** FAILED_PRECONDITION for a state conflict; `reason` is stable, e.g. "CAPTURE_EXCEEDS_AUTHORIZED". */
export function failedPrecondition(reason: string, message: string, field?: string): ConnectError {
  return withMeta(message, Code.FailedPrecondition, reason, field);
}

/** ALREADY_EXISTS: idempotency key reused with a different request. */
export function idempotencyKeyReused(): ConnectError {
  return withMeta(
    "idempotency_key: already used with a different request",
    Code.AlreadyExists,
    "IDEMPOTENCY_KEY_REUSED",
    "idempotency_key",
  );
}

/** ABORTED: the first request with this key is still in flight; retry later. */
export function idempotencyKeyInFlight(): ConnectError {
  return withMeta(
    "idempotency_key: a request with this key is still in flight; retry later",
    Code.Aborted,
    "IDEMPOTENCY_KEY_IN_FLIGHT",
    "idempotency_key",
  );
}

/** UNAVAILABLE for a dependency that is down or whose circuit is open. */
export function unavailable(reason: string, message: string): ConnectError {
  return withMeta(message, Code.Unavailable, reason);
}
