import { describe, expect, it } from "vitest";
import { emptyHistory, hourMs, profileSizeMax, summarizeHistory, type CardHistory, type HistoryEntry } from "../../services/fraud/domain/history.ts";
import {
  declineScoreDefault,
  haversineKm,
  hourOfDayUtc,
  isNight,
  score,
  type Transaction,
} from "../../services/fraud/domain/scorer.ts";

const day = Date.UTC(2019, 0, 2);
const at = (hour: number, minute = 0) => day + hour * hourMs + minute * 60_000;

function tx(overrides: Partial<Transaction> = {}): Transaction {
  return {
    amountMinor: 5_000n,
    currencyCode: "USD",
    merchantCategory: "grocery_pos",
    cardPresent: true,
    eventTimeMs: at(13),
    ...overrides,
  };
}

function history(overrides: Partial<CardHistory> = {}): CardHistory {
  return { ...emptyHistory, ...overrides };
}

describe("rules-v1 scorer (table)", () => {
  const cases: { name: string; transaction: Transaction; history?: CardHistory; score: number; reasons: string[] }[] = [
    { name: "ordinary daytime grocery, no history", transaction: tx(), score: 0, reasons: [] },
    {
      name: "grocery beyond the category range at night",
      transaction: tx({ amountMinor: 30_000n, eventTimeMs: at(1) }),
      score: 700,
      reasons: ["AMOUNT_BEYOND_CATEGORY_RANGE", "NIGHT_HIGH_AMOUNT", "NIGHT_TIME"],
    },
    {
      name: "the same amount by day is not enough alone",
      transaction: tx({ amountMinor: 30_000n }),
      score: 450,
      reasons: ["AMOUNT_BEYOND_CATEGORY_RANGE"],
    },
    {
      name: "by day, far above the card's median",
      transaction: tx({ amountMinor: 30_000n }),
      history: history({ profileCount: 5, meanAmountMinor: 4_000n, medianAmountMinor: 3_000n }),
      score: 550,
      reasons: ["AMOUNT_BEYOND_CATEGORY_RANGE", "AMOUNT_FAR_ABOVE_CARD_MEDIAN"],
    },
    {
      name: "card median rules need 3 earlier attempts",
      transaction: tx({ amountMinor: 30_000n }),
      history: history({ profileCount: 2, meanAmountMinor: 100n, medianAmountMinor: 100n }),
      score: 450,
      reasons: ["AMOUNT_BEYOND_CATEGORY_RANGE"],
    },
    {
      name: "small fuel at night after a high-risk attempt (card testing)",
      transaction: tx({ merchantCategory: "gas_transport", amountMinor: 703n, eventTimeMs: at(3, 38) }),
      history: history({ count24h: 2, highRiskCount24h: 1 }),
      score: 550,
      reasons: ["RECENT_HIGH_RISK_ON_CARD", "AMOUNT_BELOW_CATEGORY_FLOOR", "NIGHT_TIME"],
    },
    {
      name: "online shopping above p99 by night, card not present",
      transaction: tx({ merchantCategory: "shopping_net", cardPresent: false, amountMinor: 94_262n, eventTimeMs: at(22, 21) }),
      score: 550,
      reasons: ["AMOUNT_ABOVE_CATEGORY", "NIGHT_HIGH_AMOUNT", "NIGHT_TIME", "CARD_NOT_PRESENT_HIGH_AMOUNT"],
    },
    {
      name: "far above p99 (x1.25)",
      transaction: tx({ merchantCategory: "shopping_net", cardPresent: false, amountMinor: 100_000n }),
      score: 400,
      reasons: ["AMOUNT_FAR_ABOVE_CATEGORY", "CARD_NOT_PRESENT_HIGH_AMOUNT"],
    },
    {
      name: "high for the category (x0.85 of p99)",
      transaction: tx({ merchantCategory: "misc_pos", amountMinor: 40_000n }),
      score: 150,
      reasons: ["AMOUNT_HIGH_FOR_CATEGORY"],
    },
    {
      name: "unknown category: no category rules",
      transaction: tx({ merchantCategory: "jewellery", amountMinor: 9_000_000n }),
      score: 0,
      reasons: [],
    },
    {
      name: "other currency: no USD category profile",
      transaction: tx({ currencyCode: "EUR", amountMinor: 9_000_000n }),
      score: 0,
      reasons: [],
    },
    {
      name: "velocity in 1 h and 24 h, rapid repeat",
      transaction: tx(),
      history: history({ count1h: 3, count24h: 10, previousEventTimeMs: at(13) - 60_000 }),
      score: 300,
      reasons: ["VELOCITY_1H", "RAPID_REPEAT", "VELOCITY_24H"],
    },
    {
      name: "merchant far from the cardholder's home",
      transaction: tx({ cardholderLocation: { latitude: 0, longitude: 0 }, merchantLocation: { latitude: 0, longitude: 30 } }),
      score: 200,
      reasons: ["DISTANCE_VERY_FAR"],
    },
    {
      name: "merchant 500+ km away",
      transaction: tx({ cardholderLocation: { latitude: 0, longitude: 0 }, merchantLocation: { latitude: 0, longitude: 5 } }),
      score: 100,
      reasons: ["DISTANCE_FAR"],
    },
    {
      name: "score is capped at 1000",
      transaction: tx({
        amountMinor: 30_000n,
        eventTimeMs: at(2),
        cardholderLocation: { latitude: 0, longitude: 0 },
        merchantLocation: { latitude: 0, longitude: 30 },
      }),
      history: history({ highRiskCount24h: 2, count1h: 5, count24h: 12, profileCount: 9, medianAmountMinor: 1_000n, meanAmountMinor: 1_000n }),
      score: 1000,
      reasons: [
        "AMOUNT_BEYOND_CATEGORY_RANGE",
        "RECENT_HIGH_RISK_ON_CARD",
        "DISTANCE_VERY_FAR",
        "NIGHT_HIGH_AMOUNT",
        "VELOCITY_1H",
        "AMOUNT_FAR_ABOVE_CARD_MEDIAN",
        "NIGHT_TIME",
        "VELOCITY_24H",
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = score(c.transaction, c.history ?? emptyHistory, { declineScore: declineScoreDefault });
      expect(result.score).toBe(c.score);
      expect(result.reasons).toEqual(c.reasons);
      expect(result.decision).toBe(c.score >= declineScoreDefault ? "DECLINE" : "ALLOW");
    });
  }

  it("declines at exactly the threshold and allows one below", () => {
    const transaction = tx({ amountMinor: 30_000n, eventTimeMs: at(1) }); // 700
    expect(score(transaction, emptyHistory, { declineScore: 700 }).decision).toBe("DECLINE");
    expect(score(transaction, emptyHistory, { declineScore: 701 }).decision).toBe("ALLOW");
  });

  it("reports features: distance -1 when unknown, ratios in permille", () => {
    const result = score(tx({ amountMinor: 12_000n }), history({ profileCount: 4, medianAmountMinor: 4_000n, meanAmountMinor: 6_000n }), {
      declineScore: declineScoreDefault,
    });
    expect(result.features.distanceKm).toBe(-1);
    expect(result.features.amountToMedianPermille).toBe(3000n);
    expect(result.features.amountToMeanPermille).toBe(2000n);
    expect(result.features.amountToCategoryHighPermille).toBe(500n);
    expect(result.features.minutesSincePrevious).toBe(-1);
    expect(result.reasons).toEqual(["AMOUNT_ABOVE_CARD_MEDIAN"]);
  });
});

describe("time and distance helpers", () => {
  it.each([
    [Date.UTC(2019, 0, 1, 0, 0, 0), 0],
    [Date.UTC(2019, 0, 1, 23, 59, 59, 999), 23],
    [Date.UTC(2019, 0, 1, 13, 0), 13],
    [-1, 23],
  ])("hourOfDayUtc(%d) = %d", (ms, hour) => expect(hourOfDayUtc(ms)).toBe(hour));

  it.each([
    [21, false],
    [22, true],
    [23, true],
    [0, true],
    [3, true],
    [4, false],
    [13, false],
  ])("isNight(%d) = %s", (hour, night) => expect(isNight(hour)).toBe(night));

  it("haversine: one degree of longitude on the equator is about 111.2 km; same point is 0", () => {
    expect(haversineKm({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 1 })).toBeCloseTo(111.195, 2);
    expect(haversineKm({ latitude: 36.0788, longitude: -81.1781 }, { latitude: 36.0788, longitude: -81.1781 })).toBe(0);
    // Paris -> London, about 344 km.
    expect(Math.round(haversineKm({ latitude: 48.8566, longitude: 2.3522 }, { latitude: 51.5074, longitude: -0.1278 }))).toBe(344);
  });
});

describe("summarizeHistory (event time)", () => {
  const t = at(12);
  const entry = (eventTimeMs: number, amountMinor: bigint, scoreValue = 0, currencyCode = "USD"): HistoryEntry => ({
    eventTimeMs,
    amountMinor,
    currencyCode,
    score: scoreValue,
  });

  it("counts [t-1h, t) and [t-24h, t), never t itself or later", () => {
    const summary = summarizeHistory(
      [
        entry(t - hourMs, 100n), // in 1 h (boundary included)
        entry(t - hourMs - 1, 100n), // 24 h only
        entry(t - 24 * hourMs, 100n, 900), // 24 h (boundary included), high risk
        entry(t - 24 * hourMs - 1, 100n, 900), // outside 24 h
        entry(t, 100n), // not before t
        entry(t + 1, 100n), // later in event time
      ],
      t,
      "USD",
      550,
    );
    expect(summary).toMatchObject({ count1h: 1, count24h: 3, highRiskCount24h: 1, profileCount: 4 });
    expect(summary.previousEventTimeMs).toBe(t - hourMs);
  });

  it("mean is floored, median is the lower middle, other currencies are left out of the profile", () => {
    const summary = summarizeHistory(
      [entry(t - 4, 100n), entry(t - 3, 201n), entry(t - 2, 300n), entry(t - 1, 400n), entry(t - 5, 99_999n, 0, "EUR")],
      t,
      "USD",
      550,
    );
    expect(summary.profileCount).toBe(4);
    expect(summary.meanAmountMinor).toBe(250n); // 1001 / 4 floored
    expect(summary.medianAmountMinor).toBe(201n);
    expect(summary.previousEventTimeMs).toBe(t - 1);
  });

  it("the amount profile keeps only the latest profileSizeMax attempts", () => {
    const entries = Array.from({ length: profileSizeMax + 50 }, (_, index) =>
      // the 50 oldest are huge; they must not count
      entry(t - (profileSizeMax + 50 - index) * 60_000, index < 50 ? 1_000_000n : 100n),
    );
    const summary = summarizeHistory(entries, t, "USD", 550);
    expect(summary.profileCount).toBe(profileSizeMax);
    expect(summary.meanAmountMinor).toBe(100n);
  });

  it("empty history", () => {
    expect(summarizeHistory([], t, "USD", 550)).toEqual(emptyHistory);
  });
});
