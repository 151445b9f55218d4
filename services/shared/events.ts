import { createRegistry, fromBinary, type Message } from "@bufbuild/protobuf";
import { AuthorizationEventSchema } from "../../gen/payments/authorization/v1/authorization_events_pb.js";
import { SettlementBatchSettledSchema } from "../../gen/payments/settlement/v1/settlement_events_pb.js";
import { AccountsCreatedSchema, TransfersCommittedSchema } from "../../gen/payments/ledger/v1/ledger_events_pb.js";

/**
 * Events are Protobuf messages (binary on the wire). The NATS subject names the event:
 * `<prefix>.<domain>.v1.<event>`, e.g. payments.authorization.v1.captured. Headers:
 *   Nats-Msg-Id        the event id (JetStream drops duplicates inside its window)
 *   Payments-Schema    fully-qualified message type, to decode the body
 *   X-Request-Id       request id of the call that caused it
 */
export const schemaHeader = "Payments-Schema";

export const eventRegistry = createRegistry(
  AuthorizationEventSchema,
  SettlementBatchSettledSchema,
  TransfersCommittedSchema,
  AccountsCreatedSchema,
);

/** Subject of an event: `${prefix}.${domain}.v1.${name}`. */
export function subjectOf(prefix: string, domain: string, name: string): string {
  return `${prefix}.${domain}.v1.${name}`;
}

/** Decodes an event body by its Payments-Schema header; throws on an unknown schema. */
export function decodeEvent(schemaName: string, payload: Uint8Array): Message {
  const schema = eventRegistry.getMessage(schemaName);
  if (!schema) throw new Error(`unknown event schema ${schemaName}`);
  return fromBinary(schema, payload);
}
