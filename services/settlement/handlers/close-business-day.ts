import type { HandlerContext } from "@connectrpc/connect";
import type { CloseBusinessDayRequest, CloseBusinessDayResponse } from "../../../gen/payments/settlement/v1/settlement_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { CloseBusinessDayResponseSchema } from "../../../gen/payments/settlement/v1/settlement_service_pb.js";
import { failedPrecondition, invalidArgument } from "../../shared/errors.ts";
import { toBatchProto } from "../batch-proto.ts";
import { AmountOverflowError, totalsByMerchant, type MerchantTotals } from "../domain/batches.ts";
import { cutoffMsOf } from "../domain/dates.ts";
import { defaultFeeSchedule } from "../domain/fees.ts";
import { batchIdOf } from "../domain/ids.ts";
import { plannedTransfersOf } from "../domain/transfers.ts";
import { ensureSettlementAccounts, fetchClearingFile, postTransfers } from "../downstream.ts";
import { dayBatches, findBusinessDay, freezeDayPlan, settleDay, type BatchRow } from "../store/queries.ts";
import type { SettlementDeps } from "./deps.ts";
import { requireBusinessDate, requireCurrency } from "./validate.ts";

/**
 * CloseBusinessDay(business_date, currency_code).
 *
 * 1. Validates: business_date YYYY-MM-DD real date, currency_code a supported ISO 4217 code,
 *    otherwise INVALID_ARGUMENT naming the field, nothing written.
 *    The day must be over: now >= next 00:00 UTC + SETTLEMENT_CUTOFF_DELAY_MS, otherwise
 *    FAILED_PRECONDITION BUSINESS_DAY_NOT_OVER.
 * 2. A closed day returns its stored batches with already_closed = true (no downstream call).
 * 3. Otherwise (first run) reads the clearing file (AuthorizationService.ListOperations, all
 *    pages), totals per merchant with fees (domain/fees.ts), and freezes the plan (day row +
 *    'planned' batches) in one transaction; a re-run after a crash reuses the frozen plan.
 * 4. Ensures fees/clearing/bank accounts for the currency, then posts every batch's fee, net and
 *    payout transfers with deterministic ids (domain/transfers.ts); OK and EXISTS are success.
 * 5. In one transaction: batches settled, one SettlementBatchSettled event each (outbox),
 *    day closed. Exactly once even under concurrent closes.
 * Errors: downstream failures are wrapped (UNAVAILABLE <DEP>_UNAVAILABLE or INTERNAL <DEP>_ERROR);
 * a ledger rejection is FAILED_PRECONDITION LEDGER_TRANSFER_REJECTED; a day whose sums pass
 * 2^63-1 is FAILED_PRECONDITION AMOUNT_OVERFLOW. Clearing is read from the authorization
 * service's own records, not from the event stream, so nothing waits for consumers.
 */
export function closeBusinessDayHandler(deps: SettlementDeps, ensuredCurrencies: Set<string>) {
  const clock = deps.clock ?? (() => new Date());
  const schedule = deps.feeSchedule ?? defaultFeeSchedule;
  return async function closeBusinessDay(request: CloseBusinessDayRequest, context: HandlerContext): Promise<CloseBusinessDayResponse> {
    const businessDate = requireBusinessDate(request.businessDate);
    const currencyCode = requireCurrency(request.currencyCode);
    const now = clock();
    if (now.getTime() < cutoffMsOf(businessDate) + deps.settings.cutoffDelayMs) {
      throw failedPrecondition(
        "BUSINESS_DAY_NOT_OVER",
        `business_date ${businessDate} is not over: cut-off is 24:00 UTC plus ${deps.settings.cutoffDelayMs} ms`,
        "business_date",
      );
    }
    const respond = (batches: readonly BatchRow[], alreadyClosed: boolean) =>
      create(CloseBusinessDayResponseSchema, { batches: batches.map(toBatchProto), alreadyClosed });

    const day = await findBusinessDay(deps.pool, businessDate, currencyCode);
    if (day?.closeTime) return respond(await dayBatches(deps.pool, businessDate, currencyCode), true);

    let batches: BatchRow[];
    if (!day) {
      const operations = await fetchClearingFile(deps.authorization, deps.settings, businessDate, currencyCode, context.signal);
      let totals: MerchantTotals[];
      try {
        totals = totalsByMerchant(operations, schedule);
      } catch (error) {
        if (error instanceof AmountOverflowError) throw failedPrecondition("AMOUNT_OVERFLOW", error.message);
        throw error;
      }
      const planned = totals.map((merchant) => ({ ...merchant, id: batchIdOf(businessDate, merchant.merchantId) }));
      batches = (await freezeDayPlan(deps.pool, businessDate, currencyCode, planned)).batches;
    } else {
      batches = await dayBatches(deps.pool, businessDate, currencyCode);
    }

    if (!ensuredCurrencies.has(currencyCode)) {
      await ensureSettlementAccounts(deps.ledger, deps.settings, currencyCode, context.signal);
      ensuredCurrencies.add(currencyCode);
    }
    await postTransfers(deps.ledger, deps.settings, batches.flatMap(plannedTransfersOf), context.signal);
    const settled = await settleDay(deps.pool, { businessDate, currencyCode, subjectPrefix: deps.subjectPrefix, now: clock() });
    deps.logger?.info(
      { business_date: businessDate, currency: currencyCode, batches: settled.batches.length, already_closed: settled.alreadyClosed },
      "business day closed",
    );
    return respond(settled.batches, settled.alreadyClosed);
  };
}
