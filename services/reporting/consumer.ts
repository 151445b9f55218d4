/**
 * The reporting consumer: applies each event's effects (domain/effects.ts) to the read models
 * inside the inbox transaction (services/shared/inbox.ts), so a redelivered event changes
 * nothing twice. An event the views cannot use is parked in reporting.dead_letters at once
 * (it can never succeed, so it is not retried) and keeps its inbox row.
 */
import { toBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import { eventRegistry } from "../shared/events.ts";
import type { ConsumedEvent } from "../shared/inbox.ts";
import type { Logger } from "../shared/log.ts";
import { effectsOf, InvalidEventError, type SummaryDelta, type TransactionSnapshot } from "./domain/effects.ts";

/** Durable consumer name: `<stream>_reporting`. */
export function reportingDurable(stream: string): string {
  return `${stream}_reporting`;
}

/** The additive counters of reporting.daily_summaries (minor units or counts), in one place for
 * the consumer that adds to them and the RPCs that sum them. */
export const summaryCounterColumns = [
  "authorization_count",
  "approved_count",
  "declined_count",
  "fraud_declined_count",
  "approved_amount_minor",
  "captured_amount_minor",
  "refunded_amount_minor",
  "released_amount_minor",
  "settled_gross_minor",
  "settled_fees_minor",
  "settled_net_minor",
] as const;

function summaryValues(delta: SummaryDelta): bigint[] {
  return [
    delta.authorizationCount,
    delta.approvedCount,
    delta.declinedCount,
    delta.fraudDeclinedCount,
    delta.approvedAmountMinor,
    delta.capturedAmountMinor,
    delta.refundedAmountMinor,
    delta.releasedAmountMinor,
    delta.settledGrossMinor,
    delta.settledFeesMinor,
    delta.settledNetMinor,
  ];
}

const summaryUpsert = (schema: string) => `
  insert into ${schema}.daily_summaries as s (merchant_id, business_date, currency_code, ${summaryCounterColumns.join(", ")})
  values ($1, $2, $3, ${summaryCounterColumns.map((_, index) => `$${index + 4}::bigint`).join(", ")})
  on conflict (merchant_id, business_date, currency_code) do update set
    ${summaryCounterColumns.map((column) => `${column} = s.${column} + excluded.${column}`).join(",\n    ")},
    update_time = now()`;

/** Adds a delta to its day row (and its decline code row) with the caller's transaction client. */
export async function applySummary(client: pg.PoolClient, schema: string, delta: SummaryDelta): Promise<void> {
  await client.query(summaryUpsert(schema), [delta.merchantId, delta.businessDate, delta.currencyCode, ...summaryValues(delta)]);
  if (delta.declineCode !== undefined) {
    await client.query(
      `insert into ${schema}.daily_declines as d (merchant_id, business_date, currency_code, response_code, decline_count)
       values ($1, $2, $3, $4, 1)
       on conflict (merchant_id, business_date, currency_code, response_code) do update set decline_count = d.decline_count + 1`,
      [delta.merchantId, delta.businessDate, delta.currencyCode, delta.declineCode],
    );
  }
}

/**
 * Records a snapshot when it is further along than the stored one (higher captured + refunded,
 * then later occur_time, then terminal state). Returns true when the row changed.
 */
export async function applySnapshot(client: pg.PoolClient, schema: string, snapshot: TransactionSnapshot): Promise<boolean> {
  const result = await client.query(
    `insert into ${schema}.transactions as t (authorization_id, merchant_id, partner_id, business_date, currency_code, amount_minor,
       captured_amount_minor, refunded_amount_minor, state, state_rank, response_code, event_time, occur_time, progress_minor, change_seq)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, nextval('${schema}.transaction_changes'))
     on conflict (authorization_id) do update set
       merchant_id = excluded.merchant_id, partner_id = excluded.partner_id, business_date = excluded.business_date,
       currency_code = excluded.currency_code, amount_minor = excluded.amount_minor,
       captured_amount_minor = excluded.captured_amount_minor, refunded_amount_minor = excluded.refunded_amount_minor,
       state = excluded.state, state_rank = excluded.state_rank, response_code = excluded.response_code,
       event_time = excluded.event_time, occur_time = excluded.occur_time, progress_minor = excluded.progress_minor,
       change_seq = excluded.change_seq, update_time = now()
     where (excluded.progress_minor, excluded.occur_time, excluded.state_rank) > (t.progress_minor, t.occur_time, t.state_rank)`,
    [
      snapshot.authorizationId,
      snapshot.merchantId,
      snapshot.partnerId,
      snapshot.businessDate,
      snapshot.currencyCode,
      snapshot.amountMinor,
      snapshot.capturedAmountMinor,
      snapshot.refundedAmountMinor,
      snapshot.state,
      snapshot.stateRank,
      snapshot.responseCode,
      snapshot.eventTime,
      snapshot.occurTime,
      snapshot.progressMinor,
    ],
  );
  if (result.rowCount !== 1) return false;
  return true;
}

/** Builds the inbox handler of the reporting consumer. */
export function createReportingHandler(options: { logger: Logger; schema?: string }) {
  const schema = options.schema ?? "reporting";
  return async (client: pg.PoolClient, event: ConsumedEvent): Promise<void> => {
    let effects;
    try {
      effects = effectsOf(event.message);
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      options.logger.error({ event_id: event.eventId, subject: event.subject, problem: error.message }, "unusable event parked in dead letters");
      const messageSchema = eventRegistry.getMessage(event.message.$typeName);
      await client.query(
        `insert into ${schema}.dead_letters (event_id, subject, schema_name, payload, error) values ($1, $2, $3, $4, $5) on conflict (event_id) do nothing`,
        [
          event.eventId,
          event.subject,
          event.message.$typeName,
          Buffer.from(messageSchema ? toBinary(messageSchema, event.message) : new Uint8Array()),
          error.message,
        ],
      );
      return;
    }
    await applySummary(client, schema, effects.summary);
    if (effects.transaction) await applySnapshot(client, schema, effects.transaction);
  };
}
