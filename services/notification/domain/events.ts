/**
 * What the notification service reads from an event (pure): the partner it belongs to, its
 * stable id, its type and its canonical JSON body.
 */
import { isMessage, toJsonString, type Message } from "@bufbuild/protobuf";
import { AuthorizationEventSchema } from "../../../gen/payments/authorization/v1/authorization_events_pb.js";
import { SettlementBatchSettledSchema } from "../../../gen/payments/settlement/v1/settlement_events_pb.js";
import { eventRegistry } from "../../shared/events.ts";

/** Partner of a merchant event (authorization.partner_id / batch.partner_id), or "" when none. */
export function partnerIdOf(message: Message): string {
  if (isMessage(message, AuthorizationEventSchema)) return message.authorization?.partnerId ?? "";
  if (isMessage(message, SettlementBatchSettledSchema)) return message.batch?.partnerId ?? "";
  return "";
}

/**
 * Event type sent in Payments-Event-Type and stored on deliveries: the subject without the
 * deployment's prefix, e.g. "authorization.v1.captured" for "payments.authorization.v1.captured".
 * Receivers therefore see the same type in every deployment.
 */
export function eventTypeOf(subject: string, prefix: string): string {
  return subject.startsWith(`${prefix}.`) ? subject.slice(prefix.length + 1) : subject;
}

/** Canonical Protobuf JSON of an event (int64 as strings, lowerCamelCase names): the webhook body. */
export function eventBodyOf(message: Message): string {
  const schema = eventRegistry.getMessage(message.$typeName);
  if (!schema) throw new Error(`no schema registered for ${message.$typeName}`);
  return toJsonString(schema, message, { registry: eventRegistry });
}
