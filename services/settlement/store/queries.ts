import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import { SettlementBatchSettledSchema } from "../../../gen/payments/settlement/v1/settlement_events_pb.js";
import { inTransaction } from "../../shared/db.ts";
import { subjectOf } from "../../shared/events.ts";
import { newId } from "../../shared/ids.ts";
import { enqueueEvent } from "../../shared/outbox.ts";
import { assertTotals, type MerchantTotals } from "../domain/batches.ts";
import { toBatchProto } from "../batch-proto.ts";

/** The PostgreSQL schema of the settlement service. */
export const settlementDbSchema = "settlement";

type Queryable = pg.Pool | pg.PoolClient;

/** Lifecycle of a stored batch (see store/schema.ts). */
export type BatchRowState = "planned" | "settled" | "reconciled";

/** One stored batch; amounts are minor units. */
export interface BatchRow extends MerchantTotals {
  readonly id: string;
  readonly businessDate: string;
  readonly currencyCode: string;
  readonly state: BatchRowState;
  readonly createTime: Date;
  readonly settleTime: Date | null;
  readonly reconcileTime: Date | null;
}

/** A batch to freeze in the plan of a day. */
export interface PlannedBatch extends MerchantTotals {
  readonly id: string;
}

const batchColumns = `id, business_date, currency_code, merchant_id, partner_id, gross, refunds, interchange,
  scheme_fees, markup, fees, net, capture_count, refund_count, state, create_time, settle_time, reconcile_time`;

function rowToBatch(row: Record<string, unknown>): BatchRow {
  const batch: BatchRow = {
    id: row.id as string,
    businessDate: row.business_date as string,
    currencyCode: row.currency_code as string,
    merchantId: row.merchant_id as string,
    partnerId: row.partner_id as string,
    gross: row.gross as bigint,
    refunds: row.refunds as bigint,
    interchange: row.interchange as bigint,
    schemeFees: row.scheme_fees as bigint,
    markup: row.markup as bigint,
    fees: row.fees as bigint,
    net: row.net as bigint,
    captureCount: row.capture_count as bigint,
    refundCount: row.refund_count as bigint,
    state: row.state as BatchRowState,
    createTime: row.create_time as Date,
    settleTime: (row.settle_time as Date | null) ?? null,
    reconcileTime: (row.reconcile_time as Date | null) ?? null,
  };
  for (const value of [batch.gross, batch.refunds, batch.fees, batch.net]) {
    if (typeof value !== "bigint") throw new Error(`batch ${batch.id}: money column read as ${typeof value}, not bigint`);
  }
  assertTotals(batch);
  return batch;
}

/** The (business_date, currency) day row, or undefined when the day was never planned. */
export async function findBusinessDay(
  q: Queryable,
  businessDate: string,
  currencyCode: string,
): Promise<{ closeTime: Date | null; batchCount: number } | undefined> {
  const result = await q.query<{ close_time: Date | null; batch_count: number }>(
    `select close_time, batch_count from ${settlementDbSchema}.business_days where business_date = $1 and currency_code = $2`,
    [businessDate, currencyCode],
  );
  const row = result.rows[0];
  return row ? { closeTime: row.close_time, batchCount: row.batch_count } : undefined;
}

/**
 * Freezes the plan of a day: inserts the business_days row (not yet closed) and one 'planned'
 * batch per merchant, in one transaction. When the day already has a plan (a previous close
 * crashed, or a concurrent close won the insert), nothing is written and the stored plan wins.
 * Returns the day's stored batches (any state), ordered by merchant id, and whether this call
 * created the plan.
 */
export async function freezeDayPlan(
  pool: pg.Pool,
  businessDate: string,
  currencyCode: string,
  planned: readonly PlannedBatch[],
): Promise<{ created: boolean; batches: BatchRow[] }> {
  for (const batch of planned) assertTotals(batch);
  return inTransaction(pool, async (client) => {
    const inserted = await client.query(
      `insert into ${settlementDbSchema}.business_days (business_date, currency_code, batch_count) values ($1, $2, $3)
       on conflict (business_date, currency_code) do nothing`,
      [businessDate, currencyCode, planned.length],
    );
    const created = inserted.rowCount === 1;
    if (created) {
      for (const batch of planned) {
        await client.query(
          `insert into ${settlementDbSchema}.batches (id, business_date, currency_code, merchant_id, partner_id, gross, refunds,
             interchange, scheme_fees, markup, fees, net, capture_count, refund_count, state)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'planned')`,
          [
            batch.id, businessDate, currencyCode, batch.merchantId, batch.partnerId, batch.gross, batch.refunds,
            batch.interchange, batch.schemeFees, batch.markup, batch.fees, batch.net, batch.captureCount, batch.refundCount,
          ].map((value) => (typeof value === "bigint" ? value.toString() : value)),
        );
      }
    }
    return { created, batches: await dayBatches(client, businessDate, currencyCode) };
  });
}

/** Every stored batch of a (day, currency), any state, ordered by merchant id. */
export async function dayBatches(q: Queryable, businessDate: string, currencyCode: string): Promise<BatchRow[]> {
  const result = await q.query(
    `select ${batchColumns} from ${settlementDbSchema}.batches where business_date = $1 and currency_code = $2 order by merchant_id collate "C"`,
    [businessDate, currencyCode],
  );
  return result.rows.map(rowToBatch);
}

/**
 * Closes a planned day once the ledger holds its transfers: in one transaction, locks the day
 * row, and unless it is already closed marks every planned batch settled, enqueues one
 * SettlementBatchSettled event per batch on `<prefix>.settlement.v1.batch_settled` (outbox), and
 * sets close_time. Concurrent or repeated calls: exactly one does the work; the others get
 * alreadyClosed = true. Throws when the day was never planned.
 */
export async function settleDay(
  pool: pg.Pool,
  options: { businessDate: string; currencyCode: string; subjectPrefix: string; now: Date },
): Promise<{ alreadyClosed: boolean; batches: BatchRow[] }> {
  const { businessDate, currencyCode, subjectPrefix, now } = options;
  return inTransaction(pool, async (client) => {
    const day = await client.query<{ close_time: Date | null; batch_count: number }>(
      `select close_time, batch_count from ${settlementDbSchema}.business_days
       where business_date = $1 and currency_code = $2 for update`,
      [businessDate, currencyCode],
    );
    if (day.rowCount === 0) throw new Error(`business day ${businessDate} ${currencyCode} has no plan`);
    if (day.rows[0].close_time !== null) {
      return { alreadyClosed: true, batches: await dayBatches(client, businessDate, currencyCode) };
    }
    const updated = await client.query(
      `update ${settlementDbSchema}.batches set state = 'settled', settle_time = $3
       where business_date = $1 and currency_code = $2 and state = 'planned' returning ${batchColumns}`,
      [businessDate, currencyCode, now],
    );
    const settled = updated.rows.map(rowToBatch).sort((left, right) => (left.merchantId < right.merchantId ? -1 : 1));
    if (settled.length !== day.rows[0].batch_count) {
      throw new Error(`business day ${businessDate} ${currencyCode}: ${settled.length} planned batches, expected ${day.rows[0].batch_count}`);
    }
    const subject = subjectOf(subjectPrefix, "settlement", "batch_settled");
    for (const batch of settled) {
      const eventId = newId("evt");
      await enqueueEvent(client, settlementDbSchema, subject, eventId, SettlementBatchSettledSchema,
        create(SettlementBatchSettledSchema, { eventId, occurTime: timestampFromDate(now), batch: toBatchProto(batch) }));
    }
    await client.query(
      `update ${settlementDbSchema}.business_days set close_time = $3 where business_date = $1 and currency_code = $2`,
      [businessDate, currencyCode, now],
    );
    return { alreadyClosed: false, batches: settled };
  });
}

/** A settled or reconciled batch by id, or undefined (planned batches are not visible). */
export async function getBatch(q: Queryable, id: string): Promise<BatchRow | undefined> {
  const result = await q.query(
    `select ${batchColumns} from ${settlementDbSchema}.batches where id = $1 and state <> 'planned'`,
    [id],
  );
  return result.rows[0] ? rowToBatch(result.rows[0]) : undefined;
}

/**
 * One page of settled/reconciled batches, ordered by id (which sorts by date, then merchant),
 * optionally filtered by date and merchant, after the id `afterId`. Returns up to `limit` + 1
 * rows so the caller knows whether there is a next page.
 */
export async function listBatches(
  q: Queryable,
  filter: { businessDate?: string; merchantId?: string; afterId?: string; limit: number },
): Promise<BatchRow[]> {
  const where = [`state <> 'planned'`];
  const values: unknown[] = [];
  if (filter.businessDate) {
    values.push(filter.businessDate);
    where.push(`business_date = $${values.length}`);
  }
  if (filter.merchantId) {
    values.push(filter.merchantId);
    where.push(`merchant_id = $${values.length}`);
  }
  if (filter.afterId !== undefined) {
    values.push(filter.afterId);
    where.push(`id > $${values.length}`);
  }
  values.push(filter.limit + 1);
  const result = await q.query(
    `select ${batchColumns} from ${settlementDbSchema}.batches where ${where.join(" and ")} order by id limit $${values.length}`,
    values,
  );
  return result.rows.map(rowToBatch);
}

/** Closed (business_date, currency) days of a date: the currencies closed on it. */
export async function closedCurrenciesOf(q: Queryable, businessDate: string): Promise<string[]> {
  const result = await q.query<{ currency_code: string }>(
    `select currency_code from ${settlementDbSchema}.business_days where business_date = $1 and close_time is not null order by currency_code`,
    [businessDate],
  );
  return result.rows.map((row) => row.currency_code);
}

/** Settled/reconciled batches of a date in the closed currencies, ordered by id. */
export async function closedBatchesOf(q: Queryable, businessDate: string): Promise<BatchRow[]> {
  const result = await q.query(
    `select ${batchColumns} from ${settlementDbSchema}.batches where business_date = $1 and state <> 'planned' order by id`,
    [businessDate],
  );
  return result.rows.map(rowToBatch);
}

/** Sets the reconciliation outcome of batches: matched ones 'reconciled', the others back to 'settled'. */
export async function recordReconciliation(pool: pg.Pool, matchedIds: readonly string[], brokenIds: readonly string[], now: Date): Promise<void> {
  await inTransaction(pool, async (client) => {
    if (matchedIds.length > 0) {
      await client.query(
        `update ${settlementDbSchema}.batches set state = 'reconciled', reconcile_time = $2 where id = any($1::text[]) and state <> 'planned'`,
        [matchedIds, now],
      );
    }
    if (brokenIds.length > 0) {
      await client.query(
        `update ${settlementDbSchema}.batches set state = 'settled', reconcile_time = null where id = any($1::text[]) and state = 'reconciled'`,
        [brokenIds],
      );
    }
  });
}
