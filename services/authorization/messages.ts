import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import {
  AuthorizationSchema,
  AuthorizationState,
  type Authorization,
} from "../../gen/payments/authorization/v1/authorization_pb.js";
import { AuthorizationEventSchema, AuthorizationEventType } from "../../gen/payments/authorization/v1/authorization_events_pb.js";
import { MerchantAdvice } from "../../gen/payments/common/v1/money_pb.js";
import { currentRequestId } from "../shared/context.ts";
import { subjectOf } from "../shared/events.ts";
import { newId } from "../shared/ids.ts";
import { insertOutboxRecord, outboxRecord, type OutboxRecord } from "../shared/outbox.ts";
import { responseCodeOfIso } from "./domain/codes.ts";
import type { AuthorizationRow } from "./store/repository.ts";

/** The database schema of this service. */
export const schema = "authz";

/** Stored state names <-> the AuthorizationState enum. */
export function stateOf(name: string): AuthorizationState {
  return AuthorizationState[name as keyof typeof AuthorizationState] ?? AuthorizationState.UNSPECIFIED;
}

/** Builds the Authorization message from its row. */
export function toAuthorization(row: AuthorizationRow): Authorization {
  return create(AuthorizationSchema, {
    id: row.id,
    merchantId: row.merchantId,
    partnerId: row.partnerId,
    cardToken: row.cardToken,
    cardLast4: row.cardLast4,
    amount: { currencyCode: row.currencyCode, amountMinor: row.amountMinor },
    capturedAmountMinor: row.capturedMinor,
    refundedAmountMinor: row.refundedMinor,
    state: stateOf(row.state),
    responseCode: responseCodeOfIso(row.responseCode),
    responseCodeIso: row.responseCode,
    declineReason: row.declineReason,
    merchantAdvice: MerchantAdvice[row.merchantAdvice as keyof typeof MerchantAdvice] ?? MerchantAdvice.UNSPECIFIED,
    fraud: {
      assessmentId: row.fraudAssessmentId,
      score: row.fraudScore,
      declined: row.fraudDeclined,
      reasons: row.fraudReasons,
      fallbackUsed: row.fraudFallbackUsed,
    },
    eventTime: timestampFromDate(row.eventTime),
    createTime: timestampFromDate(row.createTime),
    expireTime: timestampFromDate(row.expireTime),
    businessDate: row.businessDate,
    merchantCategory: row.merchantCategory,
    cardPresent: row.cardPresent,
  });
}

/** What an AuthorizationEvent says: the event type, the snapshot after it, the money moved. */
export interface AuthorizationEventInit {
  type: AuthorizationEventType;
  row: AuthorizationRow;
  amountMinor: bigint;
  operationId?: string;
  businessDate: string;
  occurTime: Date;
}

/**
 * Adds an AuthorizationEvent to the outbox inside the caller's transaction. Subject:
 * `<prefix>.authorization.v1.<type>` (approved, declined, captured, voided, refunded, expired).
 */
export async function emitAuthorizationEvent(client: pg.PoolClient, subjectPrefix: string, init: AuthorizationEventInit): Promise<void> {
  await insertOutboxRecord(client, schema, authorizationEventRecord(subjectPrefix, init));
}

/** The outbox row of an AuthorizationEvent (for a statement that writes it with other rows). */
export function authorizationEventRecord(subjectPrefix: string, init: AuthorizationEventInit): OutboxRecord {
  const eventId = newId("evt");
  const event: MessageInitShape<typeof AuthorizationEventSchema> = {
    eventId,
    type: init.type,
    occurTime: timestampFromDate(init.occurTime),
    amount: { currencyCode: init.row.currencyCode, amountMinor: init.amountMinor },
    authorization: toAuthorization(init.row),
    operationId: init.operationId ?? "",
    requestId: currentRequestId() ?? "",
    businessDate: init.businessDate,
  };
  const subject = subjectOf(subjectPrefix, "authorization", AuthorizationEventType[init.type].toLowerCase());
  return outboxRecord(subject, eventId, AuthorizationEventSchema, create(AuthorizationEventSchema, event));
}
