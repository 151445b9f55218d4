import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { fromJsonString } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthorizationEventSchema, AuthorizationEventType } from "../../gen/payments/authorization/v1/authorization_events_pb.js";
import { DeliveryState, NotificationService } from "../../gen/payments/notification/v1/notification_service_pb.js";
import { buildNotification } from "../../services/notification/service.ts";
import { verifySignature } from "../../services/notification/signature.ts";
import type { NotificationConfig } from "../../services/notification/config.ts";
import type { Pool } from "../../services/shared/db.ts";
import { errorFieldHeader } from "../../services/shared/errors.ts";
import { createLogger } from "../../services/shared/log.ts";
import { routesOf } from "../../services/shared/server.ts";
import type { BuiltService } from "../../services/shared/process.ts";
import type { NatsConnection } from "nats";
import { createConsumerTestEnv } from "../support/env.ts";
import {
  authorizationEvent,
  batchSettledEvent,
  eventually,
  publishAuthorizationEvent,
  publishBatchSettled,
  startReceiver,
} from "./helpers.ts";

const migrations = fileURLToPath(new URL("../../services/notification/store/migrations", import.meta.url));
const logger = createLogger("test-notification", process.env.TEST_LOG_LEVEL ?? "silent");
const fastSettings: NotificationConfig = {
  retryScheduleMs: [50, 50, 50],
  jitterRatio: 0.2,
  attemptTimeoutMs: 5_000,
  endpointConcurrency: 4,
  concurrency: 64,
  pollMs: 20,
};

let env: Awaited<ReturnType<typeof createConsumerTestEnv>>;
let pool: Pool;
let nc: NatsConnection;
let names: { stream: string; prefix: string };
let service: (BuiltService & { routes: unknown }) | undefined;
const closers: Array<() => Promise<void>> = [];

async function startService(settings: Partial<NotificationConfig> = {}, start = true) {
  service = await buildNotification({
    pool,
    nc,
    logger,
    stream: names.stream,
    subjectPrefix: names.prefix,
    settings: { ...fastSettings, ...settings },
  });
  if (start) await service.start?.();
  const transport = createRouterTransport(routesOf(service.services));
  return createClient(NotificationService, transport);
}

beforeEach(async () => {
  env = await createConsumerTestEnv("notification", migrations);
  ({ pool, nc, names } = env);
});

afterEach(async () => {
  await service?.stop?.();
  service = undefined;
  for (const close of closers.splice(0)) await close();
  await env.cleanup();
});

async function deliveriesOf(client: ReturnType<typeof createClient<typeof NotificationService>>, endpointId: string) {
  return (await client.listDeliveries({ endpointId, pageSize: 1000 })).deliveries;
}

describe("NotificationService validation (nothing written)", () => {
  it("refuses bad input with INVALID_ARGUMENT naming the field", async () => {
    const client = await startService({}, false);
    const cases: Array<[Parameters<typeof client.createWebhookEndpoint>[0], string]> = [
      [{ partnerId: "", url: "https://p.example/h", secret: "" }, "partner_id"],
      [{ partnerId: "bad partner!", url: "https://p.example/h", secret: "" }, "partner_id"],
      [{ partnerId: "p1", url: "not a url", secret: "" }, "url"],
      [{ partnerId: "p1", url: "ftp://p.example/h", secret: "" }, "url"],
      [{ partnerId: "p1", url: "https://user:pw@p.example/h", secret: "" }, "url"],
      [{ partnerId: "p1", url: "https://p.example/h", secret: "too-short" }, "secret"],
      [{ partnerId: "p1", url: "https://p.example/h", secret: "x".repeat(257) }, "secret"],
    ];
    for (const [request, field] of cases) {
      const error = await client.createWebhookEndpoint(request).then(
        () => undefined,
        (caught: unknown) => ConnectError.from(caught),
      );
      expect(error?.code, JSON.stringify(request)).toBe(Code.InvalidArgument);
      expect(error?.metadata.get(errorFieldHeader)).toBe(field);
    }
    const listErrors: Array<[Promise<unknown>, string]> = [
      [client.listWebhookEndpoints({ partnerId: "" }), "partner_id"],
      [client.listDeliveries({ pageSize: 1001 }), "page_size"],
      [client.listDeliveries({ pageSize: -1 }), "page_size"],
      [client.listDeliveries({ pageToken: "garbage" }), "page_token"],
      [client.listDeliveries({ endpointId: "nope" }), "endpoint_id"],
      [client.redeliver({ deliveryId: "" }), "delivery_id"],
      [client.redeliver({ deliveryId: "dlv_zz" }), "delivery_id"],
    ];
    for (const [call, field] of listErrors) {
      const error = await call.then(() => undefined, (caught: unknown) => ConnectError.from(caught));
      expect(error?.code).toBe(Code.InvalidArgument);
      expect(error?.metadata.get(errorFieldHeader)).toBe(field);
    }
    const missing = await client.redeliver({ deliveryId: `dlv_${"0".repeat(32)}` }).catch((caught: unknown) => ConnectError.from(caught));
    expect((missing as ConnectError).code).toBe(Code.NotFound);
    const counts = await pool.query<{ n: bigint }>("select (select count(*) from notification.endpoints) + (select count(*) from notification.deliveries) as n");
    expect(counts.rows[0].n).toBe(0n);
  });

  it("creates endpoints with a generated secret, lists them without secrets, and caps them per partner", async () => {
    const client = await startService({}, false);
    const created = await client.createWebhookEndpoint({ partnerId: "p1", url: "https://p.example/h", secret: "" });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(created.endpoint?.id).toMatch(/^whe_[0-9a-f]{32}$/);
    const listed = await client.listWebhookEndpoints({ partnerId: "p1" });
    expect(listed.endpoints.map((endpoint) => endpoint.id)).toEqual([created.endpoint?.id]);
    expect(JSON.stringify(listed.endpoints.map((endpoint) => endpoint.url))).not.toContain("whsec");
    for (let index = 1; index < 16; index += 1) await client.createWebhookEndpoint({ partnerId: "p1", url: `https://p.example/${index}`, secret: "" });
    const refused = await client
      .createWebhookEndpoint({ partnerId: "p1", url: "https://p.example/17", secret: "" })
      .catch((caught: unknown) => ConnectError.from(caught));
    expect((refused as ConnectError).code).toBe(Code.FailedPrecondition);
  });
});

describe("notification consumer and dispatcher (real PostgreSQL, NATS, HTTP)", () => {
  it("delivers each event once per endpoint of its partner, signed, as canonical Protobuf JSON", async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const client = await startService();
    const { endpoint, secret } = await client.createWebhookEndpoint({ partnerId: "p1", url: receiver.url, secret: "" });
    const other = await startReceiver();
    closers.push(other.close);
    await client.createWebhookEndpoint({ partnerId: "p2", url: other.url, secret: "" });

    const event = authorizationEvent({ type: AuthorizationEventType.CAPTURED, partnerId: "p1", amountMinor: 1234n });
    await publishAuthorizationEvent(nc, names.prefix, event);
    const settled = batchSettledEvent({ partnerId: "p1", grossMinor: 5000n, feesMinor: 150n });
    await publishBatchSettled(nc, names.prefix, settled);

    await eventually(async () => receiver.requests.length >= 2);
    const byId = new Map(receiver.requests.map((request) => [request.headers["payments-event-id"], request]));
    const captured = byId.get(event.eventId)!;
    expect(captured.headers["payments-event-type"]).toBe("authorization.v1.captured");
    expect(captured.headers["content-type"]).toBe("application/json");
    expect(verifySignature(secret, captured.headers["payments-signature"] as string, captured.body)).toBe(true);
    expect(verifySignature(secret, captured.headers["payments-signature"] as string, captured.body.replace("1234", "1235"))).toBe(false);
    const decoded = fromJsonString(AuthorizationEventSchema, captured.body);
    expect(decoded.amount?.amountMinor).toBe(1234n);
    expect(JSON.parse(captured.body).amount.amountMinor).toBe("1234");
    expect(byId.get(settled.eventId)?.headers["payments-event-type"]).toBe("settlement.v1.batch_settled");

    const deliveries = await eventually(async () => {
      const list = await deliveriesOf(client, endpoint!.id);
      return list.length === 2 && list.every((delivery) => delivery.state === DeliveryState.SUCCEEDED) && list;
    });
    expect(deliveries.map((delivery) => delivery.attemptCount)).toEqual([1, 1]);
    expect(other.requests).toHaveLength(0);
    const stats = await client.getDeliveryStats({});
    expect(stats).toMatchObject({ eventsProcessed: 2n, succeededCount: 2n, pendingCount: 0n, failedCount: 0n, attemptCount: 2n });
  });

  it("has no second effect when the same event is published again under another Nats-Msg-Id", async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const client = await startService();
    await client.createWebhookEndpoint({ partnerId: "p1", url: receiver.url, secret: "" });
    const event = authorizationEvent({ type: AuthorizationEventType.APPROVED, partnerId: "p1" });
    await publishAuthorizationEvent(nc, names.prefix, event);
    await publishAuthorizationEvent(nc, names.prefix, event, `${event.eventId}-again`);
    const marker = authorizationEvent({ type: AuthorizationEventType.APPROVED, partnerId: "p1" });
    await publishAuthorizationEvent(nc, names.prefix, marker);
    await eventually(async () => receiver.requests.some((request) => request.headers["payments-event-id"] === marker.eventId));
    await eventually(async () => (await client.getDeliveryStats({})).succeededCount === 2n);
    expect(receiver.requests.filter((request) => request.headers["payments-event-id"] === event.eventId)).toHaveLength(1);
    expect((await client.getDeliveryStats({})).eventsProcessed).toBe(2n);
  });

  it("retries on 500 with the schedule, then succeeds; fails after the last attempt; Redeliver re-queues", async () => {
    const flaky = await startReceiver((_request, index) => (index < 2 ? 500 : 200));
    let downStatus = 503;
    const down = await startReceiver(() => downStatus);
    closers.push(flaky.close, down.close);
    const client = await startService({ retryScheduleMs: [50, 100] });
    const flakyEndpoint = (await client.createWebhookEndpoint({ partnerId: "p1", url: flaky.url, secret: "" })).endpoint!;
    const downEndpoint = (await client.createWebhookEndpoint({ partnerId: "p1", url: down.url, secret: "" })).endpoint!;
    await publishAuthorizationEvent(nc, names.prefix, authorizationEvent({ type: AuthorizationEventType.APPROVED, partnerId: "p1" }));

    const [succeeded] = await eventually(async () => {
      const list = await deliveriesOf(client, flakyEndpoint.id);
      return list[0]?.state === DeliveryState.SUCCEEDED && list;
    });
    expect(succeeded.attemptCount).toBe(3);
    expect(succeeded.lastStatusCode).toBe(200);
    expect(flaky.requests).toHaveLength(3);
    const gaps = flaky.requests.slice(1).map((request, index) => request.receivedAtMs - flaky.requests[index].receivedAtMs);
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);

    const [failed] = await eventually(async () => {
      const list = await deliveriesOf(client, downEndpoint.id);
      return list[0]?.state === DeliveryState.FAILED && list;
    });
    expect(failed.attemptCount).toBe(3);
    expect(failed.lastStatusCode).toBe(503);
    expect(failed.nextAttemptTime).toBeUndefined();

    downStatus = 200;
    const requeued = await client.redeliver({ deliveryId: failed.id });
    expect(requeued.delivery?.state).toBe(DeliveryState.PENDING);
    const [redelivered] = await eventually(async () => {
      const list = await deliveriesOf(client, downEndpoint.id);
      return list[0]?.state === DeliveryState.SUCCEEDED && list;
    });
    expect(redelivered.attemptCount).toBe(4);
    expect(down.requests).toHaveLength(4);
    expect(new Set(down.requests.map((request) => request.headers["payments-event-id"])).size).toBe(1);
    const stats = await client.getDeliveryStats({});
    expect(stats).toMatchObject({ succeededCount: 2n, failedCount: 0n, attemptCount: 7n });
  });

  it("retries after a timeout (per-attempt timeout)", async () => {
    let first = true;
    const receiver = await startReceiver(async () => {
      if (first) {
        first = false;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      return 200;
    });
    closers.push(receiver.close);
    const client = await startService({ attemptTimeoutMs: 200, retryScheduleMs: [50] });
    const endpoint = (await client.createWebhookEndpoint({ partnerId: "p1", url: receiver.url, secret: "" })).endpoint!;
    await publishAuthorizationEvent(nc, names.prefix, authorizationEvent({ type: AuthorizationEventType.APPROVED, partnerId: "p1" }));
    const [delivery] = await eventually(async () => {
      const list = await deliveriesOf(client, endpoint.id);
      return list[0]?.state === DeliveryState.SUCCEEDED && list;
    });
    expect(delivery.attemptCount).toBe(2);
    const attempts = await pool.query<{ status_code: number; error: string }>("select status_code, error from notification.delivery_attempts order by seq");
    expect(attempts.rows[0]).toMatchObject({ status_code: 0, error: "timeout after 200 ms" });
    expect(attempts.rows[1].status_code).toBe(200);
  });

  it("a slow endpoint does not delay another endpoint's deliveries", async () => {
    const slow = await startReceiver(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      return 200;
    });
    const fast = await startReceiver();
    closers.push(slow.close, fast.close);
    const client = await startService({ endpointConcurrency: 2, concurrency: 8 });
    await client.createWebhookEndpoint({ partnerId: "p1", url: slow.url, secret: "" });
    await client.createWebhookEndpoint({ partnerId: "p1", url: fast.url, secret: "" });
    const started = Date.now();
    for (let index = 0; index < 12; index += 1) {
      await publishAuthorizationEvent(nc, names.prefix, authorizationEvent({ type: AuthorizationEventType.APPROVED, partnerId: "p1" }));
    }
    await eventually(async () => fast.requests.length === 12, 10_000, 10);
    const fastDoneMs = Date.now() - started;
    // The slow endpoint has at most 2 in flight, 1.5 s each: its 12 take >= 9 s. The fast one
    // must not wait behind them.
    expect(fastDoneMs).toBeLessThan(1_500);
    expect(slow.requests.length).toBeLessThanOrEqual(2);
  });

  it("resumes pending deliveries after a restart (state in PostgreSQL)", async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    let client = await startService();
    const endpoint = (await client.createWebhookEndpoint({ partnerId: "p1", url: "http://127.0.0.1:9/unreachable", secret: "" })).endpoint!;
    await service!.stop?.();
    // Consumed while no dispatcher runs: only the consumer, then stop.
    client = await startService({ retryScheduleMs: [60_000] });
    await publishAuthorizationEvent(nc, names.prefix, authorizationEvent({ type: AuthorizationEventType.APPROVED, partnerId: "p1" }));
    const [pending] = await eventually(async () => {
      const list = await deliveriesOf(client, endpoint.id);
      return list[0]?.attemptCount === 1 && list;
    });
    expect(pending.state).toBe(DeliveryState.PENDING);
    await service!.stop?.();
    // The partner fixes its URL; the delivery comes due; a new process picks it up.
    await pool.query("update notification.endpoints set url = $1", [receiver.url]);
    await pool.query("update notification.deliveries set next_attempt_time = now()");
    client = await startService();
    await eventually(async () => (await deliveriesOf(client, endpoint.id))[0]?.state === DeliveryState.SUCCEEDED);
    expect(receiver.requests).toHaveLength(1);
  });
});
