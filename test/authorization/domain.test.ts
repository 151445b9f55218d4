import { describe, expect, it } from "vitest";
import { ResponseCode } from "../../gen/payments/common/v1/money_pb.js";
import { isValidPan, last4, tokenizePan, cardTokenPattern } from "../../services/authorization/domain/card.ts";
import { isoCodeOf, responseCodeOfIso } from "../../services/authorization/domain/codes.ts";
import { businessDateOf, idempotencyKeyPattern } from "../../services/authorization/domain/validation.ts";
import { formatMinor, parseDecimalMinor } from "../../services/shared/money.ts";

describe("card numbers", () => {
  it.each([
    ["4613314721966", true], // 13 digits, from the Sparkov slice
    ["340187018810220", true],
    ["4922710831011201", true],
    ["4922710831011202", false], // last digit changed
    ["630423337322", true], // 12 digits, from the slice
    ["1234567", false], // 7 digits: below ISO/IEC 7812-1's 8
    ["12345678903", true], // 11 digits (the slice has such cards)
    ["1234567890123456789012", false],
    ["4111-1111-1111-1111", false],
  ])("isValidPan(%s) = %s", (pan, expected) => {
    expect(isValidPan(pan)).toBe(expected);
  });

  it("tokenizes deterministically per key without exposing the PAN", () => {
    const token = tokenizePan("4613314721966", "key-a");
    expect(token).toMatch(cardTokenPattern);
    expect(tokenizePan("4613314721966", "key-a")).toBe(token);
    expect(tokenizePan("4613314721966", "key-b")).not.toBe(token);
    expect(token).not.toContain("4613314721966");
    expect(last4("4613314721966")).toBe("1966");
  });
});

describe("response codes", () => {
  it("maps every enum value to a distinct ISO 8583 code and back", () => {
    const codes = Object.entries(isoCodeOf).filter(([code]) => Number(code) !== ResponseCode.UNSPECIFIED);
    expect(new Set(codes.map(([, iso]) => iso)).size).toBe(codes.length);
    for (const [code, iso] of codes) expect(responseCodeOfIso(iso)).toBe(Number(code));
    expect(isoCodeOf[ResponseCode.INSUFFICIENT_FUNDS]).toBe("51");
    expect(isoCodeOf[ResponseCode.SUSPECTED_FRAUD]).toBe("59");
  });
});

describe("money parsing", () => {
  it.each([
    ["4.97", "USD", 497n],
    ["45.0", "USD", 4500n],
    ["107.23", "USD", 10723n],
    ["3178.51", "USD", 317851n],
    ["500", "JPY", 500n],
    ["1.234", "KWD", 1234n],
    ["9223372036854775.807", "KWD", 9223372036854775807n],
  ])("parseDecimalMinor(%s, %s) = %s", (text, currency, expected) => {
    expect(parseDecimalMinor(text, currency)).toBe(expected);
    expect(parseDecimalMinor(formatMinor(expected, currency), currency)).toBe(expected);
  });

  it.each(["1.234", "-1.00", "1e3", "", "12,50", "92233720368547758.08"])("rejects %j for USD", (text) => {
    expect(() => parseDecimalMinor(text, "USD")).toThrow();
  });

  it("rejects unknown currencies", () => {
    expect(() => parseDecimalMinor("1.00", "XYZ")).toThrow(/unknown currency/);
  });
});

describe("validation helpers", () => {
  it("accepts Stripe-like keys up to 255 printable characters", () => {
    expect(idempotencyKeyPattern.test("0b242abb623afc578575680df30655b9")).toBe(true);
    expect(idempotencyKeyPattern.test("x".repeat(255))).toBe(true);
    expect(idempotencyKeyPattern.test("x".repeat(256))).toBe(false);
    expect(idempotencyKeyPattern.test("has space")).toBe(false);
    expect(idempotencyKeyPattern.test("")).toBe(false);
  });

  it("business date is the UTC date", () => {
    expect(businessDateOf(new Date("2019-01-01T23:59:59Z"))).toBe("2019-01-01");
    expect(businessDateOf(new Date("2019-01-02T00:00:00Z"))).toBe("2019-01-02");
  });
});
