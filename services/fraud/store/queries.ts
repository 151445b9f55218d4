/**
 * The fraud service's SQL. The Assess path uses at most two round trips: readCardContext
 * (velocity windows, amount profile, previous attempt and whether the authorization was
 * already assessed, in one statement) and insertAssessment (assessment + history row in one
 * statement). Windows are in event time over the (card_token, event_time) index.
 */
import type { Pool } from "../../shared/db.ts";
import { profileSizeMax, type CardHistory } from "../domain/history.ts";

/** The card's history as seen at eventTime, and the id of an existing assessment, if any. */
export interface CardContext {
  readonly history: CardHistory;
  readonly existingAssessmentId: string | undefined;
}

/** A stored assessment row (bigint money, Date times). */
export interface StoredAssessment {
  readonly id: string;
  readonly authorizationId: string;
  readonly cardToken: string;
  /** 1 allow, 2 decline (FraudDecision numbers). */
  readonly decision: number;
  readonly score: number;
  readonly reasons: string[];
  readonly features: Record<string, unknown>;
  readonly cardCount1h: number;
  readonly cardCount24h: number;
  readonly cardMeanAmountMinor: bigint;
  readonly distanceKm: number;
  readonly modelVersion: string;
  readonly createTime: Date;
}

/** What is recorded for one assessed authorization. */
export interface NewAssessment extends Omit<StoredAssessment, "features"> {
  readonly features: Record<string, unknown>;
  readonly merchantId: string;
  readonly eventTime: Date;
  readonly amountMinor: bigint;
  readonly currencyCode: string;
  readonly merchantCategory: string;
  readonly cardPresent: boolean;
}

const cardContextSql = `
with win as (
  select count(*) filter (where event_time >= $2::timestamptz - interval '1 hour')::int as count_1h,
         count(*)::int as count_24h,
         count(*) filter (where score >= $4)::int as high_risk_count_24h
    from fraud.card_history
   where card_token = $1 and event_time >= $2::timestamptz - interval '24 hours' and event_time < $2::timestamptz
), prev as (
  select max(event_time) as previous_event_time
    from fraud.card_history
   where card_token = $1 and event_time < $2::timestamptz
), recent as (
  select amount_minor
    from fraud.card_history
   where card_token = $1 and event_time < $2::timestamptz and currency_code = $3
   order by event_time desc
   limit ${profileSizeMax}
), profile as (
  select count(*)::int as profile_count,
         coalesce(div(sum(amount_minor), nullif(count(*), 0)), 0)::int8 as mean_amount_minor,
         coalesce(percentile_disc(0.5) within group (order by amount_minor), 0)::int8 as median_amount_minor
    from recent
)
select win.count_1h, win.count_24h, win.high_risk_count_24h, prev.previous_event_time,
       profile.profile_count, profile.mean_amount_minor, profile.median_amount_minor,
       (select id from fraud.assessments where authorization_id = $5) as existing_assessment_id
  from win, prev, profile`;

/**
 * Reads the card's history strictly before `eventTime` (event time) in one statement:
 * counts in [t-1h, t) and [t-24h, t), high-risk attempts (score >= highRiskScore) in
 * [t-24h, t), the amount profile of the latest same-currency attempts (count, floor mean,
 * lower median), the previous attempt's time, and the id of an existing assessment of
 * `authorizationId`.
 */
export async function readCardContext(
  pool: Pool,
  query: { cardToken: string; eventTime: Date; currencyCode: string; highRiskScore: number; authorizationId: string },
): Promise<CardContext> {
  const result = await pool.query(cardContextSql, [
    query.cardToken,
    query.eventTime,
    query.currencyCode,
    query.highRiskScore,
    query.authorizationId,
  ]);
  const row = result.rows[0];
  return {
    history: {
      count1h: row.count_1h,
      count24h: row.count_24h,
      highRiskCount24h: row.high_risk_count_24h,
      profileCount: row.profile_count,
      meanAmountMinor: row.mean_amount_minor,
      medianAmountMinor: row.median_amount_minor,
      previousEventTimeMs: row.previous_event_time ? (row.previous_event_time as Date).getTime() : undefined,
    },
    existingAssessmentId: row.existing_assessment_id ?? undefined,
  };
}

const assessmentColumns = `id, authorization_id, card_token, decision, score, reasons, features, card_count_1h,
  card_count_24h, card_mean_amount_minor, distance_km, model_version, create_time`;

function toStored(row: Record<string, unknown>): StoredAssessment {
  return {
    id: row.id as string,
    authorizationId: row.authorization_id as string,
    cardToken: row.card_token as string,
    decision: row.decision as number,
    score: row.score as number,
    reasons: row.reasons as string[],
    features: row.features as Record<string, unknown>,
    cardCount1h: row.card_count_1h as number,
    cardCount24h: row.card_count_24h as number,
    cardMeanAmountMinor: row.card_mean_amount_minor as bigint,
    distanceKm: row.distance_km as number,
    modelVersion: row.model_version as string,
    createTime: row.create_time as Date,
  };
}

/** The stored assessment of `authorizationId`, or undefined. */
export async function readAssessment(pool: Pool, authorizationId: string): Promise<StoredAssessment | undefined> {
  const result = await pool.query(`select ${assessmentColumns} from fraud.assessments where authorization_id = $1`, [
    authorizationId,
  ]);
  return result.rows[0] ? toStored(result.rows[0]) : undefined;
}

const insertSql = `
with inserted as (
  insert into fraud.assessments (id, authorization_id, card_token, decision, score, reasons, features, card_count_1h,
                                 card_count_24h, card_mean_amount_minor, distance_km, model_version, create_time)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
  on conflict (authorization_id) do nothing
  returning ${assessmentColumns}
), history as (
  insert into fraud.card_history (authorization_id, card_token, merchant_id, event_time, amount_minor, currency_code,
                                  merchant_category, card_present, score)
  select authorization_id, card_token, $14, $15, $16, $17, $18, $19, score from inserted
  on conflict (authorization_id) do nothing
)
select * from inserted`;

/**
 * Records the assessment and the card's history row atomically (one statement). Returns the
 * stored row, or undefined when `authorizationId` was already assessed (a concurrent
 * duplicate): then nothing was written and the caller reads the stored one.
 */
export async function insertAssessment(pool: Pool, a: NewAssessment): Promise<StoredAssessment | undefined> {
  const result = await pool.query(insertSql, [
    a.id,
    a.authorizationId,
    a.cardToken,
    a.decision,
    a.score,
    a.reasons,
    JSON.stringify(a.features),
    a.cardCount1h,
    a.cardCount24h,
    a.cardMeanAmountMinor.toString(),
    a.distanceKm,
    a.modelVersion,
    a.createTime,
    a.merchantId,
    a.eventTime,
    a.amountMinor.toString(),
    a.currencyCode,
    a.merchantCategory,
    a.cardPresent,
  ]);
  return result.rows[0] ? toStored(result.rows[0]) : undefined;
}
