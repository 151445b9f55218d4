import { create } from "@bufbuild/protobuf";
import { TransferState } from "../../../gen/payments/ledger/v1/ledger_pb.js";
import {
  ReconcileBreakSchema,
  ReconcileResponseSchema,
  type ReconcileRequest,
  type ReconcileResponse,
} from "../../../gen/payments/settlement/v1/settlement_service_pb.js";
import type { HandlerContext } from "@connectrpc/connect";
import { failedPrecondition } from "../../shared/errors.ts";
import { totalsByMerchant } from "../domain/batches.ts";
import { ledgerIdsToLookUp, reconcile, type ClearingTotals } from "../domain/reconcile.ts";
import { fetchClearingFile, lookupTransfers } from "../downstream.ts";
import { closedBatchesOf, closedCurrenciesOf, recordReconciliation } from "../store/queries.ts";
import type { SettlementDeps } from "./deps.ts";
import { requireBusinessDate } from "./validate.ts";

/**
 * Reconcile(business_date): matches the day's settled batches (every closed currency) against
 * the ledger (LedgerService.LookupTransfers by the deterministic ids) and against the clearing
 * file re-read from AuthorizationService.ListOperations (late operations show up as breaks).
 * Matched batches become RECONCILED; batches with breaks stay (or go back to) SETTLED. The
 * break kinds are in domain/reconcile.ts. Bad date: INVALID_ARGUMENT business_date; no closed
 * currency on that date: FAILED_PRECONDITION BUSINESS_DAY_NOT_CLOSED. Downstream failures are
 * wrapped as in CloseBusinessDay.
 */
export function reconcileHandler(deps: SettlementDeps) {
  const clock = deps.clock ?? (() => new Date());
  return async function reconcileDay(request: ReconcileRequest, context: HandlerContext): Promise<ReconcileResponse> {
    const businessDate = requireBusinessDate(request.businessDate);
    const currencies = await closedCurrenciesOf(deps.pool, businessDate);
    if (currencies.length === 0) {
      throw failedPrecondition("BUSINESS_DAY_NOT_CLOSED", `business_date ${businessDate} has no closed currency`, "business_date");
    }
    const batches = await closedBatchesOf(deps.pool, businessDate);
    const transfers = await lookupTransfers(deps.ledger, deps.settings, ledgerIdsToLookUp(batches), context.signal);
    const operations = await fetchClearingFile(deps.authorization, deps.settings, businessDate, "", context.signal);
    const clearing: Array<ClearingTotals & { currencyCode: string }> = [];
    for (const currencyCode of currencies) {
      const ofCurrency = operations.filter((operation) => operation.currencyCode === currencyCode);
      for (const totals of totalsByMerchant(ofCurrency)) clearing.push({ ...totals, currencyCode });
    }
    const result = reconcile(
      batches,
      transfers.map((transfer) => ({
        id: transfer.id,
        debitAccountId: transfer.debitAccountId,
        creditAccountId: transfer.creditAccountId,
        amount: transfer.amount,
        ledger: transfer.ledger,
        code: transfer.code,
        posted: transfer.state === TransferState.POSTED,
      })),
      clearing,
    );
    await recordReconciliation(deps.pool, result.matchedIds, result.brokenIds, clock());
    deps.logger?.info(
      { business_date: businessDate, matched: result.matchedIds.length, breaks: result.breaks.length },
      "reconciled",
    );
    return create(ReconcileResponseSchema, {
      matchedCount: BigInt(result.matchedIds.length),
      breaks: result.breaks.map((item) => create(ReconcileBreakSchema, item)),
    });
  };
}
