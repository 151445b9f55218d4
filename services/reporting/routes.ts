/**
 * ReportingService handlers (proto/payments/reporting/v1/reporting_service.proto), reading
 * only the reporting schema. Built by createReportingRoutes({ pool, feed }) so tests run them
 * on an in-memory transport. Bad input is INVALID_ARGUMENT naming the field. Amounts are int64
 * minor units summed in PostgreSQL bigint (an overflow is an error, never a wrap or a float).
 */
import { summaryCounterColumns } from "./consumer.ts";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type pg from "pg";
import {
  ReportingService,
  SummarySchema,
  TransactionSchema,
  type Summary,
  type Transaction,
} from "../../gen/payments/reporting/v1/reporting_service_pb.js";
import { invalidArgument } from "../shared/errors.ts";
import { clientIdPattern } from "../shared/ids.ts";
import { approvalRateBps } from "./domain/effects.ts";
import { pollingFeed, type ChangeFeed } from "./feed.ts";

/** Longest answer of the day-list RPCs (about ten years of days). */
export const daysMax = 3_660;
/** Rows read per poll of a transaction stream. */
export const streamBatchMax = 500;

const counterColumns = summaryCounterColumns;
type CounterColumn = (typeof counterColumns)[number];
type CounterRow = Record<CounterColumn, bigint> & { merchant_id?: string; business_date?: string; currency_code: string };

function checkMerchantId(merchantId: string, required: boolean): void {
  if (merchantId === "") {
    if (required) throw invalidArgument("merchant_id", "required");
    return;
  }
  if (!clientIdPattern.test(merchantId)) throw invalidArgument("merchant_id", "must be 1..64 chars of [A-Za-z0-9_.:-]");
}

function checkDate(field: string, date: string): void {
  if (date === "") return;
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const parsed = match ? new Date(Date.UTC(+match[1], +match[2] - 1, +match[3])) : undefined;
  if (!parsed || parsed.toISOString().slice(0, 10) !== date) throw invalidArgument(field, "must be a calendar date YYYY-MM-DD");
}

function pageSizeOf(pageSize: number): number {
  if (pageSize === 0) return 100;
  if (pageSize < 1 || pageSize > 1000) throw invalidArgument("page_size", "must be 0 (default 100) or 1..1000");
  return pageSize;
}

function summaryOf(row: CounterRow, declines: Record<string, bigint>, merchantId: string, businessDate: string): Summary {
  return create(SummarySchema, {
    merchantId,
    businessDate,
    currencyCode: row.currency_code,
    authorizationCount: row.authorization_count,
    approvedCount: row.approved_count,
    declinedCount: row.declined_count,
    fraudDeclinedCount: row.fraud_declined_count,
    approvedAmountMinor: row.approved_amount_minor,
    capturedAmountMinor: row.captured_amount_minor,
    refundedAmountMinor: row.refunded_amount_minor,
    releasedAmountMinor: row.released_amount_minor,
    settledGrossMinor: row.settled_gross_minor,
    settledFeesMinor: row.settled_fees_minor,
    settledNetMinor: row.settled_net_minor,
    approvalRateBps: approvalRateBps(row.approved_count, row.authorization_count),
    declinesByCode: declines,
  });
}

/**
 * Sums the day rows grouped by `groupBy` (a subset of business_date, currency_code), filtered
 * by merchant and inclusive date range, with their declines by code. Keys are the group values
 * joined by "|".
 */
async function aggregate(
  pool: pg.Pool | pg.PoolClient,
  schema: string,
  groupBy: readonly ("business_date" | "currency_code")[],
  filter: { merchantId: string; startDate: string; endDate: string },
): Promise<Array<{ row: CounterRow; declines: Record<string, bigint> }>> {
  const where = `where ($1 = '' or merchant_id = $1) and ($2 = '' or business_date >= $2) and ($3 = '' or business_date <= $3)`;
  const values = [filter.merchantId, filter.startDate, filter.endDate];
  const group = groupBy.join(", ");
  const rows = await pool.query<CounterRow>(
    `select * from (
       select ${group}, ${counterColumns.map((column) => `sum(${column})::bigint as ${column}`).join(", ")}
       from ${schema}.daily_summaries ${where} group by ${group}
       order by ${groupBy.map((column) => `${column} desc`).join(", ")} limit ${daysMax}
     ) page order by ${group}`,
    values,
  );
  const declines = await pool.query<{ business_date?: string; currency_code: string; response_code: string; count: bigint }>(
    `select ${group}, response_code, sum(decline_count)::bigint as count from ${schema}.daily_declines ${where}
     group by ${group}, response_code`,
    values,
  );
  const keyOf = (row: { business_date?: string; currency_code: string }) => groupBy.map((column) => row[column]).join("|");
  const byKey = new Map<string, Record<string, bigint>>();
  for (const decline of declines.rows) {
    const key = keyOf(decline);
    const entry = byKey.get(key) ?? {};
    entry[decline.response_code] = decline.count;
    byKey.set(key, entry);
  }
  return rows.rows.map((row) => ({ row, declines: byKey.get(keyOf(row)) ?? {} }));
}

interface TransactionRow {
  authorization_id: string;
  merchant_id: string;
  business_date: string;
  currency_code: string;
  amount_minor: bigint;
  captured_amount_minor: bigint;
  refunded_amount_minor: bigint;
  state: string;
  response_code: string;
  event_time: Date;
  event_time_us: bigint;
  update_time: Date;
  change_seq: bigint;
}

const transactionColumns = `authorization_id, merchant_id, business_date, currency_code, amount_minor, captured_amount_minor,
  refunded_amount_minor, state, response_code, event_time, (extract(epoch from event_time) * 1000000)::bigint as event_time_us,
  update_time, change_seq`;

function transactionOf(row: TransactionRow): Transaction {
  return create(TransactionSchema, {
    authorizationId: row.authorization_id,
    merchantId: row.merchant_id,
    businessDate: row.business_date,
    amount: { currencyCode: row.currency_code, amountMinor: row.amount_minor },
    capturedAmountMinor: row.captured_amount_minor,
    refundedAmountMinor: row.refunded_amount_minor,
    state: row.state,
    responseCode: row.response_code,
    eventTime: timestampFromDate(row.event_time),
    updateTime: timestampFromDate(row.update_time),
  });
}

function encodePageToken(row: TransactionRow): string {
  return Buffer.from(`${row.event_time_us}|${row.authorization_id}`).toString("base64url");
}

function decodePageToken(token: string): { eventTimeUs: string; authorizationId: string } | undefined {
  if (token === "") return undefined;
  const match = /^(\d{1,18})\|([A-Za-z0-9_.:-]{1,64})$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!match) throw invalidArgument("page_token", "is not a token from this RPC");
  return { eventTimeUs: match[1], authorizationId: match[2] };
}

/** The handlers; `feed` wakes streams (defaults to polling only), `streamPollMs` bounds their wait. */
export function createReportingRoutes(deps: { pool: pg.Pool; feed?: ChangeFeed; streamPollMs?: number; schema?: string }) {
  const { pool } = deps;
  const schema = deps.schema ?? "reporting";
  const feed = deps.feed ?? pollingFeed();
  const streamPollMs = deps.streamPollMs ?? 1_000;
  return {
    /**
     * One merchant's summary over an inclusive date range (empty = open end) plus one row per
     * (day, currency) with activity. `total` covers the merchant's main currency (most
     * authorizations; a merchant settles in one currency); days list every currency.
     */
    async getMerchantSummary(request) {
      checkMerchantId(request.merchantId, true);
      checkDate("start_date", request.startDate);
      checkDate("end_date", request.endDate);
      if (request.startDate && request.endDate && request.startDate > request.endDate) throw invalidArgument("end_date", "must not be before start_date");
      const filter = { merchantId: request.merchantId, startDate: request.startDate, endDate: request.endDate };
      const days = await aggregate(pool, schema, ["business_date", "currency_code"], filter);
      const totals = await aggregate(pool, schema, ["currency_code"], filter);
      totals.sort((a, b) => (b.row.authorization_count > a.row.authorization_count ? 1 : b.row.authorization_count < a.row.authorization_count ? -1 : 0));
      const main = totals[0];
      return {
        total: main
          ? summaryOf(main.row, main.declines, request.merchantId, "")
          : create(SummarySchema, { merchantId: request.merchantId }),
        days: days.map(({ row, declines }) => summaryOf(row, declines, request.merchantId, row.business_date ?? "")),
      };
    },

    /** One row per (day, currency), oldest first (at most the latest 3660), for one merchant or all combined. */
    async listDailySummaries(request) {
      checkMerchantId(request.merchantId, false);
      const days = await aggregate(pool, schema, ["business_date", "currency_code"], { merchantId: request.merchantId, startDate: "", endDate: "" });
      return { days: days.map(({ row, declines }) => summaryOf(row, declines, request.merchantId, row.business_date ?? "")) };
    },

    /** Per-currency totals across all merchants and days, and the distinct events processed (inbox rows). */
    async getTotals() {
      // One snapshot for both reads: a consumer commit landing between them would otherwise
      // report events as processed whose effects the totals do not show yet.
      const client = await pool.connect();
      try {
        await client.query("begin isolation level repeatable read read only");
        const totals = await aggregate(client, schema, ["currency_code"], { merchantId: "", startDate: "", endDate: "" });
        const events = await client.query<{ count: bigint }>(`select count(*) as count from ${schema}.inbox`);
        await client.query("commit");
        return {
          totals: totals.map(({ row, declines }) => summaryOf(row, declines, "", "")),
          eventsProcessed: events.rows[0].count,
        };
      } catch (error) {
        await client.query("rollback").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },

    /** A merchant's transactions, newest event time first; page_size 0 = 100, else 1..1000. */
    async listTransactions(request) {
      checkMerchantId(request.merchantId, true);
      const pageSize = pageSizeOf(request.pageSize);
      const after = decodePageToken(request.pageToken);
      const rows = await pool.query<TransactionRow>(
        `select ${transactionColumns} from ${schema}.transactions
         where merchant_id = $1 ${after ? `and (event_time, authorization_id) < ('epoch'::timestamptz + ($2::bigint * interval '1 microsecond'), $3)` : ""}
         order by event_time desc, authorization_id desc limit ${pageSize + 1}`,
        after ? [request.merchantId, after.eventTimeUs, after.authorizationId] : [request.merchantId],
      );
      const page = rows.rows.slice(0, pageSize);
      return {
        transactions: page.map(transactionOf),
        nextPageToken: rows.rows.length > pageSize ? encodePageToken(page[page.length - 1]) : "",
      };
    },

    /**
     * Streams every transaction change recorded after the call starts (optionally one
     * merchant's), in the order recorded, until the client cancels or the server shuts down.
     */
    async *streamTransactions(request, context: HandlerContext) {
      checkMerchantId(request.merchantId, false);
      const start = await pool.query<{ seq: bigint }>(`select coalesce(max(change_seq), 0) as seq from ${schema}.transactions`);
      let cursor = start.rows[0].seq;
      while (!context.signal.aborted) {
        const rows = await pool.query<TransactionRow>(
          `select ${transactionColumns} from ${schema}.transactions
           where change_seq > $1 and ($2 = '' or merchant_id = $2) order by change_seq limit ${streamBatchMax}`,
          [cursor, request.merchantId],
        );
        for (const row of rows.rows) {
          cursor = row.change_seq;
          yield { transaction: transactionOf(row) };
        }
        if (rows.rows.length < streamBatchMax) await feed.wait(context.signal, streamPollMs);
      }
    },
  } satisfies ServiceImpl<typeof ReportingService>;
}
