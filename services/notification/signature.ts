/**
 * Webhook signatures, Stripe scheme (SEMANTICS.md "Webhooks"):
 *
 *   Payments-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=<hex>...]
 *
 * The timestamp is inside the signed bytes, so a captured request cannot be replayed later than
 * the receiver's tolerance (default 300 s). During a secret rotation the sender adds one v1 per
 * active secret; a receiver accepts the request when any v1 matches its secret.
 *
 * This file imports nothing but node:crypto on purpose: receivers (tests, the replay's local
 * receiver, partners' Node code) can copy or import it without the service.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** Header carrying the signature. */
export const signatureHeader = "Payments-Signature";

/** Receivers reject a signature whose timestamp is further than this from their clock. */
export const signatureToleranceSecondsDefault = 300;

/** Hex HMAC-SHA256 of `"<timestampSeconds>.<body>"` with `secret` (body as raw bytes or UTF-8 text). */
export function computeSignature(secret: string, timestampSeconds: number, body: string | Uint8Array): string {
  const hmac = createHmac("sha256", secret);
  hmac.update(`${timestampSeconds}.`);
  hmac.update(body);
  return hmac.digest("hex");
}

/**
 * The header value for `body` signed at `timestampSeconds` with every secret in `secrets` (the
 * current one first, then a previous one during rotation). Throws when `secrets` is empty:
 * a webhook is never sent unsigned.
 */
export function signatureHeaderValue(secrets: readonly string[], body: string | Uint8Array, timestampSeconds: number): string {
  if (secrets.length === 0) throw new Error("refusing to sign with no secret: webhooks are never unsigned");
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new Error("timestampSeconds must be a non-negative integer");
  const parts = [`t=${timestampSeconds}`];
  for (const secret of secrets) parts.push(`v1=${computeSignature(secret, timestampSeconds, body)}`);
  return parts.join(",");
}

/** A parsed header: the timestamp and every v1 signature (lowercase hex). */
export interface ParsedSignature {
  readonly timestampSeconds: number;
  readonly signatures: readonly string[];
}

/** Parses `t=...,v1=...[,v1=...]`; unknown schemes (v0, v2) are ignored. Undefined when malformed. */
export function parseSignatureHeader(header: string | null | undefined): ParsedSignature | undefined {
  if (!header) return undefined;
  let timestampSeconds: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const index = part.indexOf("=");
    if (index <= 0) return undefined;
    const key = part.slice(0, index).trim();
    const value = part.slice(index + 1).trim();
    if (key === "t") {
      if (!/^\d{1,12}$/.test(value) || timestampSeconds !== undefined) return undefined;
      timestampSeconds = Number(value);
    } else if (key === "v1") {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) return undefined;
      signatures.push(value.toLowerCase());
    }
  }
  if (timestampSeconds === undefined || signatures.length === 0) return undefined;
  return { timestampSeconds, signatures };
}

/**
 * Why a signature does not verify, or undefined when it does: "MALFORMED" (missing or bad
 * header), "TIMESTAMP_OUT_OF_TOLERANCE" (|now - t| > toleranceSeconds), "NO_MATCHING_SIGNATURE".
 * Comparison is constant-time.
 */
export function signatureProblem(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  toleranceSeconds: number = signatureToleranceSecondsDefault,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): "MALFORMED" | "TIMESTAMP_OUT_OF_TOLERANCE" | "NO_MATCHING_SIGNATURE" | undefined {
  const parsed = parseSignatureHeader(header);
  if (!parsed) return "MALFORMED";
  if (Math.abs(nowSeconds - parsed.timestampSeconds) > toleranceSeconds) return "TIMESTAMP_OUT_OF_TOLERANCE";
  const expected = Buffer.from(computeSignature(secret, parsed.timestampSeconds, body), "hex");
  for (const signature of parsed.signatures) {
    if (timingSafeEqual(expected, Buffer.from(signature, "hex"))) return undefined;
  }
  return "NO_MATCHING_SIGNATURE";
}

/**
 * True when `header` (the Payments-Signature value) carries a v1 signature of `body` (the raw
 * request body, exactly as received) made with `secret`, timestamped within `toleranceSeconds`
 * (default 300) of `nowSeconds` (unix seconds, default the current time). Receivers should also
 * dedupe on the Payments-Event-Id header.
 */
export function verifySignature(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  toleranceSeconds: number = signatureToleranceSecondsDefault,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): boolean {
  return signatureProblem(secret, header, body, toleranceSeconds, nowSeconds) === undefined;
}
