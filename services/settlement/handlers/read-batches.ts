import { create } from "@bufbuild/protobuf";
import {
  GetSettlementBatchResponseSchema,
  ListSettlementBatchesResponseSchema,
  type GetSettlementBatchRequest,
  type GetSettlementBatchResponse,
  type ListSettlementBatchesRequest,
  type ListSettlementBatchesResponse,
} from "../../../gen/payments/settlement/v1/settlement_service_pb.js";
import { invalidArgument, notFound } from "../../shared/errors.ts";
import { toBatchProto } from "../batch-proto.ts";
import { getBatch, listBatches } from "../store/queries.ts";
import type { SettlementDeps } from "./deps.ts";
import { requireBusinessDate, requireMerchantId } from "./validate.ts";

/** Page size bounds of ListSettlementBatches (AIP-158): 0 means the default. */
export const pageSizeDefault = 100;
export const pageSizeMax = 1000;
const batchIdLengthMax = 128;

/**
 * GetSettlementBatch(batch_id): the settled or reconciled batch. Empty or over-long id:
 * INVALID_ARGUMENT batch_id; unknown id (or a batch whose day is still closing): NOT_FOUND.
 */
export function getSettlementBatchHandler(deps: SettlementDeps) {
  return async function getSettlementBatch(request: GetSettlementBatchRequest): Promise<GetSettlementBatchResponse> {
    if (request.batchId === "") throw invalidArgument("batch_id", "is required");
    if (request.batchId.length > batchIdLengthMax) throw invalidArgument("batch_id", `must be at most ${batchIdLengthMax} characters`);
    const batch = await getBatch(deps.pool, request.batchId);
    if (!batch) throw notFound("batch_id", request.batchId);
    return create(GetSettlementBatchResponseSchema, { batch: toBatchProto(batch) });
  };
}

interface PageToken {
  /** Last id of the previous page. */
  readonly a: string;
  /** Filters the token was issued for. */
  readonly d: string;
  readonly m: string;
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function decodeToken(text: string, businessDate: string, merchantId: string): PageToken {
  let token: PageToken;
  try {
    token = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as PageToken;
  } catch {
    throw invalidArgument("page_token", "is not a token this service issued");
  }
  if (typeof token?.a !== "string" || typeof token.d !== "string" || typeof token.m !== "string") {
    throw invalidArgument("page_token", "is not a token this service issued");
  }
  if (token.d !== businessDate || token.m !== merchantId) {
    throw invalidArgument("page_token", "was issued for different filters");
  }
  return token;
}

/**
 * ListSettlementBatches(business_date?, merchant_id?, page_size, page_token): settled and
 * reconciled batches ordered by id (date, then merchant), AIP-158 pages. page_size 0 = 100,
 * 1..1000 otherwise INVALID_ARGUMENT page_size; a bad date or merchant id, or a token from other
 * filters, is INVALID_ARGUMENT naming the field.
 */
export function listSettlementBatchesHandler(deps: SettlementDeps) {
  return async function listSettlementBatches(request: ListSettlementBatchesRequest): Promise<ListSettlementBatchesResponse> {
    if (request.businessDate !== "") requireBusinessDate(request.businessDate);
    if (request.merchantId !== "") requireMerchantId(request.merchantId);
    if (request.pageSize < 0 || request.pageSize > pageSizeMax) throw invalidArgument("page_size", `must be 0..${pageSizeMax}`);
    const limit = request.pageSize === 0 ? pageSizeDefault : request.pageSize;
    const token = request.pageToken === "" ? undefined : decodeToken(request.pageToken, request.businessDate, request.merchantId);
    const rows = await listBatches(deps.pool, {
      businessDate: request.businessDate || undefined,
      merchantId: request.merchantId || undefined,
      afterId: token?.a,
      limit,
    });
    const page = rows.slice(0, limit);
    const nextPageToken =
      rows.length > limit ? encodeToken({ a: page[page.length - 1].id, d: request.businessDate, m: request.merchantId }) : "";
    return create(ListSettlementBatchesResponseSchema, { batches: page.map(toBatchProto), nextPageToken });
  };
}
