import type pg from "pg";
import { outboxColumns, outboxValues, type OutboxRecord } from "../../shared/outbox.ts";

/** Row shapes of the authz schema (minor units as bigint). */
export interface MerchantRow {
  id: string;
  partnerId: string;
  name: string;
  currencyCode: string;
  payableAccountId: string;
  createTime: Date;
}

export interface CardRow {
  cardToken: string;
  cardLast4: string;
  currencyCode: string;
  creditLimitMinor: bigint;
  ledgerAccountId: string;
  createTime: Date;
}

export interface AuthorizationRow {
  id: string;
  merchantId: string;
  partnerId: string;
  cardToken: string;
  cardLast4: string;
  currencyCode: string;
  amountMinor: bigint;
  capturedMinor: bigint;
  refundedMinor: bigint;
  state: string;
  responseCode: string;
  declineReason: string;
  merchantAdvice: string;
  fraudAssessmentId: string;
  fraudScore: number;
  fraudDeclined: boolean;
  fraudReasons: string[];
  fraudFallbackUsed: boolean;
  holdTransferId: string;
  holdSequence: number;
  merchantCategory: string;
  cardPresent: boolean;
  businessDate: string;
  eventTime: Date;
  createTime: Date;
  expireTime: Date;
}

export interface OperationRow {
  id: string;
  type: "CAPTURE" | "REFUND";
  authorizationId: string;
  merchantId: string;
  partnerId: string;
  currencyCode: string;
  amountMinor: bigint;
  businessDate: string;
  eventTime: Date;
  merchantCategory: string;
  cardPresent: boolean;
  ledgerTransferId: string;
}

const authorizationColumns = `id, merchant_id as "merchantId", partner_id as "partnerId", card_token as "cardToken",
  card_last4 as "cardLast4", currency_code as "currencyCode", amount_minor as "amountMinor",
  captured_minor as "capturedMinor", refunded_minor as "refundedMinor", state, response_code as "responseCode",
  decline_reason as "declineReason", merchant_advice as "merchantAdvice", fraud_assessment_id as "fraudAssessmentId",
  fraud_score as "fraudScore", fraud_declined as "fraudDeclined", fraud_reasons as "fraudReasons",
  fraud_fallback_used as "fraudFallbackUsed", hold_transfer_id as "holdTransferId", hold_sequence as "holdSequence",
  merchant_category as "merchantCategory", card_present as "cardPresent", business_date as "businessDate",
  event_time as "eventTime", create_time as "createTime", expire_time as "expireTime"`;

type Queryable = pg.Pool | pg.PoolClient;

export async function findMerchant(db: Queryable, id: string): Promise<MerchantRow | undefined> {
  const result = await db.query<MerchantRow>(
    `select id, partner_id as "partnerId", name, currency_code as "currencyCode", payable_account_id as "payableAccountId",
            create_time as "createTime" from authz.merchants where id = $1`,
    [id],
  );
  return result.rows[0];
}

export async function insertMerchant(db: Queryable, row: Omit<MerchantRow, "createTime">): Promise<void> {
  await db.query(
    `insert into authz.merchants (id, partner_id, name, currency_code, payable_account_id) values ($1, $2, $3, $4, $5)
     on conflict (id) do nothing`,
    [row.id, row.partnerId, row.name, row.currencyCode, row.payableAccountId],
  );
}

export async function findCard(db: Queryable, token: string): Promise<CardRow | undefined> {
  const result = await db.query<CardRow>(
    `select card_token as "cardToken", card_last4 as "cardLast4", currency_code as "currencyCode",
            credit_limit_minor as "creditLimitMinor", ledger_account_id as "ledgerAccountId", create_time as "createTime"
       from authz.card_accounts where card_token = $1`,
    [token],
  );
  return result.rows[0];
}

export async function insertCard(db: Queryable, row: Omit<CardRow, "createTime">): Promise<void> {
  await db.query(
    `insert into authz.card_accounts (card_token, card_last4, currency_code, credit_limit_minor, ledger_account_id)
     values ($1, $2, $3, $4, $5) on conflict (card_token) do nothing`,
    [row.cardToken, row.cardLast4, row.currencyCode, row.creditLimitMinor, row.ledgerAccountId],
  );
}

export async function getAuthorization(db: Queryable, id: string, forUpdate = false): Promise<AuthorizationRow | undefined> {
  const result = await db.query<AuthorizationRow>(
    `select ${authorizationColumns} from authz.authorizations where id = $1${forUpdate ? " for update" : ""}`,
    [id],
  );
  return result.rows[0];
}

/**
 * Commits a new authorization in ONE statement (one round trip, one commit): the row, its
 * outbox event and the completed idempotency key with the stored response, through
 * data-modifying CTEs, so all three commit together or not at all.
 */
export async function commitNewAuthorization(
  db: Queryable,
  row: AuthorizationRow,
  event: OutboxRecord,
  key: { method: string; key: string; response: Uint8Array },
): Promise<void> {
  await db.query(
    `with inserted as (
       insert into authz.authorizations (id, merchant_id, partner_id, card_token, card_last4, currency_code, amount_minor,
         captured_minor, refunded_minor, state, response_code, decline_reason, merchant_advice, fraud_assessment_id,
         fraud_score, fraud_declined, fraud_reasons, fraud_fallback_used, hold_transfer_id, hold_sequence,
         merchant_category, card_present, business_date, event_time, expire_time, create_time)
       values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26)
     ), event as (
       insert into authz.outbox (${outboxColumns}) values ($27, $28, $29, $30, $31)
     )
     update authz.idempotency_keys set state = 'completed', response = $34, update_time = now()
      where method = $32 and key = $33`,
    [
      row.id, row.merchantId, row.partnerId, row.cardToken, row.cardLast4, row.currencyCode, row.amountMinor,
      row.capturedMinor, row.refundedMinor, row.state, row.responseCode, row.declineReason, row.merchantAdvice,
      row.fraudAssessmentId, row.fraudScore, row.fraudDeclined, row.fraudReasons, row.fraudFallbackUsed,
      row.holdTransferId, row.holdSequence, row.merchantCategory, row.cardPresent, row.businessDate, row.eventTime,
      row.expireTime, row.createTime,
      ...outboxValues(event),
      key.method, key.key, Buffer.from(key.response),
    ],
  );
}

/** Writes the lifecycle fields of a locked authorization and returns the new row. */
export async function updateAuthorizationLifecycle(
  db: Queryable,
  id: string,
  change: { capturedMinor: bigint; refundedMinor: bigint; state: string; holdTransferId: string; holdSequence: number },
): Promise<AuthorizationRow> {
  const result = await db.query<AuthorizationRow>(
    `update authz.authorizations set captured_minor = $2, refunded_minor = $3, state = $4, hold_transfer_id = $5,
       hold_sequence = $6 where id = $1 returning ${authorizationColumns}`,
    [id, change.capturedMinor, change.refundedMinor, change.state, change.holdTransferId, change.holdSequence],
  );
  return result.rows[0];
}

export async function insertOperation(db: Queryable, row: OperationRow): Promise<void> {
  await db.query(
    `insert into authz.operations (id, type, authorization_id, merchant_id, partner_id, currency_code, amount_minor,
       business_date, event_time, merchant_category, card_present, ledger_transfer_id)
     values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
    [
      row.id, row.type, row.authorizationId, row.merchantId, row.partnerId, row.currencyCode, row.amountMinor,
      row.businessDate, row.eventTime, row.merchantCategory, row.cardPresent, row.ledgerTransferId,
    ],
  );
}

/** One page of a business date's operations ordered by id, after `afterId`. */
export async function listOperations(
  db: Queryable,
  businessDate: string,
  currencyCode: string,
  afterId: string,
  limit: number,
): Promise<OperationRow[]> {
  const result = await db.query<OperationRow>(
    `select id, type, authorization_id as "authorizationId", merchant_id as "merchantId", partner_id as "partnerId",
            currency_code as "currencyCode", amount_minor as "amountMinor", business_date as "businessDate",
            event_time as "eventTime", merchant_category as "merchantCategory", card_present as "cardPresent",
            ledger_transfer_id as "ledgerTransferId"
       from authz.operations
      where business_date = $1 and ($2 = '' or currency_code = $2) and id > $3
      order by id limit $4`,
    [businessDate, currencyCode, afterId, limit],
  );
  return result.rows;
}

/** Open authorizations whose validity passed, locked for the caller (SKIP LOCKED: replicas share). */
export async function lockExpiredAuthorizations(db: pg.PoolClient, now: Date, limit: number): Promise<AuthorizationRow[]> {
  const result = await db.query<AuthorizationRow>(
    `select ${authorizationColumns} from authz.authorizations
      where state in ('AUTHORIZED', 'PARTIALLY_CAPTURED') and expire_time <= $1
      order by expire_time limit $2 for update skip locked`,
    [now, limit],
  );
  return result.rows;
}
