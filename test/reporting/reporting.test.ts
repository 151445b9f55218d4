import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import type { NatsConnection } from "nats";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthorizationEventType } from "../../gen/payments/authorization/v1/authorization_events_pb.js";
import { AuthorizationState } from "../../gen/payments/authorization/v1/authorization_pb.js";
import { ReportingService } from "../../gen/payments/reporting/v1/reporting_service_pb.js";
import { createReportingHandler, reportingDurable } from "../../services/reporting/consumer.ts";
import { ensureConsumer } from "../../services/shared/nats.ts";
import { buildReporting, type ReportingDeps } from "../../services/reporting/service.ts";
import type { Pool } from "../../services/shared/db.ts";
import { errorFieldHeader } from "../../services/shared/errors.ts";
import { decodeEvent, schemaHeader } from "../../services/shared/events.ts";
import { createLogger } from "../../services/shared/log.ts";
import type { BuiltService } from "../../services/shared/process.ts";
import { routesOf } from "../../services/shared/server.ts";
import { createConsumerTestEnv } from "../support/env.ts";
import { authorizationEvent, batchSettledEvent, eventually, publishAuthorizationEvent, publishBatchSettled } from "../notification/helpers.ts";

const migrations = fileURLToPath(new URL("../../services/reporting/store/migrations", import.meta.url));
const logger = createLogger("test-reporting", process.env.TEST_LOG_LEVEL ?? "silent");

let env: Awaited<ReturnType<typeof createConsumerTestEnv>>;
let pool: Pool;
let nc: NatsConnection;
let names: { stream: string; prefix: string };
let service: BuiltService | undefined;

async function startService(options: Partial<ReportingDeps> = {}, start = true) {
  service = await buildReporting({ pool, nc, logger, stream: names.stream, subjectPrefix: names.prefix, streamPollMs: 50, ...options });
  if (start) await service.start?.();
  return createClient(ReportingService, createRouterTransport(routesOf(service.services)));
}

beforeEach(async () => {
  env = await createConsumerTestEnv("reporting", migrations);
  ({ pool, nc, names } = env);
});

afterEach(async () => {
  await service?.stop?.();
  service = undefined;
  await env.cleanup();
});

async function eventsProcessed(client: ReturnType<typeof createClient<typeof ReportingService>>, count: bigint) {
  return eventually(async () => {
    const totals = await client.getTotals({});
    return totals.eventsProcessed === count && totals;
  });
}

describe("ReportingService validation", () => {
  it("refuses bad input with INVALID_ARGUMENT naming the field", async () => {
    const client = await startService({}, false);
    const calls: Array<[Promise<unknown>, string]> = [
      [client.getMerchantSummary({ merchantId: "" }), "merchant_id"],
      [client.getMerchantSummary({ merchantId: "bad id!" }), "merchant_id"],
      [client.getMerchantSummary({ merchantId: "m1", startDate: "2024-02-30" }), "start_date"],
      [client.getMerchantSummary({ merchantId: "m1", endDate: "yesterday" }), "end_date"],
      [client.getMerchantSummary({ merchantId: "m1", startDate: "2024-03-02", endDate: "2024-03-01" }), "end_date"],
      [client.listDailySummaries({ merchantId: "bad id!" }), "merchant_id"],
      [client.listTransactions({ merchantId: "" }), "merchant_id"],
      [client.listTransactions({ merchantId: "m1", pageSize: 1001 }), "page_size"],
      [client.listTransactions({ merchantId: "m1", pageToken: "!!" }), "page_token"],
    ];
    for (const [call, field] of calls) {
      const error = await call.then(() => undefined, (caught: unknown) => ConnectError.from(caught));
      expect(error?.code, field).toBe(Code.InvalidArgument);
      expect(error?.metadata.get(errorFieldHeader)).toBe(field);
    }
  });
});

describe("reporting consumer (real PostgreSQL and NATS)", () => {
  it("builds per-merchant per-day summaries, totals and transactions from events", async () => {
    const client = await startService();
    const approved = authorizationEvent({ type: AuthorizationEventType.APPROVED, merchantId: "m1", amountMinor: 10_000n });
    const authId = approved.authorization!.id;
    const events = [
      approved,
      authorizationEvent({ type: AuthorizationEventType.APPROVED, merchantId: "m1", amountMinor: 5_000n, businessDate: "2024-03-02" }),
      authorizationEvent({ type: AuthorizationEventType.DECLINED, merchantId: "m1", responseCodeIso: "59", state: AuthorizationState.DECLINED }),
      authorizationEvent({ type: AuthorizationEventType.DECLINED, merchantId: "m1", responseCodeIso: "51", state: AuthorizationState.DECLINED }),
      authorizationEvent({ type: AuthorizationEventType.APPROVED, merchantId: "m2", amountMinor: 2_500n }),
      authorizationEvent({ type: AuthorizationEventType.APPROVED, merchantId: "m3", amountMinor: 900n, currency: "EUR" }),
    ];
    // The capture arrives BEFORE its approval: counters are additive, the snapshot the furthest along.
    const captured = authorizationEvent({
      type: AuthorizationEventType.CAPTURED,
      merchantId: "m1",
      authorizationId: authId,
      amountMinor: 8_000n,
      authorizedMinor: 10_000n,
      capturedMinor: 8_000n,
      state: AuthorizationState.CAPTURED,
      occurTime: new Date(Date.now() + 1_000),
    });
    await publishAuthorizationEvent(nc, names.prefix, captured);
    for (const event of events) await publishAuthorizationEvent(nc, names.prefix, event);
    await publishAuthorizationEvent(
      nc,
      names.prefix,
      authorizationEvent({ type: AuthorizationEventType.VOIDED, merchantId: "m2", amountMinor: 2_500n, authorizationId: events[4].authorization!.id, state: AuthorizationState.VOIDED }),
    );
    await publishBatchSettled(nc, names.prefix, batchSettledEvent({ merchantId: "m1", grossMinor: 8_000n, feesMinor: 200n }));

    const totals = await eventsProcessed(client, 9n);
    const usd = totals.totals.find((total) => total.currencyCode === "USD")!;
    expect(usd).toMatchObject({
      authorizationCount: 5n,
      approvedCount: 3n,
      declinedCount: 2n,
      fraudDeclinedCount: 1n,
      approvedAmountMinor: 17_500n,
      capturedAmountMinor: 8_000n,
      releasedAmountMinor: 2_500n,
      settledGrossMinor: 8_000n,
      settledFeesMinor: 200n,
      settledNetMinor: 7_800n,
      approvalRateBps: 6_000,
    });
    expect(usd.declinesByCode).toEqual({ "51": 1n, "59": 1n });
    expect(totals.totals.find((total) => total.currencyCode === "EUR")).toMatchObject({ approvedAmountMinor: 900n, authorizationCount: 1n });

    const summary = await client.getMerchantSummary({ merchantId: "m1" });
    expect(summary.total).toMatchObject({ merchantId: "m1", currencyCode: "USD", authorizationCount: 4n, approvedCount: 2n, approvalRateBps: 5_000 });
    expect(summary.days.map((day) => [day.businessDate, day.authorizationCount])).toEqual([
      ["2024-03-01", 3n],
      ["2024-03-02", 1n],
    ]);
    const dayOne = await client.getMerchantSummary({ merchantId: "m1", startDate: "2024-03-01", endDate: "2024-03-01" });
    expect(dayOne.total).toMatchObject({ authorizationCount: 3n, capturedAmountMinor: 8_000n, settledNetMinor: 7_800n });
    const all = await client.listDailySummaries({});
    expect(all.days.find((day) => day.businessDate === "2024-03-01" && day.currencyCode === "USD")?.authorizationCount).toBe(4n);

    const transactions = await client.listTransactions({ merchantId: "m1" });
    const row = transactions.transactions.find((transaction) => transaction.authorizationId === authId)!;
    expect(row).toMatchObject({ state: "CAPTURED", capturedAmountMinor: 8_000n, amount: { currencyCode: "USD", amountMinor: 10_000n } });
    expect(transactions.transactions).toHaveLength(4);
    const m2 = await client.listTransactions({ merchantId: "m2" });
    expect(m2.transactions[0].state).toBe("VOIDED");
  });

  it("has no second effect for the same event republished under another Nats-Msg-Id", async () => {
    const client = await startService();
    const event = authorizationEvent({ type: AuthorizationEventType.APPROVED, amountMinor: 1_234n });
    await publishAuthorizationEvent(nc, names.prefix, event);
    await publishAuthorizationEvent(nc, names.prefix, event, `${event.eventId}-republished`);
    // Events are consumed in order: once the marker counts, both copies have been handled.
    const marker = authorizationEvent({ type: AuthorizationEventType.APPROVED, merchantId: "marker", amountMinor: 1n });
    await publishAuthorizationEvent(nc, names.prefix, marker);
    await eventually(async () => (await client.getMerchantSummary({ merchantId: "marker" })).total?.authorizationCount === 1n);
    const totals = await client.getTotals({});
    expect(totals.eventsProcessed).toBe(2n);
    expect(totals.totals[0]).toMatchObject({ authorizationCount: 2n, approvedAmountMinor: 1_235n });
    const inbox = await pool.query<{ event_id: string }>("select event_id from reporting.inbox");
    expect(inbox.rows.map((row) => row.event_id).sort()).toEqual([event.eventId, marker.eventId].sort());
  });

  it("rolls back a failed attempt and counts the redelivered event once", async () => {
    let failuresLeft = 1;
    const client = await startService({
      wrapHandler: (handle) => async (client, event) => {
        await handle(client, event);
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error("injected failure after the effects: the transaction must roll back");
        }
      },
    });
    const event = authorizationEvent({ type: AuthorizationEventType.APPROVED, amountMinor: 1_234n });
    await publishAuthorizationEvent(nc, names.prefix, event);
    const totals = await eventsProcessed(client, 1n);
    expect(failuresLeft).toBe(0);
    expect(totals.totals[0]).toMatchObject({ authorizationCount: 1n, approvedAmountMinor: 1_234n });
    const transactions = await client.listTransactions({ merchantId: "m1" });
    expect(transactions.transactions).toHaveLength(1);
  });

  it("applies events already delivered together, and falls back one by one when a shared batch fails", async () => {
    // Published before the consumer starts, so they arrive together.
    const events = Array.from({ length: 40 }, (_, index) => authorizationEvent({ type: AuthorizationEventType.APPROVED, amountMinor: BigInt(index + 1) }));
    for (const event of events) await publishAuthorizationEvent(nc, names.prefix, event);
    const failOnce = events[25].eventId;
    let failuresLeft = 1;
    const transactionOf = new Map<string, string[]>();
    const client = await startService({
      wrapHandler: (handle) => async (dbClient, event) => {
        const { rows } = await dbClient.query<{ txid: string }>("select txid_current()::text as txid");
        transactionOf.set(rows[0].txid, [...(transactionOf.get(rows[0].txid) ?? []), event.eventId]);
        if (event.eventId === failOnce && failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error("injected failure inside a shared batch");
        }
        await handle(dbClient, event);
      },
    });
    const totals = await eventsProcessed(client, 40n);
    expect(failuresLeft).toBe(0);
    // Every event counted exactly once, whatever batch it rode in or was retried from.
    expect(totals.totals[0]).toMatchObject({ authorizationCount: 40n, approvedAmountMinor: 820n });
    // Some transactions carried several events (batching happened) ...
    expect(Math.max(...[...transactionOf.values()].map((ids) => ids.length))).toBeGreaterThan(1);
    // ... and the failed batch's events were retried alone, each in a transaction of its own.
    const retriedAlone = [...transactionOf.values()].filter((ids) => ids.length === 1 && ids[0] === failOnce);
    expect(retriedAlone.length).toBe(1);
  });

  it("ignores a redelivery of an event that was committed but never acknowledged (nak)", async () => {
    const durable = reportingDurable(names.stream);
    await ensureConsumer(nc, names.stream, durable);
    const event = authorizationEvent({ type: AuthorizationEventType.APPROVED, amountMinor: 4_200n });
    await publishAuthorizationEvent(nc, names.prefix, event);
    // A first consumer processes and commits, then "crashes" before acking: it naks instead.
    const msg = await (await nc.jetstream().consumers.get(names.stream, durable)).next({ expires: 5_000 });
    expect(msg).not.toBeNull();
    const handle = createReportingHandler({ logger });
    const dbClient = await pool.connect();
    try {
      await dbClient.query("begin");
      await dbClient.query("insert into reporting.inbox (event_id, subject) values ($1, $2)", [msg!.headers!.get("Nats-Msg-Id"), msg!.subject]);
      await handle(dbClient, { eventId: msg!.headers!.get("Nats-Msg-Id"), subject: msg!.subject, message: decodeEvent(msg!.headers!.get(schemaHeader), msg!.data) });
      await dbClient.query("commit");
    } finally {
      dbClient.release();
    }
    msg!.nak();
    const client = await startService();
    await eventually(async () => {
      const info = await (await nc.jetstreamManager()).consumers.info(names.stream, durable);
      return info.num_ack_pending === 0 && info.num_pending === 0 && info.delivered.consumer_seq >= 2;
    });
    const totals = await client.getTotals({});
    expect(totals.eventsProcessed).toBe(1n);
    expect(totals.totals[0]).toMatchObject({ authorizationCount: 1n, approvedAmountMinor: 4_200n });
  });

  it("parks an unusable event in dead letters without effects and keeps going", async () => {
    const client = await startService();
    const broken = authorizationEvent({ type: AuthorizationEventType.APPROVED });
    broken.authorization!.merchantId = "";
    await publishAuthorizationEvent(nc, names.prefix, broken);
    const good = authorizationEvent({ type: AuthorizationEventType.APPROVED, amountMinor: 10n });
    await publishAuthorizationEvent(nc, names.prefix, good);
    const totals = await eventsProcessed(client, 2n);
    expect(totals.totals).toHaveLength(1);
    expect(totals.totals[0].authorizationCount).toBe(1n);
    const parked = await pool.query<{ event_id: string; error: string }>("select event_id, error from reporting.dead_letters");
    expect(parked.rows).toEqual([{ event_id: broken.eventId, error: "authorization.merchant_id is empty" }]);
  });

  it("pages transactions newest first and streams new ones until cancelled", async () => {
    const client = await startService();
    const base = Date.parse("2024-03-01T10:00:00Z");
    for (let index = 0; index < 5; index += 1) {
      await publishAuthorizationEvent(nc, names.prefix, authorizationEvent({ type: AuthorizationEventType.APPROVED, occurTime: new Date(base + index * 1_000) }));
    }
    await eventsProcessed(client, 5n);
    const first = await client.listTransactions({ merchantId: "m1", pageSize: 2 });
    const second = await client.listTransactions({ merchantId: "m1", pageSize: 2, pageToken: first.nextPageToken });
    const third = await client.listTransactions({ merchantId: "m1", pageSize: 2, pageToken: second.nextPageToken });
    const times = [...first.transactions, ...second.transactions, ...third.transactions].map((transaction) => transaction.eventTime!.seconds);
    expect(times).toHaveLength(5);
    expect([...times].sort((a, b) => (a > b ? -1 : 1))).toEqual(times);
    expect(new Set([...first.transactions, ...second.transactions, ...third.transactions].map((t) => t.authorizationId)).size).toBe(5);
    expect(third.nextPageToken).toBe("");

    const controller = new AbortController();
    const received: string[] = [];
    const streamed = (async () => {
      try {
        for await (const item of client.streamTransactions({ merchantId: "m9" }, { signal: controller.signal })) {
          received.push(item.transaction!.authorizationId);
        }
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const wanted = authorizationEvent({ type: AuthorizationEventType.APPROVED, merchantId: "m9" });
    await publishAuthorizationEvent(nc, names.prefix, authorizationEvent({ type: AuthorizationEventType.APPROVED, merchantId: "m1" }));
    await publishAuthorizationEvent(nc, names.prefix, wanted);
    await eventually(async () => received.length === 1);
    expect(received).toEqual([wanted.authorization!.id]);
    controller.abort();
    await streamed;
  });
});
