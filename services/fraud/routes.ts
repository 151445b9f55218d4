/**
 * FraudService handlers (proto/payments/fraud/v1/fraud_service.proto), built from injected
 * dependencies so tests run the production handlers over an in-memory transport.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AssessmentSchema,
  FraudDecision,
  FraudService,
  type Assessment,
} from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import type { Pool } from "../shared/db.ts";
import { notFound } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { modelVersion, score, type Features } from "./domain/scorer.ts";
import { validateAssessRequest, validateAuthorizationId } from "./handlers/validate.ts";
import { decisionStored } from "./store/schema.ts";
import { insertAssessment, readAssessment, readCardContext, type StoredAssessment } from "./store/queries.ts";

export interface FraudDeps {
  readonly pool: Pool;
  /** Decline at or above this score (FRAUD_DECLINE_SCORE, 0..1000). */
  readonly declineScore: number;
  /** Wall clock for create_time only (never for features). */
  readonly now?: () => Date;
}

/** Features as JSON: bigint values become decimal strings. */
export function featuresToJson(features: Features): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(features).map(([key, value]) => [key, typeof value === "bigint" ? value.toString() : value]),
  );
}

/** A stored row as the wire Assessment. */
export function toAssessment(row: StoredAssessment): Assessment {
  return create(AssessmentSchema, {
    id: row.id,
    authorizationId: row.authorizationId,
    decision: row.decision === decisionStored.decline ? FraudDecision.DECLINE : FraudDecision.ALLOW,
    score: row.score,
    reasons: row.reasons,
    cardCount1h: row.cardCount1h,
    cardCount24h: row.cardCount24h,
    cardMeanAmountMinor: row.cardMeanAmountMinor,
    distanceKm: row.distanceKm,
    modelVersion: row.modelVersion,
    createTime: timestampFromDate(row.createTime),
  });
}

/**
 * Builds the FraudService implementation.
 *
 * Assess: validates (INVALID_ARGUMENT naming the field, nothing written), reads the card's
 * history before event_time and any existing assessment in one query, scores with rules-v1,
 * and records the assessment and the history row in one statement. Idempotent on
 * authorization_id: a repeat (even a concurrent one) returns the stored assessment and adds no
 * history row. Two round trips on the normal path.
 *
 * GetAssessment: the stored assessment of authorization_id; INVALID_ARGUMENT when empty,
 * NOT_FOUND when never assessed.
 */
export function createFraudService(deps: FraudDeps): ServiceImpl<typeof FraudService> {
  const now = deps.now ?? (() => new Date());
  return {
    async assess(request) {
      const valid = validateAssessRequest(request);
      const { transaction } = valid;
      const eventTime = new Date(transaction.eventTimeMs);
      const context = await readCardContext(deps.pool, {
        cardToken: valid.cardToken,
        eventTime,
        currencyCode: transaction.currencyCode,
        highRiskScore: deps.declineScore,
        authorizationId: valid.authorizationId,
      });
      if (context.existingAssessmentId !== undefined) {
        const stored = await readAssessment(deps.pool, valid.authorizationId);
        if (stored) return { assessment: toAssessment(stored) };
      }
      const result = score(transaction, context.history, { declineScore: deps.declineScore });
      const inserted = await insertAssessment(deps.pool, {
        id: newId("fra"),
        authorizationId: valid.authorizationId,
        cardToken: valid.cardToken,
        decision: result.decision === "DECLINE" ? decisionStored.decline : decisionStored.allow,
        score: result.score,
        reasons: [...result.reasons],
        features: featuresToJson(result.features),
        cardCount1h: result.features.count1h,
        cardCount24h: result.features.count24h,
        cardMeanAmountMinor: result.features.meanAmountMinor,
        distanceKm: result.features.distanceKm,
        modelVersion,
        createTime: now(),
        merchantId: valid.merchantId,
        eventTime,
        amountMinor: transaction.amountMinor,
        currencyCode: transaction.currencyCode,
        merchantCategory: transaction.merchantCategory,
        cardPresent: transaction.cardPresent,
      });
      // A concurrent Assess of the same authorization won the insert: return its result.
      const stored = inserted ?? (await readAssessment(deps.pool, valid.authorizationId));
      if (!stored) throw new Error(`assessment of ${valid.authorizationId} vanished after a conflicting insert`);
      return { assessment: toAssessment(stored) };
    },

    async getAssessment(request) {
      const authorizationId = validateAuthorizationId(request.authorizationId);
      const stored = await readAssessment(deps.pool, authorizationId);
      if (!stored) throw notFound("authorization_id", authorizationId);
      return { assessment: toAssessment(stored) };
    },
  };
}
