import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { GeoPointSchema, MoneySchema } from "../../gen/payments/common/v1/money_pb.js";
import {
  AssessRequestSchema,
  FraudDecision,
  FraudService,
  type AssessRequest,
} from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import { applyMigrations } from "../../services/shared/db.ts";
import { errorFieldHeader } from "../../services/shared/errors.ts";
import { registration, routesOf } from "../../services/shared/server.ts";
import { createFraudService } from "../../services/fraud/routes.ts";
import { readCardContext } from "../../services/fraud/store/queries.ts";
import { hourMs, profileSizeMax, summarizeHistory, type HistoryEntry } from "../../services/fraud/domain/history.ts";
import { declineScoreDefault } from "../../services/fraud/domain/scorer.ts";
import { createTestDatabase } from "../support/env.ts";

const migrationsFolder = fileURLToPath(new URL("../../services/fraud/store/migrations", import.meta.url));
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: Client<typeof FraudService>;
let sequence = 0;

const t0 = Date.UTC(2019, 0, 2, 12, 0, 0);

/** A unique card token per test so tests never see each other's history. */
function newCard(): string {
  sequence += 1;
  return `card_${(0xabc00000 + sequence).toString(16)}${Date.now().toString(16)}`;
}

/** The ConnectError a call failed with; fails the test when the call succeeds. */
async function errorOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

function request(overrides: Partial<Omit<AssessRequest, "$typeName" | "$unknown">> & { eventTimeMs?: number } = {}): AssessRequest {
  sequence += 1;
  const { eventTimeMs, ...rest } = overrides;
  return create(AssessRequestSchema, {
    authorizationId: `auth_test_${sequence}_${Date.now()}`,
    cardToken: "card_00000000deadbeef",
    merchantId: "m_1",
    amount: { currencyCode: "USD", amountMinor: 5_000n },
    merchantCategory: "grocery_pos",
    cardPresent: true,
    eventTime: timestampFromMs(eventTimeMs ?? t0),
    ...rest,
  });
}

async function rowCounts(): Promise<{ history: number; assessments: number }> {
  const result = await database.pool.query(
    "select (select count(*) from fraud.card_history)::int as history, (select count(*) from fraud.assessments)::int as assessments",
  );
  return result.rows[0];
}

beforeAll(async () => {
  database = await createTestDatabase("fraud");
  // drop() terminates the pool's connections; an idle client's FATAL 57P01 is expected then.
  database.pool.on("error", () => {});
  await applyMigrations(database.pool, "fraud", migrationsFolder);
  const impl = createFraudService({ pool: database.pool, declineScore: declineScoreDefault });
  client = createClient(FraudService, createRouterTransport(routesOf([registration(FraudService, impl)])));
});

afterAll(async () => {
  await database?.drop();
});

describe("Assess validation: INVALID_ARGUMENT naming the field, nothing written", () => {
  const cases: { field: string; change: (r: AssessRequest) => void }[] = [
    { field: "authorization_id", change: (r) => (r.authorizationId = "") },
    { field: "authorization_id", change: (r) => (r.authorizationId = "has space") },
    { field: "card_token", change: (r) => (r.cardToken = "") },
    { field: "card_token", change: (r) => (r.cardToken = "4613314721966") },
    { field: "card_token", change: (r) => (r.cardToken = "4922 7108 3101 1201") },
    { field: "card_token", change: (r) => (r.cardToken = "card_nothex!") },
    { field: "card_token", change: (r) => (r.cardToken = "tok_00000000deadbeef") },
    { field: "merchant_id", change: (r) => (r.merchantId = "m".repeat(65)) },
    { field: "merchant_category", change: (r) => (r.merchantCategory = "c".repeat(65)) },
    { field: "amount", change: (r) => (r.amount = undefined) },
    { field: "amount.currency_code", change: (r) => (r.amount!.currencyCode = "XXX") },
    { field: "amount.currency_code", change: (r) => (r.amount!.currencyCode = "") },
    { field: "amount.amount_minor", change: (r) => (r.amount!.amountMinor = 0n) },
    { field: "amount.amount_minor", change: (r) => (r.amount!.amountMinor = -5n) },
    { field: "event_time", change: (r) => (r.eventTime = undefined) },
    { field: "event_time", change: (r) => (r.eventTime = timestampFromMs(-1000)) },
    { field: "cardholder_location.latitude", change: (r) => (r.cardholderLocation = create(GeoPointSchema, { latitude: 91, longitude: 0 })) },
    { field: "merchant_location.longitude", change: (r) => (r.merchantLocation = create(GeoPointSchema, { latitude: 0, longitude: -181 })) },
  ];
  for (const c of cases) {
    it(`rejects a bad ${c.field}`, async () => {
      const before = await rowCounts();
      const bad = request();
      c.change(bad);
      const error = await errorOf(client.assess(bad));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.metadata.get(errorFieldHeader)).toBe(c.field);
      expect(await rowCounts()).toEqual(before);
    });
  }

  it("does not echo a PAN-like card token back in the error message", async () => {
    const error = await errorOf(client.assess(request({ cardToken: "4613314721966" })));
    expect(error.rawMessage).not.toContain("4613314721966");
  });
});

describe("Assess", () => {
  it("scores and stores an assessment, readable with GetAssessment", async () => {
    const card = newCard();
    const response = await client.assess(request({ cardToken: card, amount: { currencyCode: "USD", amountMinor: 30_000n } as never, eventTimeMs: Date.UTC(2019, 0, 2, 1, 0) }));
    const assessment = response.assessment!;
    expect(assessment.id).toMatch(/^fra_[0-9a-f]{32}$/);
    expect(assessment.decision).toBe(FraudDecision.DECLINE);
    expect(assessment.score).toBe(700);
    expect(assessment.reasons).toEqual(["AMOUNT_BEYOND_CATEGORY_RANGE", "NIGHT_HIGH_AMOUNT", "NIGHT_TIME"]);
    expect(assessment.modelVersion).toBe("rules-v1");
    expect(assessment.distanceKm).toBe(-1);
    expect(assessment.cardMeanAmountMinor).toBe(0n);
    expect(assessment.createTime).toBeDefined();
    const got = await client.getAssessment({ authorizationId: assessment.authorizationId });
    expect(got.assessment).toEqual(assessment);
  });

  it("allows an ordinary purchase and reports the distance in km", async () => {
    const response = await client.assess(
      request({
        cardToken: newCard(),
        cardholderLocation: { latitude: 0, longitude: 0 } as never,
        merchantLocation: { latitude: 0, longitude: 1 } as never,
      }),
    );
    expect(response.assessment!.decision).toBe(FraudDecision.ALLOW);
    expect(response.assessment!.distanceKm).toBe(111);
    expect(response.assessment!.reasons).toEqual([]);
  });

  it("is idempotent on authorization_id: a repeat returns the stored assessment and adds no history row", async () => {
    const card = newCard();
    const first = request({ cardToken: card });
    const a = await client.assess(first);
    const before = await rowCounts();
    // Even with different content the stored assessment comes back.
    const again = await client.assess({ ...first, amount: create(MoneySchema, { currencyCode: "USD", amountMinor: 99_999n }) });
    expect(again.assessment).toEqual(a.assessment);
    expect(await rowCounts()).toEqual(before);
  });

  it("concurrent repeats of one authorization store one assessment", async () => {
    const card = newCard();
    const one = request({ cardToken: card });
    const responses = await Promise.all(Array.from({ length: 8 }, () => client.assess(one)));
    expect(new Set(responses.map((r) => r.assessment!.id)).size).toBe(1);
    const rows = await database.pool.query("select count(*)::int as n from fraud.card_history where card_token = $1", [card]);
    expect(rows.rows[0].n).toBe(1);
  });

  it("counts velocity in event time: two calls 2 h apart in event time are not in the same 1 h window", async () => {
    const card = newCard();
    const first = await client.assess(request({ cardToken: card, eventTimeMs: t0 }));
    expect(first.assessment!.cardCount1h).toBe(0);
    // Made a millisecond later on the wall clock, but 2 h later in event time.
    const second = await client.assess(request({ cardToken: card, eventTimeMs: t0 + 2 * hourMs }));
    expect(second.assessment!.cardCount1h).toBe(0);
    expect(second.assessment!.cardCount24h).toBe(1);
    expect(second.assessment!.cardMeanAmountMinor).toBe(5_000n);
    const third = await client.assess(request({ cardToken: card, eventTimeMs: t0 + 2 * hourMs + 30 * 60_000 }));
    expect(third.assessment!.cardCount1h).toBe(1);
    expect(third.assessment!.cardCount24h).toBe(2);
    // An attempt that arrives late but happened earlier sees only what came before it.
    const late = await client.assess(request({ cardToken: card, eventTimeMs: t0 - 30 * 60_000 }));
    expect(late.assessment!.cardCount1h).toBe(0);
    expect(late.assessment!.cardCount24h).toBe(0);
    // 25 h later the 24 h window is empty again.
    const next = await client.assess(request({ cardToken: card, eventTimeMs: t0 + 2 * hourMs + 30 * 60_000 + 25 * hourMs }));
    expect(next.assessment!.cardCount24h).toBe(0);
  });

  it("concurrent assessments of one card all land in its history", async () => {
    const card = newCard();
    const n = 12;
    await Promise.all(Array.from({ length: n }, (_, i) => client.assess(request({ cardToken: card, eventTimeMs: t0 + i * 1000 }))));
    const after = await client.assess(request({ cardToken: card, eventTimeMs: t0 + 10 * 60_000 }));
    expect(after.assessment!.cardCount1h).toBe(n);
    expect(after.assessment!.reasons).toContain("VELOCITY_1H");
    expect(after.assessment!.reasons).toContain("VELOCITY_24H");
  });

  it("a declined attempt raises the risk of the card's next attempts (RECENT_HIGH_RISK_ON_CARD)", async () => {
    const card = newCard();
    const night = Date.UTC(2019, 0, 2, 1, 0);
    const big = await client.assess(request({ cardToken: card, amount: { currencyCode: "USD", amountMinor: 30_000n } as never, eventTimeMs: night }));
    expect(big.assessment!.decision).toBe(FraudDecision.DECLINE);
    const test = await client.assess(
      request({ cardToken: card, merchantCategory: "gas_transport", amount: { currencyCode: "USD", amountMinor: 700n } as never, eventTimeMs: night + hourMs }),
    );
    expect(test.assessment!.reasons).toEqual(["RECENT_HIGH_RISK_ON_CARD", "AMOUNT_BELOW_CATEGORY_FLOOR", "NIGHT_TIME"]);
    expect(test.assessment!.decision).toBe(FraudDecision.DECLINE);
  });
});

describe("GetAssessment", () => {
  it("NOT_FOUND for an unknown authorization, INVALID_ARGUMENT for an empty one", async () => {
    const missing = await errorOf(client.getAssessment({ authorizationId: "auth_unknown" }));
    expect(missing.code).toBe(Code.NotFound);
    const empty = await errorOf(client.getAssessment({ authorizationId: "" }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.metadata.get(errorFieldHeader)).toBe("authorization_id");
  });
});

describe("the SQL history summary equals the pure one", () => {
  it("matches summarizeHistory on a card with more than profileSizeMax attempts in two currencies", async () => {
    const card = newCard();
    const t = Date.UTC(2019, 0, 10, 12, 0);
    // Seeded pseudo-random amounts and times (LCG), reproducible.
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
    const entries: HistoryEntry[] = [];
    for (let i = 0; i < profileSizeMax + 60; i += 1) {
      entries.push({
        eventTimeMs: t - (next() % (72 * 60)) * 60_000 - (i % 7) * 1000 - 1,
        amountMinor: BigInt(1 + (next() % 200_000)),
        currencyCode: i % 9 === 0 ? "EUR" : "USD",
        score: next() % 1001,
      });
    }
    entries.push({ eventTimeMs: t + 60_000, amountMinor: 5n, currencyCode: "USD", score: 999 }); // after t: ignored
    for (const [index, entry] of entries.entries()) {
      await database.pool.query(
        `insert into fraud.card_history (authorization_id, card_token, event_time, amount_minor, currency_code, card_present, score)
         values ($1, $2, $3, $4, $5, true, $6)`,
        [`auth_sql_${card}_${index}`, card, new Date(entry.eventTimeMs), entry.amountMinor.toString(), entry.currencyCode, entry.score],
      );
    }
    for (const currency of ["USD", "EUR", "GBP"]) {
      const fromSql = await readCardContext(database.pool, {
        cardToken: card,
        eventTime: new Date(t),
        currencyCode: currency,
        highRiskScore: declineScoreDefault,
        authorizationId: "auth_none",
      });
      expect(fromSql.existingAssessmentId).toBeUndefined();
      expect(fromSql.history).toEqual(summarizeHistory(entries, t, currency, declineScoreDefault));
    }
  });
});
