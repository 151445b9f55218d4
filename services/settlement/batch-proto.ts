import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { MoneySchema } from "../../gen/payments/common/v1/money_pb.js";
import { SettlementBatchSchema, SettlementBatchState, type SettlementBatch } from "../../gen/payments/settlement/v1/settlement_pb.js";
import type { BatchRow } from "./store/queries.ts";

/** Maps a stored batch to its Protobuf form (Money fields in the batch's currency, minor units). */
export function toBatchProto(row: BatchRow): SettlementBatch {
  const money = (amountMinor: bigint) => create(MoneySchema, { currencyCode: row.currencyCode, amountMinor });
  return create(SettlementBatchSchema, {
    id: row.id,
    merchantId: row.merchantId,
    partnerId: row.partnerId,
    businessDate: row.businessDate,
    gross: money(row.gross),
    refunds: money(row.refunds),
    fees: money(row.fees),
    net: money(row.net),
    interchange: money(row.interchange),
    schemeFees: money(row.schemeFees),
    markup: money(row.markup),
    captureCount: row.captureCount,
    refundCount: row.refundCount,
    state:
      row.state === "reconciled"
        ? SettlementBatchState.RECONCILED
        : row.state === "settled"
          ? SettlementBatchState.SETTLED
          : SettlementBatchState.UNSPECIFIED,
    createTime: timestampFromDate(row.createTime),
  });
}
