import { accountIds, transferCodes } from "../../shared/chart.ts";
import { ledgerOf } from "../../shared/money.ts";
import { ledgerTransferIdsOf } from "./ids.ts";

/** One ledger transfer a batch needs (an immediately posted transfer). */
export interface PlannedTransfer {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  /** Minor units, >= 1. */
  readonly amount: bigint;
  readonly ledger: number;
  readonly code: number;
  /** The batch id, stored as the transfer's user_data for tracing. */
  readonly userData: string;
}

/**
 * The ledger transfers that settle one batch (chart: services/shared/chart.ts):
 *   fee     `stl:<ref>:fee`  code 30  merchant -> fees:<CUR>          amount = fees
 *   net     `stl:<ref>:net`  code 31  merchant -> clearing:<CUR>      amount = net      (net > 0)
 *                                     clearing:<CUR> -> merchant      amount = -net     (net < 0)
 *   payout  `payout:<ref>`   code 40  clearing:<CUR> -> bank:<CUR>    amount = net      (net > 0)
 *                                     bank:<CUR> -> clearing:<CUR>    amount = -net     (net < 0,
 *                                     a collection from the merchant's bank)
 * so the clearing account nets to zero per batch. Zero amounts are skipped.
 */
export function plannedTransfersOf(batch: {
  readonly id: string;
  readonly merchantId: string;
  readonly currencyCode: string;
  readonly fees: bigint;
  readonly net: bigint;
}): PlannedTransfer[] {
  const ids = ledgerTransferIdsOf(batch.id);
  const ledger = ledgerOf(batch.currencyCode);
  const merchant = accountIds.merchant(batch.merchantId);
  const fees = accountIds.fees(batch.currencyCode);
  const clearing = accountIds.clearing(batch.currencyCode);
  const bank = accountIds.bank(batch.currencyCode);
  const base = { ledger, userData: batch.id };
  const planned: PlannedTransfer[] = [];
  if (batch.fees > 0n) {
    planned.push({ ...base, id: ids.fee, debitAccountId: merchant, creditAccountId: fees, amount: batch.fees, code: transferCodes.settlementFee });
  }
  if (batch.net > 0n) {
    planned.push({ ...base, id: ids.net, debitAccountId: merchant, creditAccountId: clearing, amount: batch.net, code: transferCodes.settlementNet });
    planned.push({ ...base, id: ids.payout, debitAccountId: clearing, creditAccountId: bank, amount: batch.net, code: transferCodes.payout });
  } else if (batch.net < 0n) {
    planned.push({ ...base, id: ids.net, debitAccountId: clearing, creditAccountId: merchant, amount: -batch.net, code: transferCodes.settlementNet });
    planned.push({ ...base, id: ids.payout, debitAccountId: bank, creditAccountId: clearing, amount: -batch.net, code: transferCodes.payout });
  }
  return planned;
}
