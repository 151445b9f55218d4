import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { headers as natsHeaders, type NatsConnection } from "nats";
import {
  AuthorizationEventSchema,
  AuthorizationEventType,
} from "../../gen/payments/authorization/v1/authorization_events_pb.js";
import { AuthorizationState } from "../../gen/payments/authorization/v1/authorization_pb.js";
import { SettlementBatchSettledSchema } from "../../gen/payments/settlement/v1/settlement_events_pb.js";
import { schemaHeader, subjectOf } from "../../services/shared/events.ts";
import { newId } from "../../services/shared/ids.ts";

/** One request a test receiver got. */
export interface ReceivedRequest {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly receivedAtMs: number;
}

/** A local HTTP receiver on 127.0.0.1:<free port>; `respond` decides each answer. */
export async function startReceiver(
  respond: (request: ReceivedRequest, index: number) => Promise<number> | number = () => 200,
): Promise<{ url: string; requests: ReceivedRequest[]; close: () => Promise<void> }> {
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const received = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), receivedAtMs: Date.now() };
      const index = requests.push(received) - 1;
      const status = await respond(received, index);
      if (!res.destroyed) res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const typeNames: Record<number, string> = {
  [AuthorizationEventType.APPROVED]: "approved",
  [AuthorizationEventType.DECLINED]: "declined",
  [AuthorizationEventType.CAPTURED]: "captured",
  [AuthorizationEventType.VOIDED]: "voided",
  [AuthorizationEventType.REFUNDED]: "refunded",
  [AuthorizationEventType.EXPIRED]: "expired",
};

/** An AuthorizationEvent as the authorization service would emit it. */
export function authorizationEvent(init: {
  type: AuthorizationEventType;
  partnerId?: string;
  merchantId?: string;
  authorizationId?: string;
  eventId?: string;
  currency?: string;
  amountMinor?: bigint;
  authorizedMinor?: bigint;
  capturedMinor?: bigint;
  refundedMinor?: bigint;
  state?: AuthorizationState;
  responseCodeIso?: string;
  businessDate?: string;
  occurTime?: Date;
}) {
  const currency = init.currency ?? "USD";
  const occurTime = init.occurTime ?? new Date();
  const businessDate = init.businessDate ?? "2024-03-01";
  const authorizedMinor = init.authorizedMinor ?? init.amountMinor ?? 1000n;
  return create(AuthorizationEventSchema, {
    eventId: init.eventId ?? newId("evt"),
    type: init.type,
    occurTime: timestampFromDate(occurTime),
    amount: { currencyCode: currency, amountMinor: init.amountMinor ?? authorizedMinor },
    businessDate,
    authorization: {
      id: init.authorizationId ?? newId("auth"),
      merchantId: init.merchantId ?? "m1",
      partnerId: init.partnerId ?? "p1",
      cardToken: "card_00",
      cardLast4: "4242",
      amount: { currencyCode: currency, amountMinor: authorizedMinor },
      capturedAmountMinor: init.capturedMinor ?? 0n,
      refundedAmountMinor: init.refundedMinor ?? 0n,
      state: init.state ?? AuthorizationState.AUTHORIZED,
      responseCodeIso: init.responseCodeIso ?? (init.type === AuthorizationEventType.DECLINED ? "05" : "00"),
      eventTime: timestampFromDate(occurTime),
      createTime: timestampFromDate(occurTime),
      businessDate,
    },
  });
}

/** Publishes an AuthorizationEvent on `<prefix>.authorization.v1.<type>` like the outbox relay does. */
export async function publishAuthorizationEvent(
  nc: NatsConnection,
  prefix: string,
  event: ReturnType<typeof authorizationEvent>,
  msgId: string = event.eventId,
): Promise<void> {
  const headers = natsHeaders();
  headers.set(schemaHeader, AuthorizationEventSchema.typeName);
  await nc.jetstream().publish(subjectOf(prefix, "authorization", typeNames[event.type]), toBinary(AuthorizationEventSchema, event), {
    msgID: msgId,
    headers,
  });
}

/** A SettlementBatchSettled event. */
export function batchSettledEvent(init: {
  merchantId?: string;
  partnerId?: string;
  businessDate?: string;
  currency?: string;
  grossMinor: bigint;
  refundsMinor?: bigint;
  feesMinor: bigint;
  eventId?: string;
}) {
  const currency = init.currency ?? "USD";
  const refunds = init.refundsMinor ?? 0n;
  const money = (amountMinor: bigint) => ({ currencyCode: currency, amountMinor });
  return create(SettlementBatchSettledSchema, {
    eventId: init.eventId ?? newId("evt"),
    occurTime: timestampFromDate(new Date()),
    batch: {
      id: `stl_${init.merchantId ?? "m1"}_${init.businessDate ?? "2024-03-01"}`,
      merchantId: init.merchantId ?? "m1",
      partnerId: init.partnerId ?? "p1",
      businessDate: init.businessDate ?? "2024-03-01",
      gross: money(init.grossMinor),
      refunds: money(refunds),
      fees: money(init.feesMinor),
      net: money(init.grossMinor - refunds - init.feesMinor),
    },
  });
}

/** Publishes a SettlementBatchSettled on `<prefix>.settlement.v1.batch_settled`. */
export async function publishBatchSettled(
  nc: NatsConnection,
  prefix: string,
  event: ReturnType<typeof batchSettledEvent>,
  msgId: string = event.eventId,
): Promise<void> {
  const headers = natsHeaders();
  headers.set(schemaHeader, SettlementBatchSettledSchema.typeName);
  await nc.jetstream().publish(subjectOf(prefix, "settlement", "batch_settled"), toBinary(SettlementBatchSettledSchema, event), {
    msgID: msgId,
    headers,
  });
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
