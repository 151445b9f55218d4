import { amountMinorMax } from "../../shared/money.ts";
import { captureFees, defaultFeeSchedule, type FeeSchedule } from "./fees.ts";

/** One cleared operation (a capture or a refund) as settlement sees it. */
export interface ClearingOperation {
  readonly id: string;
  readonly kind: "capture" | "refund";
  readonly merchantId: string;
  readonly partnerId: string;
  /** Minor units, >= 1. */
  readonly amountMinor: bigint;
  readonly cardPresent: boolean;
}

/** A merchant's totals for one business day, all minor units. */
export interface MerchantTotals {
  readonly merchantId: string;
  readonly partnerId: string;
  readonly captureCount: bigint;
  readonly refundCount: bigint;
  /** Sum of captures. */
  readonly gross: bigint;
  /** Sum of refunds. */
  readonly refunds: bigint;
  readonly interchange: bigint;
  readonly schemeFees: bigint;
  readonly markup: bigint;
  /** interchange + schemeFees + markup. */
  readonly fees: bigint;
  /** gross - refunds - fees; negative when refunds and fees exceed captures. */
  readonly net: bigint;
}

/** Thrown when a day's totals would not fit a signed 64-bit amount. */
export class AmountOverflowError extends Error {}

function checked(value: bigint, what: string): bigint {
  if (value > amountMinorMax || value < -amountMinorMax) {
    throw new AmountOverflowError(`${what} ${value} does not fit a signed 64-bit amount`);
  }
  return value;
}

/**
 * Totals of one merchant's operations of one day under `schedule`. Fees are computed per
 * capture and summed (fees.ts). Throws AmountOverflowError when a sum passes 2^63-1, and Error
 * on an operation of another merchant or with a non-positive amount (callers validate first).
 */
export function merchantTotals(
  merchantId: string,
  operations: readonly ClearingOperation[],
  schedule: FeeSchedule = defaultFeeSchedule,
): MerchantTotals {
  let gross = 0n;
  let refunds = 0n;
  let interchange = 0n;
  let schemeFees = 0n;
  let markup = 0n;
  let captureCount = 0n;
  let refundCount = 0n;
  let partnerId = "";
  for (const operation of operations) {
    if (operation.merchantId !== merchantId) throw new Error(`operation ${operation.id} is not of merchant ${merchantId}`);
    if (operation.amountMinor < 1n) throw new Error(`operation ${operation.id} has amount ${operation.amountMinor}`);
    partnerId ||= operation.partnerId;
    if (operation.kind === "capture") {
      const fee = captureFees(operation.amountMinor, operation.cardPresent, schedule);
      gross += operation.amountMinor;
      interchange += fee.interchange;
      schemeFees += fee.scheme;
      markup += fee.markup;
      captureCount += 1n;
    } else {
      refunds += operation.amountMinor;
      refundCount += 1n;
    }
  }
  const fees = interchange + schemeFees + markup;
  const net = gross - refunds - fees;
  return {
    merchantId,
    partnerId,
    captureCount,
    refundCount,
    gross: checked(gross, "gross"),
    refunds: checked(refunds, "refunds"),
    interchange: checked(interchange, "interchange"),
    schemeFees: checked(schemeFees, "scheme fees"),
    markup: checked(markup, "markup"),
    fees: checked(fees, "fees"),
    net: checked(net, "net"),
  };
}

/** Groups a day's operations by merchant and totals each; ordered by merchant id. */
export function totalsByMerchant(operations: readonly ClearingOperation[], schedule: FeeSchedule = defaultFeeSchedule): MerchantTotals[] {
  const groups = new Map<string, ClearingOperation[]>();
  for (const operation of operations) {
    const group = groups.get(operation.merchantId);
    if (group) group.push(operation);
    else groups.set(operation.merchantId, [operation]);
  }
  return [...groups.keys()]
    .sort(compareText)
    .map((merchantId) => merchantTotals(merchantId, groups.get(merchantId)!, schedule));
}

/** Byte-order comparison (the same order as PostgreSQL's "C" collation and our page tokens). */
export function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Asserts the batch identities: fees = interchange + scheme + markup, net = gross - refunds -
 * fees, non-negative parts. Called on write and on read; a failure is a bug, never bad input.
 */
export function assertTotals(totals: Omit<MerchantTotals, "merchantId" | "partnerId"> & { id?: string }): void {
  const label = totals.id ?? "batch";
  if (totals.fees !== totals.interchange + totals.schemeFees + totals.markup) throw new Error(`${label}: fees != interchange + scheme + markup`);
  if (totals.net !== totals.gross - totals.refunds - totals.fees) throw new Error(`${label}: net != gross - refunds - fees`);
  for (const [name, value] of [["gross", totals.gross], ["refunds", totals.refunds], ["fees", totals.fees], ["captureCount", totals.captureCount], ["refundCount", totals.refundCount]] as const) {
    if (value < 0n) throw new Error(`${label}: ${name} is negative`);
  }
}
