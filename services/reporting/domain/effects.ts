/**
 * What one event changes in the reporting read models (pure, no I/O).
 *
 * Counters are additive per event type, so the order events arrive in does not matter (a
 * capture may be consumed before its approval):
 *   approved   attempts +1, approved +1, approved amount += amount
 *   declined   attempts +1, declined +1, declines[code] +1, fraud declines +1 when code 59
 *   captured   captured amount += amount        refunded  refunded amount += amount
 *   voided / expired  released amount += amount
 *   batch_settled     settled gross / fees / net += the batch's amounts
 * Each counts on the event's business date (AuthorizationEvent.business_date;
 * SettlementBatchSettled.batch.business_date), per merchant and currency.
 *
 * The per-authorization row keeps the snapshot that is furthest along: the highest
 * (captured + refunded, occur_time, state rank), compared in that order.
 */
import { isMessage, type Message } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  AuthorizationEventSchema,
  AuthorizationEventType,
} from "../../../gen/payments/authorization/v1/authorization_events_pb.js";
import { AuthorizationState, AuthorizationStateSchema } from "../../../gen/payments/authorization/v1/authorization_pb.js";
import { SettlementBatchSettledSchema } from "../../../gen/payments/settlement/v1/settlement_events_pb.js";

/** ISO 8583 code of a suspected-fraud decline (SEMANTICS.md "Decline codes"). */
export const fraudResponseCode = "59";

/** Additive change to one (merchant, business date, currency) row; every amount in minor units. */
export interface SummaryDelta {
  readonly merchantId: string;
  readonly businessDate: string;
  readonly currencyCode: string;
  readonly authorizationCount: bigint;
  readonly approvedCount: bigint;
  readonly declinedCount: bigint;
  readonly fraudDeclinedCount: bigint;
  readonly approvedAmountMinor: bigint;
  readonly capturedAmountMinor: bigint;
  readonly refundedAmountMinor: bigint;
  readonly releasedAmountMinor: bigint;
  readonly settledGrossMinor: bigint;
  readonly settledFeesMinor: bigint;
  readonly settledNetMinor: bigint;
  /** ISO 8583 code to count in declines_by_code, when the event is a decline. */
  readonly declineCode?: string;
}

/** The authorization snapshot an event carries. */
export interface TransactionSnapshot {
  readonly authorizationId: string;
  readonly merchantId: string;
  readonly partnerId: string;
  readonly businessDate: string;
  readonly currencyCode: string;
  readonly amountMinor: bigint;
  readonly capturedAmountMinor: bigint;
  readonly refundedAmountMinor: bigint;
  /** State name without prefix, e.g. "CAPTURED". */
  readonly state: string;
  /** Orders snapshots with equal progress and time: terminal states win. */
  readonly stateRank: number;
  readonly responseCode: string;
  readonly eventTime: Date;
  readonly occurTime: Date;
  /** captured + refunded: how far along the lifecycle the snapshot is. */
  readonly progressMinor: bigint;
}

export interface ReportingEffects {
  readonly eventId: string;
  readonly summary: SummaryDelta;
  readonly transaction?: TransactionSnapshot;
}

/** An event the read models cannot use (missing merchant, date, currency...). Not retryable. */
export class InvalidEventError extends Error {
  override name = "InvalidEventError";
}

const datePattern = /^\d{4}-\d{2}-\d{2}$/;
const currencyPattern = /^[A-Z]{3}$/;

const zero: Omit<SummaryDelta, "merchantId" | "businessDate" | "currencyCode"> = {
  authorizationCount: 0n,
  approvedCount: 0n,
  declinedCount: 0n,
  fraudDeclinedCount: 0n,
  approvedAmountMinor: 0n,
  capturedAmountMinor: 0n,
  refundedAmountMinor: 0n,
  releasedAmountMinor: 0n,
  settledGrossMinor: 0n,
  settledFeesMinor: 0n,
  settledNetMinor: 0n,
};

const stateRanks: Record<number, number> = {
  [AuthorizationState.AUTHORIZED]: 1,
  [AuthorizationState.DECLINED]: 1,
  [AuthorizationState.PARTIALLY_CAPTURED]: 2,
  [AuthorizationState.CAPTURED]: 3,
  [AuthorizationState.VOIDED]: 3,
  [AuthorizationState.EXPIRED]: 3,
};

function ensure(condition: boolean, problem: string): asserts condition {
  if (!condition) throw new InvalidEventError(problem);
}

/** "CAPTURED" for AUTHORIZATION_STATE_CAPTURED; "UNSPECIFIED" for unknown values. */
export function stateName(state: AuthorizationState): string {
  return AuthorizationStateSchema.values.find((value) => value.number === state)?.localName ?? "UNSPECIFIED";
}

/** The effects of one event; throws InvalidEventError when it lacks what the views need. */
export function effectsOf(message: Message): ReportingEffects {
  if (isMessage(message, AuthorizationEventSchema)) {
    const authorization = message.authorization;
    ensure(authorization !== undefined, "authorization event without authorization snapshot");
    ensure(authorization.id !== "", "authorization.id is empty");
    ensure(authorization.merchantId !== "", "authorization.merchant_id is empty");
    const businessDate = message.businessDate || authorization.businessDate;
    ensure(datePattern.test(businessDate), `business_date ${JSON.stringify(businessDate)} is not YYYY-MM-DD`);
    const currencyCode = message.amount?.currencyCode || authorization.amount?.currencyCode || "";
    ensure(currencyPattern.test(currencyCode), `currency ${JSON.stringify(currencyCode)} is not ISO 4217`);
    const amountMinor = message.amount?.amountMinor ?? 0n;
    ensure(amountMinor >= 0n, "amount.amount_minor is negative");
    const base = { merchantId: authorization.merchantId, businessDate, currencyCode };
    let summary: SummaryDelta;
    switch (message.type) {
      case AuthorizationEventType.APPROVED:
        summary = { ...zero, ...base, authorizationCount: 1n, approvedCount: 1n, approvedAmountMinor: amountMinor };
        break;
      case AuthorizationEventType.DECLINED: {
        const code = authorization.responseCodeIso || "??";
        summary = {
          ...zero,
          ...base,
          authorizationCount: 1n,
          declinedCount: 1n,
          fraudDeclinedCount: code === fraudResponseCode ? 1n : 0n,
          declineCode: code,
        };
        break;
      }
      case AuthorizationEventType.CAPTURED:
        summary = { ...zero, ...base, capturedAmountMinor: amountMinor };
        break;
      case AuthorizationEventType.REFUNDED:
        summary = { ...zero, ...base, refundedAmountMinor: amountMinor };
        break;
      case AuthorizationEventType.VOIDED:
      case AuthorizationEventType.EXPIRED:
        summary = { ...zero, ...base, releasedAmountMinor: amountMinor };
        break;
      default:
        throw new InvalidEventError(`unknown authorization event type ${message.type}`);
    }
    const occurTime = message.occurTime ? timestampDate(message.occurTime) : new Date(0);
    const captured = authorization.capturedAmountMinor;
    const refunded = authorization.refundedAmountMinor;
    const transaction: TransactionSnapshot = {
      authorizationId: authorization.id,
      merchantId: authorization.merchantId,
      partnerId: authorization.partnerId,
      businessDate: datePattern.test(authorization.businessDate) ? authorization.businessDate : businessDate,
      currencyCode: authorization.amount?.currencyCode || currencyCode,
      amountMinor: authorization.amount?.amountMinor ?? 0n,
      capturedAmountMinor: captured,
      refundedAmountMinor: refunded,
      state: stateName(authorization.state),
      stateRank: stateRanks[authorization.state] ?? 0,
      responseCode: authorization.responseCodeIso,
      eventTime: authorization.eventTime ? timestampDate(authorization.eventTime) : occurTime,
      occurTime,
      progressMinor: captured + refunded,
    };
    return { eventId: message.eventId, summary, transaction };
  }
  if (isMessage(message, SettlementBatchSettledSchema)) {
    const batch = message.batch;
    ensure(batch !== undefined, "settlement event without batch");
    ensure(batch.merchantId !== "", "batch.merchant_id is empty");
    ensure(datePattern.test(batch.businessDate), `batch.business_date ${JSON.stringify(batch.businessDate)} is not YYYY-MM-DD`);
    const currencyCode = batch.gross?.currencyCode || batch.net?.currencyCode || "";
    ensure(currencyPattern.test(currencyCode), `batch currency ${JSON.stringify(currencyCode)} is not ISO 4217`);
    for (const [name, money] of [["fees", batch.fees], ["net", batch.net]] as const) {
      ensure(!money || money.currencyCode === "" || money.currencyCode === currencyCode, `batch.${name} currency differs from gross`);
    }
    return {
      eventId: message.eventId,
      summary: {
        ...zero,
        merchantId: batch.merchantId,
        businessDate: batch.businessDate,
        currencyCode,
        settledGrossMinor: batch.gross?.amountMinor ?? 0n,
        settledFeesMinor: batch.fees?.amountMinor ?? 0n,
        settledNetMinor: batch.net?.amountMinor ?? 0n,
      },
    };
  }
  throw new InvalidEventError(`reporting does not read ${message.$typeName}`);
}

/** approved / attempts in basis points (0..10000), integer division; 0 without attempts. */
export function approvalRateBps(approvedCount: bigint, authorizationCount: bigint): number {
  if (authorizationCount <= 0n) return 0;
  const bps = (approvedCount * 10_000n) / authorizationCount;
  if (bps < 0n || bps > 10_000n) throw new Error(`approval rate ${bps} bps out of range: approved exceeds attempts`);
  return Number(bps);
}
