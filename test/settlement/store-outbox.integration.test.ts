/**
 * Store + outbox against the real PostgreSQL and the real NATS JetStream (unique database and
 * stream): a close writes its batches and their SettlementBatchSettled events exactly once,
 * under concurrent and repeated runs, and the relay publishes each event once.
 */
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SettlementBatchSettledSchema } from "../../gen/payments/settlement/v1/settlement_events_pb.js";
import { SettlementBatchState } from "../../gen/payments/settlement/v1/settlement_pb.js";
import { merchantTotals } from "../../services/settlement/domain/batches.ts";
import { batchIdOf } from "../../services/settlement/domain/ids.ts";
import {
  dayBatches,
  findBusinessDay,
  freezeDayPlan,
  getBatch,
  settleDay,
  settlementDbSchema,
  type PlannedBatch,
} from "../../services/settlement/store/queries.ts";
import { applyMigrations, type Pool } from "../../services/shared/db.ts";
import { schemaHeader } from "../../services/shared/events.ts";
import { createLogger } from "../../services/shared/log.ts";
import { ensureStream } from "../../services/shared/nats.ts";
import { startOutboxRelay, type OutboxRelay } from "../../services/shared/outbox.ts";
import { connectTestNats, createTestDatabase, uniqueStreamNames } from "../support/env.ts";

const migrationsFolder = fileURLToPath(new URL("../../services/settlement/store/migrations", import.meta.url));
const day = "2024-03-01";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
let nats: Awaited<ReturnType<typeof connectTestNats>>;
let relay: OutboxRelay;
const { stream, prefix } = uniqueStreamNames();
/** Which of the concurrent plans won the freeze (any may: they race); later tests expect its amounts. */
let winnerFactor = 0n;

function plan(merchantId: string, captureMinor: bigint): PlannedBatch {
  const totals = merchantTotals(merchantId, [
    { id: `cap_${merchantId}`, kind: "capture", merchantId, partnerId: "p1", amountMinor: captureMinor, cardPresent: true },
  ]);
  return { ...totals, id: batchIdOf(day, merchantId) };
}

async function streamMessages() {
  const jsm = await nats.nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const messages = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq += 1) {
    const stored = await jsm.streams.getMessage(stream, { seq });
    messages.push({
      subject: stored.subject,
      msgId: stored.header.get("Nats-Msg-Id"),
      schema: stored.header.get(schemaHeader),
      event: fromBinary(SettlementBatchSettledSchema, stored.data),
    });
  }
  return messages;
}

beforeAll(async () => {
  database = await createTestDatabase("settlement_store");
  pool = database.pool;
  await applyMigrations(pool, settlementDbSchema, migrationsFolder);
  nats = await connectTestNats(stream);
  await ensureStream(nats.nc, stream, prefix);
  relay = await startOutboxRelay({ pool, schema: settlementDbSchema, nc: nats.nc, logger: createLogger("settlement-test", "silent") });
});

afterAll(async () => {
  await relay?.stop();
  await nats?.cleanup();
  await database?.drop();
});

describe("settlement store and outbox (real PostgreSQL, real JetStream)", () => {
  it("freezes one plan per day even when planned concurrently with different amounts", async () => {
    const factors = [1n, 2n, 3n, 4n];
    const attempts = await Promise.all(
      factors.map((factor) => freezeDayPlan(pool, day, "USD", [plan("m1", 10_000n * factor), plan("m2", 500n * factor)])),
    );
    expect(attempts.filter((attempt) => attempt.created).length).toBe(1);
    const winner = attempts.find((attempt) => attempt.created)!;
    winnerFactor = factors[attempts.indexOf(winner)];
    expect(winner.batches.find((batch) => batch.id === "stl_20240301_m1")?.net).toBe(plan("m1", 10_000n * winnerFactor).net);
    for (const attempt of attempts) expect(attempt.batches).toEqual(winner.batches);
    expect(winner.batches.map((batch) => [batch.id, batch.state])).toEqual([
      ["stl_20240301_m1", "planned"],
      ["stl_20240301_m2", "planned"],
    ]);
    // A later re-run (after a crash) gets the stored plan back, whatever it computed.
    const rerun = await freezeDayPlan(pool, day, "USD", [plan("m1", 1n)]);
    expect(rerun.created).toBe(false);
    expect(rerun.batches).toEqual(winner.batches);
    // Planned batches are invisible to reads until settled.
    expect(await getBatch(pool, "stl_20240301_m1")).toBeUndefined();
    expect(await findBusinessDay(pool, day, "USD")).toEqual({ closeTime: null, batchCount: 2 });
  });

  it("settles the day exactly once under concurrent closes and publishes each event once", async () => {
    const closedAt = new Date("2024-03-02T00:05:00.000Z");
    const results = await Promise.all(
      Array.from({ length: 6 }, () => settleDay(pool, { businessDate: day, currencyCode: "USD", subjectPrefix: prefix, now: closedAt })),
    );
    expect(results.filter((result) => !result.alreadyClosed).length).toBe(1);
    for (const result of results) expect(result.batches.map((batch) => batch.id)).toEqual(["stl_20240301_m1", "stl_20240301_m2"]);
    expect((await findBusinessDay(pool, day, "USD"))?.closeTime?.toISOString()).toBe(closedAt.toISOString());

    const outbox = await pool.query<{ event_id: string; subject: string }>(`select event_id, subject from ${settlementDbSchema}.outbox order by seq`);
    expect(outbox.rows.length).toBe(2);

    await relay.flush();
    const published = await streamMessages();
    expect(published.map((message) => [message.subject, message.event.batch?.id, message.event.batch?.state])).toEqual([
      [`${prefix}.settlement.v1.batch_settled`, "stl_20240301_m1", SettlementBatchState.SETTLED],
      [`${prefix}.settlement.v1.batch_settled`, "stl_20240301_m2", SettlementBatchState.SETTLED],
    ]);
    for (const message of published) {
      expect(message.msgId).toBe(message.event.eventId);
      expect(message.schema).toBe("payments.settlement.v1.SettlementBatchSettled");
    }
    expect(published.map((message) => message.event.eventId)).toEqual(outbox.rows.map((row) => row.event_id));
    expect(published[0].event.batch?.net?.amountMinor).toBe(plan("m1", 10_000n * winnerFactor).net);
    expect(published[0].event.occurTime?.seconds).toBe(BigInt(closedAt.getTime() / 1000));
  });

  it("a re-run writes nothing and publishes nothing new; a re-published row is deduplicated", async () => {
    const again = await settleDay(pool, { businessDate: day, currencyCode: "USD", subjectPrefix: prefix, now: new Date() });
    expect(again.alreadyClosed).toBe(true);
    expect(again.batches.map((batch) => batch.state)).toEqual(["settled", "settled"]);

    // The relay crashed after publishing but before marking: the rows go out again.
    await pool.query(`update ${settlementDbSchema}.outbox set publish_time = null`);
    await relay.flush();
    const published = await streamMessages();
    expect(published.length).toBe(2);
    expect((await pool.query(`select 1 from ${settlementDbSchema}.outbox`)).rowCount).toBe(2);
    expect((await getBatch(pool, "stl_20240301_m2"))?.net).toBe(plan("m2", 500n * winnerFactor).net);
  });

  it("refuses to settle a day that was never planned", async () => {
    await expect(settleDay(pool, { businessDate: "2024-03-05", currencyCode: "USD", subjectPrefix: prefix, now: new Date() })).rejects.toThrow(/no plan/);
    expect(await dayBatches(pool, "2024-03-05", "USD")).toEqual([]);
  });
});
