import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client, type ServiceImpl } from "@connectrpc/connect";
import {
  AuthorizationService,
  AuthorizeRequestSchema,
  AuthorizeResponseSchema,
  CaptureRequestSchema,
  CaptureResponseSchema,
  OperationType,
  RefundRequestSchema,
  RefundResponseSchema,
  VoidRequestSchema,
  VoidResponseSchema,
  type AuthorizeRequest,
} from "../../gen/payments/authorization/v1/authorization_service_pb.js";
import { AuthorizationEventType } from "../../gen/payments/authorization/v1/authorization_events_pb.js";
import { MerchantAdvice } from "../../gen/payments/common/v1/money_pb.js";
import { FraudDecision, FraudService } from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import { CreateAccountResult, CreateTransferResult } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import type { TransferSchema, AccountSchema } from "../../gen/payments/ledger/v1/ledger_pb.js";
import { accountCodes, accountIds, transferCodes } from "../shared/chart.ts";
import { createBreaker } from "../shared/clients.ts";
import { inTransaction, type Pool, type PoolClient } from "../shared/db.ts";
import { failedPrecondition, invalidArgument, notFound, unavailable } from "../shared/errors.ts";
import { newId, type IdPrefix } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import { ledgerOf } from "../shared/money.ts";
import { isoCodeOf, approved, declines, type Decision } from "./domain/codes.ts";
import { last4, tokenizePan } from "./domain/card.ts";
import {
  businessDateOf,
  requireAuthorizationId,
  requireCardToken,
  requireClientId,
  requireGeoPoint,
  requireIdempotencyKey,
  requireMerchantCategory,
  requirePan,
  requirePositiveMoney,
  timeOrNow,
} from "./domain/validation.ts";
import { authorizationEventRecord, emitAuthorizationEvent, schema, toAuthorization } from "./messages.ts";
import { claimKey, completeKey, markRetryable, releaseKey, requestHash } from "./store/idempotency.ts";
import {
  findCard,
  findMerchant,
  commitNewAuthorization,
  getAuthorization,
  insertCard,
  insertMerchant,
  insertOperation,
  listOperations,
  updateAuthorizationLifecycle,
  type AuthorizationRow,
  type CardRow,
  type MerchantRow,
} from "./store/repository.ts";

/** Tunables of the authorization flow (docs/configuration.md). */
export interface AuthorizationSettings {
  /** HMAC key of card tokens. */
  readonly cardTokenKey: string;
  /** Deadline of Fraud.Assess; past it the fallback policy decides. */
  readonly fraudTimeoutMs: number;
  /** Deadline of ledger calls. */
  readonly ledgerTimeoutMs: number;
  /** Fallback policy when fraud is unavailable: allow amounts up to this (minor units), decline above. */
  readonly fraudFallbackAllowMaxMinor: bigint;
  /** Authorization validity: 7 days for customer-initiated card payments (Stripe, Visa rules). */
  readonly validityMs: number;
  /** Subject prefix of events. */
  readonly subjectPrefix: string;
}

export interface AuthorizationDeps {
  readonly pool: Pool;
  readonly ledger: Client<typeof LedgerService>;
  readonly fraud: Client<typeof FraudService>;
  readonly logger: Logger;
  readonly settings: AuthorizationSettings;
  readonly clock?: () => Date;
}

type TransferInit = MessageInitShape<typeof TransferSchema>;
type AccountInit = MessageInitShape<typeof AccountSchema>;

/** Errors that say a dependency failed (its outcome may be unknown), as opposed to an answer. */
export function isDependencyFailure(error: unknown): boolean {
  if (!(error instanceof ConnectError)) return true;
  return [Code.Unavailable, Code.DeadlineExceeded, Code.Internal, Code.Unknown, Code.ResourceExhausted, Code.Canceled, Code.Aborted].includes(
    error.code,
  );
}

const okTransfer = new Set([CreateTransferResult.OK, CreateTransferResult.EXISTS]);
const okAccount = new Set([CreateAccountResult.OK, CreateAccountResult.EXISTS]);
const cacheEntriesMax = 200_000;

/**
 * The AuthorizationService handlers (proto/payments/authorization/v1/authorization_service.proto),
 * independent of the server that runs them. Dependencies are injected: the database pool, typed
 * ledger and fraud clients (each behind a circuit breaker), settings and a clock.
 */
export function createAuthorizationHandlers(deps: AuthorizationDeps): ServiceImpl<typeof AuthorizationService> {
  const { pool, logger, settings } = deps;
  const clock = deps.clock ?? (() => new Date());
  const merchantCache = new Map<string, MerchantRow>();
  const cardCache = new Map<string, CardRow>();
  const issuerAccounts = new Set<string>();

  const fraudBreaker = createBreaker(
    "fraud",
    (request: Parameters<Client<typeof FraudService>["assess"]>[0]) => deps.fraud.assess(request, { timeoutMs: settings.fraudTimeoutMs }),
    { isFailure: isDependencyFailure },
  );
  const ledgerBreaker = createBreaker(
    "ledger",
    (transfers: TransferInit[]) => deps.ledger.createTransfers({ transfers }, { timeoutMs: settings.ledgerTimeoutMs }),
    { isFailure: isDependencyFailure },
  );

  /** Creates transfers; a dependency failure becomes UNAVAILABLE (LEDGER_UNAVAILABLE). */
  async function createTransfers(transfers: TransferInit[]): Promise<CreateTransferResult[]> {
    try {
      return (await ledgerBreaker.fire(transfers)).results;
    } catch (error) {
      if (error instanceof ConnectError && !isDependencyFailure(error)) {
        throw new ConnectError(`ledger rejected the request: ${error.rawMessage}`, Code.Internal, undefined, undefined, error);
      }
      throw unavailable("LEDGER_UNAVAILABLE", `ledger unavailable: ${(error as Error).message}`);
    }
  }

  async function createAccounts(accounts: AccountInit[]): Promise<void> {
    let results: CreateAccountResult[];
    try {
      results = (await deps.ledger.createAccounts({ accounts }, { timeoutMs: settings.ledgerTimeoutMs })).results;
    } catch (error) {
      throw unavailable("LEDGER_UNAVAILABLE", `ledger unavailable: ${(error as Error).message}`);
    }
    results.forEach((result, index) => {
      if (!okAccount.has(result)) {
        throw new ConnectError(`ledger account ${accounts[index].id}: ${CreateAccountResult[result]}`, Code.Internal);
      }
    });
  }

  async function merchantOf(id: string): Promise<MerchantRow> {
    const cached = merchantCache.get(id);
    if (cached) return cached;
    const row = await findMerchant(pool, id);
    if (!row) throw notFound("merchant_id", id);
    if (merchantCache.size >= cacheEntriesMax) merchantCache.clear();
    merchantCache.set(id, row);
    return row;
  }

  async function cardOf(token: string, field: string): Promise<CardRow> {
    const cached = cardCache.get(token);
    if (cached) return cached;
    const row = await findCard(pool, token);
    if (!row) throw notFound(field, token);
    if (cardCache.size >= cacheEntriesMax) cardCache.clear();
    cardCache.set(token, row);
    return row;
  }

  /** After a failure with a claimed key: business errors wrote nothing, so the key is released;
   * anything else may have had an effect downstream, so the key stays for an identical retry. */
  async function settleClaim(error: unknown, method: string, key: string): Promise<void> {
    if (error instanceof ConnectError && [Code.InvalidArgument, Code.FailedPrecondition, Code.NotFound].includes(error.code)) {
      await releaseKey(pool, schema, method, key);
    } else {
      await markRetryable(pool, schema, method, key).catch(() => {});
    }
  }

  /** Fraud.Assess under its deadline; on timeout, error or open circuit the fallback policy
   * decides: allow up to fraudFallbackAllowMaxMinor, decline (91, try later) above. */
  async function assessFraud(authorizationId: string, card: CardRow, merchant: MerchantRow, request: AuthorizeRequest, eventTime: Date) {
    try {
      const { assessment } = await fraudBreaker.fire({
        authorizationId,
        cardToken: card.cardToken,
        merchantId: merchant.id,
        amount: request.amount,
        merchantCategory: request.merchantCategory,
        cardPresent: request.cardPresent,
        cardholderLocation: request.cardholderLocation,
        merchantLocation: request.merchantLocation,
        eventTime: timestampFromDate(eventTime),
      });
      return {
        assessmentId: assessment?.id ?? "",
        score: assessment?.score ?? 0,
        declined: assessment?.decision === FraudDecision.DECLINE,
        reasons: assessment?.reasons ?? [],
        fallbackUsed: false,
        fallbackDeclined: false,
      };
    } catch (error) {
      if (error instanceof ConnectError && !isDependencyFailure(error)) {
        throw new ConnectError(`fraud rejected the request: ${error.rawMessage}`, Code.Internal, undefined, undefined, error);
      }
      const allow = request.amount!.amountMinor <= settings.fraudFallbackAllowMaxMinor;
      logger.warn({ err: error, authorization_id: authorizationId, allow }, "fraud unavailable: fallback policy decides");
      return {
        assessmentId: "",
        score: 0,
        declined: false,
        reasons: [allow ? "FALLBACK_ALLOW_SMALL_AMOUNT" : "FALLBACK_DECLINE_LARGE_AMOUNT"],
        fallbackUsed: true,
        fallbackDeclined: !allow,
      };
    }
  }

  /**
   * The scaffold of every call that changes an existing authorization (Capture, Void, Refund):
   * an unknown id fails before the key is claimed; the key is claimed (an identical retry of a
   * completed call gets the stored response, replayed = true); then, in one transaction under
   * the authorization's row lock, `apply` checks the state, moves the ledger and writes, and the
   * response is stored with the effect. A failing check writes nothing and releases the key
   * (settleClaim); an unknown downstream outcome keeps it for an identical retry.
   */
  async function changeAuthorization<D extends DescMessage>(init: {
    method: "Capture" | "Void" | "Refund";
    idempotencyKey: string;
    authorizationId: string;
    requestBytes: Uint8Array;
    resourcePrefix: IdPrefix;
    responseSchema: D;
    apply: (client: PoolClient, row: AuthorizationRow, resourceId: string) => Promise<MessageShape<D>>;
  }): Promise<MessageShape<D>> {
    if (!(await getAuthorization(pool, init.authorizationId))) throw notFound("authorization_id", init.authorizationId);
    const hash = requestHash(init.method, init.requestBytes);
    const claim = await claimKey(pool, schema, init.method, init.idempotencyKey, hash, newId(init.resourcePrefix));
    if (claim.kind === "replay") return { ...fromBinary(init.responseSchema, claim.response), replayed: true } as MessageShape<D>;
    try {
      return await inTransaction(pool, async (client) => {
        const row = (await getAuthorization(client, init.authorizationId, true))!;
        const response = await init.apply(client, row, claim.resourceId);
        await completeKey(client, schema, init.method, init.idempotencyKey, toBinary(init.responseSchema, response));
        return response;
      });
    } catch (error) {
      await settleClaim(error, init.method, init.idempotencyKey);
      throw error;
    }
  }

  function requireLedgerOk(results: CreateTransferResult[], transfers: TransferInit[]): void {
    results.forEach((result, index) => {
      if (result === CreateTransferResult.PENDING_TRANSFER_EXPIRED) {
        throw failedPrecondition("AUTHORIZATION_EXPIRED", "the authorization's hold has expired", "authorization_id");
      }
      if (!okTransfer.has(result)) {
        throw new ConnectError(`ledger transfer ${transfers[index].id}: ${CreateTransferResult[result]}`, Code.Internal);
      }
    });
  }

  return {
    /** Registers a merchant and opens its payable account (ledger code 300). Idempotent on
     * merchant_id; the same id with other fields: ALREADY_EXISTS (MERCHANT_EXISTS_WITH_DIFFERENT_FIELDS). */
    async createMerchant(request) {
      requireClientId("merchant_id", request.merchantId);
      if (request.merchantId.length > 48) throw invalidArgument("merchant_id", "must be at most 48 characters");
      requireClientId("partner_id", request.partnerId);
      if (request.name.trim() === "" || request.name.length > 200) throw invalidArgument("name", "must be 1..200 characters");
      if (request.currencyCode === "") throw invalidArgument("currency_code", "is required");
      let ledger: number;
      try {
        ledger = ledgerOf(request.currencyCode);
      } catch {
        throw invalidArgument("currency_code", `${JSON.stringify(request.currencyCode)} is not a supported ISO 4217 code`);
      }
      let row = await findMerchant(pool, request.merchantId);
      if (!row) {
        const payableAccountId = accountIds.merchant(request.merchantId);
        await createAccounts([{ id: payableAccountId, ledger, code: accountCodes.merchant, flags: {} }]);
        await insertMerchant(pool, { ...request, id: request.merchantId, payableAccountId });
        row = (await findMerchant(pool, request.merchantId))!;
      }
      if (row.partnerId !== request.partnerId || row.name !== request.name || row.currencyCode !== request.currencyCode) {
        throw new ConnectError("merchant_id: exists with different fields", Code.AlreadyExists, new Headers({ "payments-error-reason": "MERCHANT_EXISTS_WITH_DIFFERENT_FIELDS", "payments-error-field": "merchant_id" }));
      }
      return {
        merchant: {
          id: row.id,
          partnerId: row.partnerId,
          name: row.name,
          currencyCode: row.currencyCode,
          payableAccountId: row.payableAccountId,
          createTime: timestampFromDate(row.createTime),
        },
      };
    },

    /** Opens a card's credit line: ledger account card:<token> (code 200, debits must not exceed
     * credits) funded from issuer:<CUR> by transfer fund:<token>. Idempotent on the PAN. */
    async createCardAccount(request) {
      requirePan("pan", request.pan);
      requirePositiveMoney("credit_limit", request.creditLimit);
      const limit = request.creditLimit;
      const ledger = ledgerOf(limit.currencyCode);
      const token = tokenizePan(request.pan, settings.cardTokenKey);
      let row = await findCard(pool, token);
      if (!row) {
        const issuer = accountIds.issuer(limit.currencyCode);
        const card = accountIds.card(token);
        const accounts: AccountInit[] = [{ id: card, ledger, code: accountCodes.card, flags: { debitsMustNotExceedCredits: true } }];
        if (!issuerAccounts.has(issuer)) accounts.unshift({ id: issuer, ledger, code: accountCodes.issuer, flags: {} });
        await createAccounts(accounts);
        issuerAccounts.add(issuer);
        const funding: TransferInit[] = [
          { id: `fund:${token}`, debitAccountId: issuer, creditAccountId: card, amount: limit.amountMinor, ledger, code: transferCodes.funding },
        ];
        requireLedgerOk(await createTransfers(funding), funding);
        await insertCard(pool, { cardToken: token, cardLast4: last4(request.pan), currencyCode: limit.currencyCode, creditLimitMinor: limit.amountMinor, ledgerAccountId: card });
        row = (await findCard(pool, token))!;
      }
      if (row.creditLimitMinor !== limit.amountMinor || row.currencyCode !== limit.currencyCode) {
        throw new ConnectError("pan: card account exists with a different credit limit", Code.AlreadyExists, new Headers({ "payments-error-reason": "CARD_ACCOUNT_EXISTS_WITH_DIFFERENT_LIMIT", "payments-error-field": "credit_limit" }));
      }
      return {
        cardAccount: {
          cardToken: row.cardToken,
          cardLast4: row.cardLast4,
          creditLimit: { currencyCode: row.currencyCode, amountMinor: row.creditLimitMinor },
          ledgerAccountId: row.ledgerAccountId,
          createTime: timestampFromDate(row.createTime),
        },
      };
    },

    /**
     * Authorize: validate -> claim the idempotency key -> Fraud.Assess (deadline, breaker,
     * fallback) -> ledger hold hold:<auth_id> (pending card -> merchant, timeout = validity) ->
     * authorization row + outbox event + stored response in one transaction. Declines (51 from
     * the ledger's exceeds_credits, 59 from fraud, 54 expired card, 91 fraud fallback) are
     * successful responses. UNAVAILABLE when the ledger's outcome is unknown: retry with the
     * same key (the hold id repeats, so no double hold).
     */
    async authorize(request) {
      const now = clock();
      requireIdempotencyKey(request.idempotencyKey);
      requireClientId("merchant_id", request.merchantId);
      if (request.card.case === "pan") requirePan("pan", request.card.value);
      else if (request.card.case === "cardToken") requireCardToken("card_token", request.card.value);
      else throw invalidArgument("card", "pan or card_token is required");
      requirePositiveMoney("amount", request.amount);
      requireMerchantCategory(request.merchantCategory);
      requireGeoPoint("cardholder_location", request.cardholderLocation);
      requireGeoPoint("merchant_location", request.merchantLocation);
      const eventTime = timeOrNow("event_time", request.eventTime, now);
      if (request.cardExpiry && (request.cardExpiry.month < 1 || request.cardExpiry.month > 12)) {
        throw invalidArgument("card_expiry.month", "must be 1..12");
      }
      const cardToken = request.card.case === "pan" ? tokenizePan(request.card.value, settings.cardTokenKey) : request.card.value;
      const cardLast4 = request.card.case === "pan" ? last4(request.card.value) : "";
      const [merchant, card] = await Promise.all([
        merchantOf(request.merchantId),
        cardOf(cardToken, request.card.case === "pan" ? "pan" : "card_token"),
      ]);
      if (request.amount.currencyCode !== merchant.currencyCode) {
        throw invalidArgument("amount.currency_code", `must be ${merchant.currencyCode}, the merchant's currency`);
      }
      // Hash the request with the PAN replaced by its token: no PAN-derived bytes are kept.
      const canonical = create(AuthorizeRequestSchema, { ...request, card: { case: "cardToken", value: cardToken } });
      const hash = requestHash("Authorize", toBinary(AuthorizeRequestSchema, canonical));
      const claim = await claimKey(pool, schema, "Authorize", request.idempotencyKey, hash, newId("auth"));
      if (claim.kind === "replay") {
        return { ...fromBinary(AuthorizeResponseSchema, claim.response), replayed: true };
      }
      const authorizationId = claim.resourceId;
      try {
        let decision: Decision = approved;
        let fraud = { assessmentId: "", score: 0, declined: false, reasons: [] as string[], fallbackUsed: false, fallbackDeclined: false };
        const expiry = request.cardExpiry;
        if (expiry && (expiry.year < eventTime.getUTCFullYear() || (expiry.year === eventTime.getUTCFullYear() && expiry.month < eventTime.getUTCMonth() + 1))) {
          decision = declines.expiredCard;
        } else {
          fraud = await assessFraud(authorizationId, card, merchant, request, eventTime);
          if (fraud.declined) decision = declines.suspectedFraud;
          else if (fraud.fallbackDeclined) decision = declines.fraudUnavailable;
        }
        const holdTransferId = `hold:${authorizationId}`;
        if (decision.approved) {
          const hold: TransferInit[] = [
            {
              id: holdTransferId,
              debitAccountId: card.ledgerAccountId,
              creditAccountId: merchant.payableAccountId,
              amount: request.amount.amountMinor,
              ledger: ledgerOf(request.amount.currencyCode),
              code: transferCodes.hold,
              flags: { pending: true },
              timeoutSeconds: Math.ceil(settings.validityMs / 1000),
            },
          ];
          const [result] = await createTransfers(hold);
          if (result === CreateTransferResult.EXCEEDS_CREDITS) decision = declines.insufficientCredit;
          else if (result === CreateTransferResult.DEBIT_ACCOUNT_ALREADY_CLOSED) decision = declines.cardClosed;
          else if (result === CreateTransferResult.ID_ALREADY_FAILED) decision = declines.doNotHonor;
          else requireLedgerOk([result], hold);
        }
        const row: AuthorizationRow = {
          id: authorizationId,
          merchantId: merchant.id,
          partnerId: merchant.partnerId,
          cardToken,
          cardLast4: cardLast4 || card.cardLast4,
          currencyCode: request.amount!.currencyCode,
          amountMinor: request.amount!.amountMinor,
          capturedMinor: 0n,
          refundedMinor: 0n,
          state: decision.approved ? "AUTHORIZED" : "DECLINED",
          responseCode: isoCodeOf[decision.responseCode],
          declineReason: decision.declineReason,
          merchantAdvice: decision.approved ? "" : MerchantAdvice[decision.merchantAdvice],
          fraudAssessmentId: fraud.assessmentId,
          fraudScore: fraud.score,
          fraudDeclined: fraud.declined,
          fraudReasons: fraud.reasons,
          fraudFallbackUsed: fraud.fallbackUsed,
          holdTransferId: decision.approved ? holdTransferId : "",
          holdSequence: 0,
          merchantCategory: request.merchantCategory,
          cardPresent: request.cardPresent,
          businessDate: businessDateOf(eventTime),
          eventTime,
          createTime: now,
          expireTime: new Date(now.getTime() + settings.validityMs),
        };
        const event = authorizationEventRecord(settings.subjectPrefix, {
          type: decision.approved ? AuthorizationEventType.APPROVED : AuthorizationEventType.DECLINED,
          row,
          amountMinor: row.amountMinor,
          businessDate: row.businessDate,
          occurTime: now,
        });
        const response = create(AuthorizeResponseSchema, { authorization: toAuthorization(row), replayed: false });
        await commitNewAuthorization(pool, row, event, { method: "Authorize", key: request.idempotencyKey, response: toBinary(AuthorizeResponseSchema, response) });
        return response;
      } catch (error) {
        await settleClaim(error, "Authorize", request.idempotencyKey);
        throw error;
      }
    },

    /**
     * Capture: posts `amount` of the hold (ledger post_pending_transfer cap:<capture_id>). A
     * partial, non-final capture re-holds the remainder in the same linked chain
     * (hold:<auth_id>:<n>), so several captures up to the authorized amount work (Stripe
     * multicapture). FAILED_PRECONDITION: CAPTURE_EXCEEDS_AUTHORIZED, AUTHORIZATION_NOT_CAPTURABLE,
     * AUTHORIZATION_EXPIRED.
     */
    async capture(request) {
      const now = clock();
      requireIdempotencyKey(request.idempotencyKey);
      requireAuthorizationId(request.authorizationId);
      requirePositiveMoney("amount", request.amount);
      const eventTime = timeOrNow("event_time", request.eventTime, now);
      return changeAuthorization({
        method: "Capture",
        idempotencyKey: request.idempotencyKey,
        authorizationId: request.authorizationId,
        requestBytes: toBinary(CaptureRequestSchema, request),
        resourcePrefix: "cap",
        responseSchema: CaptureResponseSchema,
        apply: async (client, row, captureId) => {
          checkCapturable(row, request.amount!.currencyCode, request.amount!.amountMinor, now);
          const amount = request.amount!.amountMinor;
          const remaining = row.amountMinor - row.capturedMinor;
          const final = request.finalCapture || amount === remaining;
          const ledger = ledgerOf(row.currencyCode);
          const captureTransferId = `cap:${captureId}`;
          const transfers: TransferInit[] = [
            { id: captureTransferId, pendingId: row.holdTransferId, amount, flags: { postPendingTransfer: true, linked: !final } },
          ];
          let holdTransferId = row.holdTransferId;
          let holdSequence = row.holdSequence;
          if (!final) {
            holdSequence += 1;
            holdTransferId = `hold:${row.id}:${holdSequence}`;
            transfers.push({
              id: holdTransferId,
              debitAccountId: accountIds.card(row.cardToken),
              creditAccountId: accountIds.merchant(row.merchantId),
              amount: remaining - amount,
              ledger,
              code: transferCodes.hold,
              flags: { pending: true },
              timeoutSeconds: Math.max(1, Math.ceil((row.expireTime.getTime() - now.getTime()) / 1000)),
            });
          }
          requireLedgerOk(await createTransfers(transfers), transfers);
          const updated = await updateAuthorizationLifecycle(client, row.id, {
            capturedMinor: row.capturedMinor + amount,
            refundedMinor: row.refundedMinor,
            state: final ? "CAPTURED" : "PARTIALLY_CAPTURED",
            holdTransferId,
            holdSequence,
          });
          const businessDate = businessDateOf(eventTime);
          await insertOperation(client, {
            id: captureId,
            type: "CAPTURE",
            authorizationId: row.id,
            merchantId: row.merchantId,
            partnerId: row.partnerId,
            currencyCode: row.currencyCode,
            amountMinor: amount,
            businessDate,
            eventTime,
            merchantCategory: row.merchantCategory,
            cardPresent: row.cardPresent,
            ledgerTransferId: captureTransferId,
          });
          await emitAuthorizationEvent(client, settings.subjectPrefix, {
            type: AuthorizationEventType.CAPTURED, row: updated, amountMinor: amount, operationId: captureId, businessDate, occurTime: now,
          });
          return create(CaptureResponseSchema, { authorization: toAuthorization(updated), captureId, replayed: false });
        },
      });
    },

    /** Void: releases the whole hold (ledger void_pending_transfer) of an authorization with
     * nothing captured. FAILED_PRECONDITION AUTHORIZATION_NOT_VOIDABLE otherwise. */
    async void(request) {
      const now = clock();
      requireIdempotencyKey(request.idempotencyKey);
      requireAuthorizationId(request.authorizationId);
      const eventTime = timeOrNow("event_time", request.eventTime, now);
      return changeAuthorization({
        method: "Void",
        idempotencyKey: request.idempotencyKey,
        authorizationId: request.authorizationId,
        requestBytes: toBinary(VoidRequestSchema, request),
        resourcePrefix: "vd",
        responseSchema: VoidResponseSchema,
        apply: async (client, row, voidId) => {
          checkVoidable(row);
          const transfers: TransferInit[] = [{ id: `void:${row.holdTransferId}`, pendingId: row.holdTransferId, flags: { voidPendingTransfer: true } }];
          requireLedgerOk(await createTransfers(transfers), transfers);
          const updated = await updateAuthorizationLifecycle(client, row.id, {
            capturedMinor: row.capturedMinor, refundedMinor: row.refundedMinor, state: "VOIDED", holdTransferId: row.holdTransferId, holdSequence: row.holdSequence,
          });
          await emitAuthorizationEvent(client, settings.subjectPrefix, {
            type: AuthorizationEventType.VOIDED, row: updated, amountMinor: row.amountMinor, operationId: voidId, businessDate: businessDateOf(eventTime), occurTime: now,
          });
          return create(VoidResponseSchema, { authorization: toAuthorization(updated), replayed: false });
        },
      });
    },

    /** Refund: a posted transfer rfd:<refund_id> merchant -> card of at most captured - refunded
     * (several refunds allowed, Adyen). FAILED_PRECONDITION REFUND_EXCEEDS_CAPTURED otherwise. */
    async refund(request) {
      const now = clock();
      requireIdempotencyKey(request.idempotencyKey);
      requireAuthorizationId(request.authorizationId);
      requirePositiveMoney("amount", request.amount);
      const eventTime = timeOrNow("event_time", request.eventTime, now);
      return changeAuthorization({
        method: "Refund",
        idempotencyKey: request.idempotencyKey,
        authorizationId: request.authorizationId,
        requestBytes: toBinary(RefundRequestSchema, request),
        resourcePrefix: "rfd",
        responseSchema: RefundResponseSchema,
        apply: async (client, row, refundId) => {
          const amount = request.amount!.amountMinor;
          checkRefundable(row, request.amount!.currencyCode, amount);
          const refundTransferId = `rfd:${refundId}`;
          const transfers: TransferInit[] = [
            {
              id: refundTransferId,
              debitAccountId: accountIds.merchant(row.merchantId),
              creditAccountId: accountIds.card(row.cardToken),
              amount,
              ledger: ledgerOf(row.currencyCode),
              code: transferCodes.refund,
            },
          ];
          requireLedgerOk(await createTransfers(transfers), transfers);
          const updated = await updateAuthorizationLifecycle(client, row.id, {
            capturedMinor: row.capturedMinor, refundedMinor: row.refundedMinor + amount, state: row.state, holdTransferId: row.holdTransferId, holdSequence: row.holdSequence,
          });
          const businessDate = businessDateOf(eventTime);
          await insertOperation(client, {
            id: refundId, type: "REFUND", authorizationId: row.id, merchantId: row.merchantId, partnerId: row.partnerId, currencyCode: row.currencyCode,
            amountMinor: amount, businessDate, eventTime, merchantCategory: row.merchantCategory, cardPresent: row.cardPresent, ledgerTransferId: refundTransferId,
          });
          await emitAuthorizationEvent(client, settings.subjectPrefix, {
            type: AuthorizationEventType.REFUNDED, row: updated, amountMinor: amount, operationId: refundId, businessDate, occurTime: now,
          });
          return create(RefundResponseSchema, { authorization: toAuthorization(updated), refundId, replayed: false });
        },
      });
    },

    /** The clearing file of a business date: captures and refunds ordered by id, paged. */
    async listOperations(request) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(request.businessDate) || Number.isNaN(Date.parse(`${request.businessDate}T00:00:00Z`))) {
        throw invalidArgument("business_date", "must be a date YYYY-MM-DD");
      }
      if (request.pageSize < 0 || request.pageSize > 5000) throw invalidArgument("page_size", "must be 0..5000");
      const limit = request.pageSize || 1000;
      const afterId = request.pageToken ? Buffer.from(request.pageToken, "base64url").toString() : "";
      const rows = await listOperations(pool, request.businessDate, request.currencyCode, afterId, limit);
      return {
        operations: rows.map((row) => ({
          id: row.id,
          type: row.type === "CAPTURE" ? OperationType.CAPTURE : OperationType.REFUND,
          authorizationId: row.authorizationId,
          merchantId: row.merchantId,
          partnerId: row.partnerId,
          amount: { currencyCode: row.currencyCode, amountMinor: row.amountMinor },
          businessDate: row.businessDate,
          eventTime: timestampFromDate(row.eventTime),
          merchantCategory: row.merchantCategory,
          cardPresent: row.cardPresent,
          ledgerTransferId: row.ledgerTransferId,
        })),
        nextPageToken: rows.length === limit ? Buffer.from(rows[rows.length - 1].id).toString("base64url") : "",
      };
    },

    /** Reads one authorization; NOT_FOUND when unknown. */
    async getAuthorization(request) {
      requireAuthorizationId(request.authorizationId);
      const row = await getAuthorization(pool, request.authorizationId);
      if (!row) throw notFound("authorization_id", request.authorizationId);
      return { authorization: toAuthorization(row) };
    },
  };
}

function checkCapturable(row: AuthorizationRow, currencyCode: string, amountMinor: bigint, now: Date): void {
  if (row.state !== "AUTHORIZED" && row.state !== "PARTIALLY_CAPTURED") {
    throw failedPrecondition("AUTHORIZATION_NOT_CAPTURABLE", `authorization_id: authorization is ${row.state}, not capturable`, "authorization_id");
  }
  if (currencyCode !== row.currencyCode) throw invalidArgument("amount.currency_code", `must be ${row.currencyCode}, the authorization's currency`);
  const remaining = row.amountMinor - row.capturedMinor;
  if (amountMinor > remaining) {
    throw failedPrecondition("CAPTURE_EXCEEDS_AUTHORIZED", `amount.amount_minor: ${amountMinor} exceeds the ${remaining} still authorized`, "amount.amount_minor");
  }
  if (now.getTime() >= row.expireTime.getTime()) {
    throw failedPrecondition("AUTHORIZATION_EXPIRED", "authorization_id: the authorization has expired", "authorization_id");
  }
}

function checkVoidable(row: AuthorizationRow): void {
  if (row.state !== "AUTHORIZED") {
    throw failedPrecondition("AUTHORIZATION_NOT_VOIDABLE", `authorization_id: authorization is ${row.state}; only an uncaptured authorization can be voided`, "authorization_id");
  }
}

function checkRefundable(row: AuthorizationRow, currencyCode: string, amountMinor: bigint): void {
  if (row.capturedMinor === 0n) {
    throw failedPrecondition("NOTHING_CAPTURED", `authorization_id: authorization is ${row.state} with nothing captured`, "authorization_id");
  }
  if (currencyCode !== row.currencyCode) throw invalidArgument("amount.currency_code", `must be ${row.currencyCode}, the authorization's currency`);
  const refundable = row.capturedMinor - row.refundedMinor;
  if (amountMinor > refundable) {
    throw failedPrecondition("REFUND_EXCEEDS_CAPTURED", `amount.amount_minor: ${amountMinor} exceeds the ${refundable} captured and not yet refunded`, "amount.amount_minor");
  }
}
