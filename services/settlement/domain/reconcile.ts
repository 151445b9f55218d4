import type { MerchantTotals } from "./batches.ts";
import { batchIdOf, ledgerTransferIdsOf } from "./ids.ts";
import { plannedTransfersOf } from "./transfers.ts";

/** A stored batch as reconciliation sees it. */
export interface ReconcilableBatch extends MerchantTotals {
  readonly id: string;
  readonly businessDate: string;
  readonly currencyCode: string;
}

/** A ledger transfer as reconciliation sees it (amount in minor units). */
export interface LedgerTransferView {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly ledger: number;
  readonly code: number;
  /** True when the transfer is an immediately posted one (state POSTED). */
  readonly posted: boolean;
}

/** Kinds of breaks, stable strings (ReconcileBreak.kind). */
export const breakKinds = {
  missingInLedger: "MISSING_IN_LEDGER",
  unexpectedInLedger: "UNEXPECTED_IN_LEDGER",
  amountMismatch: "AMOUNT_MISMATCH",
  accountMismatch: "ACCOUNT_MISMATCH",
  codeMismatch: "CODE_MISMATCH",
  stateMismatch: "STATE_MISMATCH",
  duplicate: "DUPLICATE",
  clearingMismatch: "CLEARING_MISMATCH",
  missingInSettlement: "MISSING_IN_SETTLEMENT",
} as const;

export interface ReconcileBreakView {
  /** Batch id or ledger transfer id. */
  readonly reference: string;
  readonly kind: (typeof breakKinds)[keyof typeof breakKinds];
  readonly detail: string;
}

/** The clearing file's totals of one merchant now (re-read at reconciliation time). */
export type ClearingTotals = Pick<MerchantTotals, "merchantId" | "gross" | "refunds" | "captureCount" | "refundCount">;

/** Every ledger id a batch could own (fee, net, payout), used or not. */
export function ledgerIdsToLookUp(batches: readonly ReconcilableBatch[]): string[] {
  return batches.flatMap((batch) => Object.values(ledgerTransferIdsOf(batch.id)));
}

/**
 * Matches a day's batches against (1) the ledger, by deterministic transfer id and then amount,
 * accounts, ledger/code and state, and (2) the clearing file re-read now, by merchant and
 * amounts. A batch matches when it has no break. Breaks:
 *   MISSING_IN_LEDGER     a planned transfer id is absent from the ledger
 *   UNEXPECTED_IN_LEDGER  a transfer exists under an id the batch does not use (its amount was 0)
 *   AMOUNT_MISMATCH / ACCOUNT_MISMATCH / CODE_MISMATCH (code or ledger) / STATE_MISMATCH (not posted)
 *   DUPLICATE             the ledger returned an id more than once, or two batches claim one id
 *   CLEARING_MISMATCH     the batch's gross/refunds/counts differ from the clearing file now
 *   MISSING_IN_SETTLEMENT a merchant in the clearing file (closed currency) has no batch
 */
export function reconcile(
  batches: readonly ReconcilableBatch[],
  ledgerTransfers: readonly LedgerTransferView[],
  clearing: readonly (ClearingTotals & { currencyCode: string })[],
): { matchedIds: string[]; brokenIds: string[]; breaks: ReconcileBreakView[] } {
  const breaks: ReconcileBreakView[] = [];
  const broken = new Set<string>();
  const add = (batchId: string, item: ReconcileBreakView) => {
    breaks.push(item);
    broken.add(batchId);
  };
  const byId = new Map<string, LedgerTransferView[]>();
  for (const transfer of ledgerTransfers) {
    const list = byId.get(transfer.id);
    if (list) list.push(transfer);
    else byId.set(transfer.id, [transfer]);
  }
  const claimedBy = new Map<string, string>();
  const clearingByMerchant = new Map(clearing.map((totals) => [`${totals.currencyCode}/${totals.merchantId}`, totals]));
  const batchKeys = new Set<string>();

  for (const batch of batches) {
    batchKeys.add(`${batch.currencyCode}/${batch.merchantId}`);
    const planned = plannedTransfersOf(batch);
    const plannedIds = new Set(planned.map((transfer) => transfer.id));
    for (const id of Object.values(ledgerTransferIdsOf(batch.id))) {
      const owner = claimedBy.get(id);
      if (owner !== undefined) add(batch.id, { reference: id, kind: breakKinds.duplicate, detail: `claimed by batches ${owner} and ${batch.id}` });
      claimedBy.set(id, batch.id);
      const found = byId.get(id) ?? [];
      if (found.length > 1) add(batch.id, { reference: id, kind: breakKinds.duplicate, detail: `ledger returned ${found.length} transfers with this id (batch ${batch.id})` });
      if (!plannedIds.has(id) && found.length > 0) {
        add(batch.id, { reference: id, kind: breakKinds.unexpectedInLedger, detail: `batch ${batch.id} has no transfer ${id}, the ledger has ${found[0].amount}` });
      }
    }
    for (const expected of planned) {
      const actual = (byId.get(expected.id) ?? [])[0];
      if (!actual) {
        add(batch.id, { reference: expected.id, kind: breakKinds.missingInLedger, detail: `batch ${batch.id} expects ${expected.amount} ${batch.currencyCode}` });
        continue;
      }
      if (actual.amount !== expected.amount) {
        add(batch.id, { reference: expected.id, kind: breakKinds.amountMismatch, detail: `batch ${batch.id} expects ${expected.amount}, ledger has ${actual.amount}` });
      }
      if (actual.debitAccountId !== expected.debitAccountId || actual.creditAccountId !== expected.creditAccountId) {
        add(batch.id, {
          reference: expected.id,
          kind: breakKinds.accountMismatch,
          detail: `batch ${batch.id} expects ${expected.debitAccountId} -> ${expected.creditAccountId}, ledger has ${actual.debitAccountId} -> ${actual.creditAccountId}`,
        });
      }
      if (actual.code !== expected.code || actual.ledger !== expected.ledger) {
        add(batch.id, { reference: expected.id, kind: breakKinds.codeMismatch, detail: `batch ${batch.id} expects ledger ${expected.ledger} code ${expected.code}, ledger has ${actual.ledger}/${actual.code}` });
      }
      if (!actual.posted) add(batch.id, { reference: expected.id, kind: breakKinds.stateMismatch, detail: `batch ${batch.id}: transfer is not posted` });
    }
    const now = clearingByMerchant.get(`${batch.currencyCode}/${batch.merchantId}`);
    const differences: string[] = [];
    for (const field of ["gross", "refunds", "captureCount", "refundCount"] as const) {
      const current = now ? now[field] : 0n;
      if (current !== batch[field]) differences.push(`${field} ${batch[field]} vs clearing ${current}`);
    }
    if (differences.length > 0) add(batch.id, { reference: batch.id, kind: breakKinds.clearingMismatch, detail: differences.join("; ") });
  }
  for (const totals of clearing) {
    if (batchKeys.has(`${totals.currencyCode}/${totals.merchantId}`)) continue;
    const batchBusinessDate = batches[0]?.businessDate;
    const reference = batchBusinessDate ? batchIdOf(batchBusinessDate, totals.merchantId) : totals.merchantId;
    breaks.push({
      reference,
      kind: breakKinds.missingInSettlement,
      detail: `merchant ${totals.merchantId} has ${totals.captureCount} captures (${totals.gross}) and ${totals.refundCount} refunds (${totals.refunds}) ${totals.currencyCode} in clearing but no batch`,
    });
  }
  const matchedIds = batches.filter((batch) => !broken.has(batch.id)).map((batch) => batch.id);
  return { matchedIds, brokenIds: [...broken], breaks };
}
