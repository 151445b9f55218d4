import { createHash } from "node:crypto";

/**
 * Settlement identifiers (docs/settlement.md, "Identifiers").
 *
 * Batch id: `stl_<YYYYMMDD>_<merchant_id>`, deterministic, so a re-run of a close finds the same
 * batch. Ledger transfer ids (services/shared/chart.ts): fee `stl:<ref>:fee`, net
 * `stl:<ref>:net`, payout `payout:<ref>`, where `<ref>` is the batch id when every id fits the
 * ledger's 64 characters ([A-Za-z0-9_.:-]), i.e. when the batch id has at most 56 characters;
 * otherwise `<ref>` is `stlh_<YYYYMMDD>_<first 40 hex of SHA-256(batch id)>` (54 characters).
 * Batch ids always start with `stl_`, hashed refs with `stlh_`, so the two forms never collide.
 */
export const ledgerIdLengthMax = 64;
/** Longest batch id used verbatim in ledger ids: 64 - len("stl:") - len(":fee"), 64 - len("payout:"). */
export const ledgerRefLengthMax = ledgerIdLengthMax - "stl:".length - ":fee".length;

/** `stl_<YYYYMMDD>_<merchantId>` for a validated YYYY-MM-DD date. */
export function batchIdOf(businessDate: string, merchantId: string): string {
  return `stl_${businessDate.replaceAll("-", "")}_${merchantId}`;
}

/** The batch's reference inside ledger transfer ids (the batch id, or its hashed form when too long). */
export function ledgerRefOf(batchId: string): string {
  if (batchId.length <= ledgerRefLengthMax) return batchId;
  const date = batchId.slice(4, 12);
  const digest = createHash("sha256").update(batchId).digest("hex").slice(0, 40);
  return `stlh_${date}_${digest}`;
}

/** The three deterministic ledger transfer ids of a batch. */
export function ledgerTransferIdsOf(batchId: string): { fee: string; net: string; payout: string } {
  const ref = ledgerRefOf(batchId);
  return { fee: `stl:${ref}:fee`, net: `stl:${ref}:net`, payout: `payout:${ref}` };
}
