import { describe, expect, it } from "vitest";
import {
  computeSignature,
  parseSignatureHeader,
  signatureHeaderValue,
  signatureProblem,
  verifySignature,
} from "../../services/notification/signature.ts";
import { attemptsMaxOf, nextRetryWaitMs, parseDurationMs, parseRetrySchedule } from "../../services/notification/domain/schedule.ts";
import { secretProblem, webhookUrlProblem } from "../../services/notification/domain/validation.ts";

const secret = "whsec_0123456789abcdef0123456789abcdef";
const body = '{"eventId":"evt_1","amount":{"currencyCode":"USD","amountMinor":"1234"}}';
const now = 1_700_000_000;

describe("webhook signature (Stripe scheme)", () => {
  it("verifies what it signs and matches a known HMAC-SHA256 vector", () => {
    const header = signatureHeaderValue([secret], body, now);
    expect(header).toBe(`t=${now},v1=${computeSignature(secret, now, body)}`);
    expect(verifySignature(secret, header, body, 300, now)).toBe(true);
    // Vector computed independently with: printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac <key>
    expect(computeSignature("whsec_test_secret_0123456789abcdef0123", 1_700_000_000, '{"a":1}')).toBe(
      "ec22668e9be575f73b1db17f1139a1353eafe8d089b578560d4187dac7339696",
    );
  });

  it("rejects a tampered body, a wrong secret, a stale or future timestamp and garbage", () => {
    const header = signatureHeaderValue([secret], body, now);
    const cases: Array<[string, string | undefined, string, number, string]> = [
      ["tampered body", header, body.replace("1234", "9999"), now, "NO_MATCHING_SIGNATURE"],
      ["stale", header, body, now + 301, "TIMESTAMP_OUT_OF_TOLERANCE"],
      ["future", header, body, now - 301, "TIMESTAMP_OUT_OF_TOLERANCE"],
      ["missing", undefined, body, now, "MALFORMED"],
      ["no v1", `t=${now}`, body, now, "MALFORMED"],
      ["bad hex", `t=${now},v1=zz`, body, now, "MALFORMED"],
    ];
    for (const [name, value, payload, at, problem] of cases) {
      expect(signatureProblem(secret, value, payload, 300, at), name).toBe(problem);
    }
    expect(verifySignature("whsec_another_secret_of_enough_length_00", header, body, 300, now)).toBe(false);
    expect(verifySignature(secret, header, body, 300, now + 300)).toBe(true);
  });

  it("carries one v1 per secret during rotation; either secret verifies", () => {
    const previous = "whsec_previous_secret_of_enough_length_0";
    const header = signatureHeaderValue([secret, previous], body, now);
    expect(parseSignatureHeader(header)?.signatures).toHaveLength(2);
    expect(verifySignature(secret, header, body, 300, now)).toBe(true);
    expect(verifySignature(previous, header, body, 300, now)).toBe(true);
  });

  it("never signs without a secret", () => {
    expect(() => signatureHeaderValue([], body, now)).toThrow(/never unsigned/);
  });
});

describe("retry schedule", () => {
  it("parses durations and schedules, rejecting bad entries", () => {
    expect(parseDurationMs("250ms")).toBe(250);
    expect(parseDurationMs("2m")).toBe(120_000);
    expect(parseRetrySchedule("1s, 5s,30s")).toEqual([1000, 5000, 30_000]);
    expect(() => parseRetrySchedule("1s,soon")).toThrow(/bad duration/);
    expect(() => parseRetrySchedule("8d")).toThrow(/within/);
    expect(attemptsMaxOf([1000, 5000])).toBe(3);
  });

  it("waits per entry with bounded jitter, then gives up", () => {
    const schedule = [1000, 5000];
    expect(nextRetryWaitMs(schedule, 1, 0.2, () => 0.5)).toBe(1000);
    expect(nextRetryWaitMs(schedule, 1, 0.2, () => 0)).toBe(800);
    expect(nextRetryWaitMs(schedule, 2, 0.2, () => 1)).toBe(6000);
    expect(nextRetryWaitMs(schedule, 3, 0.2)).toBeUndefined();
  });
});

describe("endpoint input rules", () => {
  it("accepts only absolute http(s) URLs without credentials", () => {
    expect(webhookUrlProblem("https://partner.example/hooks")).toBeUndefined();
    expect(webhookUrlProblem("http://127.0.0.1:8080/x")).toBeUndefined();
    for (const bad of ["", "partner.example/hooks", "ftp://partner.example/x", "https://u:p@partner.example/", "javascript:alert(1)"]) {
      expect(webhookUrlProblem(bad), bad).toBeDefined();
    }
  });

  it("requires 32..256 printable chars or empty for a generated secret", () => {
    expect(secretProblem("")).toBeUndefined();
    expect(secretProblem("x".repeat(32))).toBeUndefined();
    expect(secretProblem("x".repeat(31))).toBeDefined();
    expect(secretProblem("x".repeat(257))).toBeDefined();
    expect(secretProblem(`${"x".repeat(31)} `)).toBeDefined();
  });
});
