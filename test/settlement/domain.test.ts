import { describe, expect, it } from "vitest";
import { clientIdPattern } from "../../services/shared/ids.ts";
import { amountMinorMax } from "../../services/shared/money.ts";
import { AmountOverflowError, merchantTotals, totalsByMerchant, type ClearingOperation } from "../../services/settlement/domain/batches.ts";
import { businessDateProblem, cutoffMsOf } from "../../services/settlement/domain/dates.ts";
import { basisPointsOf, captureFees, defaultFeeSchedule } from "../../services/settlement/domain/fees.ts";
import { batchIdOf, ledgerRefLengthMax, ledgerRefOf, ledgerTransferIdsOf } from "../../services/settlement/domain/ids.ts";
import { reconcile, type LedgerTransferView } from "../../services/settlement/domain/reconcile.ts";
import { plannedTransfersOf } from "../../services/settlement/domain/transfers.ts";

describe("basisPointsOf: amount * bps / 10000, rounded half up per transaction", () => {
  it.each([
    [0n, 150n, 0n],
    [1n, 150n, 0n], // 0.015
    [99n, 150n, 1n], // 1.485 -> 1
    [100n, 150n, 2n], // 1.5 -> 2 (half up)
    [101n, 150n, 2n], // 1.515
    [1n, 5000n, 1n], // 0.5 -> 1
    [3n, 5000n, 2n], // 1.5 -> 2
    [5000n, 13n, 7n], // 6.5 -> 7
    [4999n, 13n, 6n], // 6.4987 -> 6
    [10_000n, 10_000n, 10_000n],
    [amountMinorMax, 180n, 166_020_696_663_385_965n], // 166020696663385964.526 -> ...965, exact in bigint
  ])("%s minor at %s bps = %s", (amount, bps, expected) => {
    expect(basisPointsOf(amount, bps)).toBe(expected);
  });

  it("rejects negative inputs (a bug, not a business case)", () => {
    expect(() => basisPointsOf(-1n, 150n)).toThrow();
    expect(() => basisPointsOf(1n, -1n)).toThrow();
  });
});

describe("captureFees with the default schedule (150/180 + 13 + 30 bps + 10 minor)", () => {
  it.each([
    // amount, card present, interchange, scheme, markup
    [10_000n, true, 150n, 13n, 40n],
    [10_000n, false, 180n, 13n, 40n],
    [5_000n, false, 90n, 7n, 25n],
    [1n, true, 0n, 0n, 10n],
    [100n, true, 2n, 0n, 10n],
    [333n, false, 6n, 0n, 11n], // 5.994 -> 6; 0.4329 -> 0; 0.999 -> 1 + 10
    [0n, true, 0n, 0n, 10n],
  ])("%s minor, card present %s", (amount, cardPresent, interchange, scheme, markup) => {
    expect(captureFees(amount, cardPresent, defaultFeeSchedule)).toEqual({ interchange, scheme, markup });
  });
});

const op = (id: string, kind: "capture" | "refund", merchantId: string, amountMinor: bigint, cardPresent = true): ClearingOperation => ({
  id,
  kind,
  merchantId,
  partnerId: "p1",
  amountMinor,
  cardPresent,
});

describe("merchantTotals", () => {
  it.each([
    {
      name: "captures and a refund",
      ops: [op("cap_1", "capture", "m1", 10_000n, true), op("cap_2", "capture", "m1", 5_000n, false), op("rfd_1", "refund", "m1", 2_000n)],
      expected: { gross: 15_000n, refunds: 2_000n, interchange: 240n, schemeFees: 20n, markup: 65n, fees: 325n, net: 12_675n, captureCount: 2n, refundCount: 1n },
    },
    {
      name: "refund only: negative net, no fee",
      ops: [op("rfd_1", "refund", "m1", 5_000n)],
      expected: { gross: 0n, refunds: 5_000n, interchange: 0n, schemeFees: 0n, markup: 0n, fees: 0n, net: -5_000n, captureCount: 0n, refundCount: 1n },
    },
    {
      name: "a 1-minor capture: fees exceed it, negative net",
      ops: [op("cap_1", "capture", "m1", 1n)],
      expected: { gross: 1n, refunds: 0n, interchange: 0n, schemeFees: 0n, markup: 10n, fees: 10n, net: -9n, captureCount: 1n, refundCount: 0n },
    },
    {
      name: "per-transaction rounding: two 100-minor captures round 1.5 up twice",
      ops: [op("cap_1", "capture", "m1", 100n), op("cap_2", "capture", "m1", 100n)],
      expected: { gross: 200n, refunds: 0n, interchange: 4n, schemeFees: 0n, markup: 20n, fees: 24n, net: 176n, captureCount: 2n, refundCount: 0n },
    },
  ])("$name", ({ ops, expected }) => {
    expect(merchantTotals("m1", ops)).toMatchObject({ merchantId: "m1", partnerId: "p1", ...expected });
  });

  it("refuses a day whose sums pass 2^63-1", () => {
    expect(() => merchantTotals("m1", [op("cap_1", "capture", "m1", amountMinorMax), op("cap_2", "capture", "m1", 1n)])).toThrow(AmountOverflowError);
  });

  it("groups by merchant, ordered by merchant id", () => {
    const totals = totalsByMerchant([op("cap_1", "capture", "mb", 100n), op("cap_2", "capture", "ma", 200n), op("cap_3", "capture", "mb", 300n)]);
    expect(totals.map((item) => [item.merchantId, item.gross])).toEqual([["ma", 200n], ["mb", 400n]]);
  });
});

describe("identifiers", () => {
  it("batch id is stl_<YYYYMMDD>_<merchant> and used verbatim in ledger ids when it fits", () => {
    const batchId = batchIdOf("2024-03-01", "m1");
    expect(batchId).toBe("stl_20240301_m1");
    expect(ledgerTransferIdsOf(batchId)).toEqual({ fee: "stl:stl_20240301_m1:fee", net: "stl:stl_20240301_m1:net", payout: "payout:stl_20240301_m1" });
  });

  it.each([ledgerRefLengthMax - 13, ledgerRefLengthMax - 12, 64])("merchant id of %s chars gives ledger ids of <= 64 valid chars", (length) => {
    const batchId = batchIdOf("2024-03-01", "m".repeat(length));
    const ids = Object.values(ledgerTransferIdsOf(batchId));
    for (const id of ids) expect(id).toMatch(clientIdPattern);
    const hashed = batchId.length > ledgerRefLengthMax;
    expect(ledgerRefOf(batchId).startsWith(hashed ? "stlh_20240301_" : "stl_")).toBe(true);
    expect(ledgerRefOf(batchId)).toBe(ledgerRefOf(batchId));
  });

  it("hashes distinct long batch ids apart", () => {
    expect(ledgerRefOf(batchIdOf("2024-03-01", `${"x".repeat(63)}a`))).not.toBe(ledgerRefOf(batchIdOf("2024-03-01", `${"x".repeat(63)}b`)));
  });
});

describe("business dates", () => {
  it.each(["2024-03-01", "2024-02-29", "1970-01-01", "9999-12-31"])("%s is valid", (text) => {
    expect(businessDateProblem(text)).toBeUndefined();
  });
  it.each(["", "2024-3-01", "20240301", "2023-02-29", "2024-13-01", "2024-04-31", "2024-00-10", "1969-12-31", " 2024-03-01", "2024-03-01T00:00"])(
    "%j is invalid",
    (text) => {
      expect(businessDateProblem(text)).toBeTypeOf("string");
    },
  );
  it("cut-off is the next day's 00:00 UTC", () => {
    expect(new Date(cutoffMsOf("2024-02-29")).toISOString()).toBe("2024-03-01T00:00:00.000Z");
    expect(new Date(cutoffMsOf("2024-12-31")).toISOString()).toBe("2025-01-01T00:00:00.000Z");
  });
});

describe("plannedTransfersOf", () => {
  const base = { id: "stl_20240301_m1", merchantId: "m1", currencyCode: "USD" };
  it("positive net: fee and net from the merchant, payout clearing -> bank", () => {
    expect(plannedTransfersOf({ ...base, fees: 325n, net: 12_675n }).map((t) => [t.id, t.debitAccountId, t.creditAccountId, t.amount, t.code, t.ledger])).toEqual([
      ["stl:stl_20240301_m1:fee", "merchant:m1", "fees:USD", 325n, 30, 840],
      ["stl:stl_20240301_m1:net", "merchant:m1", "clearing:USD", 12_675n, 31, 840],
      ["payout:stl_20240301_m1", "clearing:USD", "bank:USD", 12_675n, 40, 840],
    ]);
  });
  it("negative net: clearing -> merchant, collection bank -> clearing", () => {
    expect(plannedTransfersOf({ ...base, fees: 10n, net: -9n }).map((t) => [t.id, t.debitAccountId, t.creditAccountId, t.amount])).toEqual([
      ["stl:stl_20240301_m1:fee", "merchant:m1", "fees:USD", 10n],
      ["stl:stl_20240301_m1:net", "clearing:USD", "merchant:m1", 9n],
      ["payout:stl_20240301_m1", "bank:USD", "clearing:USD", 9n],
    ]);
  });
  it("zero amounts are skipped", () => {
    expect(plannedTransfersOf({ ...base, fees: 0n, net: 0n })).toEqual([]);
    expect(plannedTransfersOf({ ...base, fees: 5n, net: 0n }).map((t) => t.id)).toEqual(["stl:stl_20240301_m1:fee"]);
  });
});

describe("reconcile (pure)", () => {
  const batch = {
    id: "stl_20240301_m1", businessDate: "2024-03-01", currencyCode: "USD", merchantId: "m1", partnerId: "p1",
    gross: 15_000n, refunds: 2_000n, interchange: 240n, schemeFees: 20n, markup: 65n, fees: 325n, net: 12_675n, captureCount: 2n, refundCount: 1n,
  };
  const ledgerOf = (b: typeof batch): LedgerTransferView[] => plannedTransfersOf(b).map((t) => ({ ...t, posted: true }));
  const clearing = [{ merchantId: "m1", currencyCode: "USD", gross: 15_000n, refunds: 2_000n, captureCount: 2n, refundCount: 1n }];

  it("matches when ledger and clearing agree", () => {
    expect(reconcile([batch], ledgerOf(batch), clearing)).toEqual({ matchedIds: [batch.id], brokenIds: [], breaks: [] });
  });
  it.each([
    ["missing", (ts: LedgerTransferView[]) => ts.slice(1), "MISSING_IN_LEDGER"],
    ["amount", (ts: LedgerTransferView[]) => [{ ...ts[0], amount: 1n }, ...ts.slice(1)], "AMOUNT_MISMATCH"],
    ["account", (ts: LedgerTransferView[]) => [{ ...ts[0], creditAccountId: "x" }, ...ts.slice(1)], "ACCOUNT_MISMATCH"],
    ["code", (ts: LedgerTransferView[]) => [{ ...ts[0], code: 99 }, ...ts.slice(1)], "CODE_MISMATCH"],
    ["state", (ts: LedgerTransferView[]) => [{ ...ts[0], posted: false }, ...ts.slice(1)], "STATE_MISMATCH"],
    ["duplicate", (ts: LedgerTransferView[]) => [...ts, ts[0]], "DUPLICATE"],
  ] as const)("%s -> %s", (_name, tamper, kind) => {
    const result = reconcile([batch], tamper(ledgerOf(batch)), clearing);
    expect(result.matchedIds).toEqual([]);
    expect(result.brokenIds).toEqual([batch.id]);
    expect(result.breaks.map((item) => item.kind)).toEqual([kind]);
  });
  it("clearing changes after the close are breaks", () => {
    const late = [{ ...clearing[0], gross: 16_000n, captureCount: 3n }, { merchantId: "m2", currencyCode: "USD", gross: 1n, refunds: 0n, captureCount: 1n, refundCount: 0n }];
    const result = reconcile([batch], ledgerOf(batch), late);
    expect(result.breaks.map((item) => [item.kind, item.reference])).toEqual([
      ["CLEARING_MISMATCH", batch.id],
      ["MISSING_IN_SETTLEMENT", "stl_20240301_m2"],
    ]);
  });
  it("a transfer under an id the batch does not use is unexpected", () => {
    const zeroNet = { ...batch, gross: 325n, refunds: 0n, net: 0n };
    const stray: LedgerTransferView = { id: "payout:stl_20240301_m1", debitAccountId: "clearing:USD", creditAccountId: "bank:USD", amount: 5n, ledger: 840, code: 40, posted: true };
    const result = reconcile([zeroNet], [...ledgerOf(zeroNet), stray], [{ ...clearing[0], gross: 325n, refunds: 0n }]);
    expect(result.breaks.map((item) => item.kind)).toEqual(["UNEXPECTED_IN_LEDGER"]);
  });
});
