import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./launcher.ts";

/** Signature check: (secret, header, raw body, tolerance s, now) -> verified. */
export type SignatureVerifier = (secret: string, header: string, body: string, toleranceSeconds: number, now: Date) => boolean;

/**
 * The documented scheme (proto/payments/notification/v1: Stripe's): header
 * `Payments-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 with the endpoint secret
 * over "<t>.<raw body>", accepted when any v1 matches and |now - t| <= toleranceSeconds.
 * A local, independent implementation used when services/notification/signature.ts is absent.
 */
export const verifySignatureLocal: SignatureVerifier = (secret, header, body, toleranceSeconds, now) => {
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=", 2);
    if (key === "t") timestamp = value;
    else if (key === "v1" && value) signatures.push(value);
  }
  if (!timestamp || !/^\d+$/.test(timestamp) || signatures.length === 0) return false;
  if (Math.abs(Math.floor(now.getTime() / 1000) - Number(timestamp)) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest();
  return signatures.some((hex) => {
    if (!/^[0-9a-f]+$/i.test(hex) || hex.length !== expected.length * 2) return false;
    return timingSafeEqual(Buffer.from(hex, "hex"), expected);
  });
};

/**
 * The notification service's own verifier when it exists (services/notification/signature.ts
 * exports verifySignature(secret, header, body, toleranceSeconds, now)), else the local one.
 * `source` says which is used.
 */
export async function loadVerifier(): Promise<{ verify: SignatureVerifier; source: "notification" | "local" }> {
  const file = join(repoRoot, "services", "notification", "signature.ts");
  if (!existsSync(file)) return { verify: verifySignatureLocal, source: "local" };
  const module = (await import(file)) as { verifySignature?: (...args: unknown[]) => unknown };
  if (typeof module.verifySignature !== "function") return { verify: verifySignatureLocal, source: "local" };
  const theirs = module.verifySignature;
  return {
    source: "notification",
    verify: (secret, header, body, tolerance, now) => {
      // Their signature: (secret, header, body, toleranceSeconds, nowSeconds) -> boolean.
      const result = theirs(secret, header, body, tolerance, Math.floor(now.getTime() / 1000));
      return result === true || (typeof result === "object" && result !== null && (result as { ok?: unknown }).ok === true);
    },
  };
}

/** Counts kept by the receiver. */
export interface WebhookCounts {
  /** HTTP requests received. */
  readonly requests: number;
  /** Distinct event ids received (any signature outcome). */
  readonly distinctReceived: number;
  /** Distinct event ids with at least one verified delivery. */
  readonly distinctVerified: number;
  /** Requests whose signature failed. */
  readonly invalidSignatures: number;
  /** Verified requests repeating an event id already verified (at-least-once redeliveries). */
  readonly duplicates: number;
  /** Requests without an event id. */
  readonly missingEventId: number;
}

/** A running receiver. */
export interface WebhookReceiver {
  readonly url: string;
  counts(): WebhookCounts;
  /** Distinct event ids verified so far (for exactly-once checks in tests). */
  verifiedEventIds(): ReadonlySet<string>;
  setSecret(secret: string): void;
  close(): Promise<void>;
}

/**
 * An HTTP webhook receiver on 127.0.0.1 (port 0 = free port): verifies the Payments-Signature
 * of every POST with the secret set by setSecret (tolerance 300 s), answers 200 when verified,
 * 400 otherwise, and counts distinct event ids (header Payments-Event-Id, else the body's
 * eventId / event_id field).
 */
export async function startWebhookReceiver(options: { verify: SignatureVerifier; port?: number; toleranceSeconds?: number }): Promise<WebhookReceiver> {
  let secret = "";
  const received = new Set<string>();
  const verified = new Set<string>();
  let requests = 0;
  let invalidSignatures = 0;
  let duplicates = 0;
  let missingEventId = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests += 1;
      const body = Buffer.concat(chunks).toString("utf8");
      const eventId = eventIdOf(request.headers["payments-event-id"], body);
      if (!eventId) missingEventId += 1;
      else received.add(eventId);
      const header = request.headers["payments-signature"];
      const ok =
        secret !== "" &&
        typeof header === "string" &&
        options.verify(secret, header, body, options.toleranceSeconds ?? 300, new Date());
      if (!ok) {
        invalidSignatures += 1;
        response.writeHead(400, { "content-type": "text/plain" }).end("bad signature\n");
        return;
      }
      if (eventId) {
        if (verified.has(eventId)) duplicates += 1;
        verified.add(eventId);
      }
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    counts: () => ({
      requests,
      distinctReceived: received.size,
      distinctVerified: verified.size,
      invalidSignatures,
      duplicates,
      missingEventId,
    }),
    verifiedEventIds: () => verified,
    setSecret(value) {
      secret = value;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function eventIdOf(header: string | string[] | undefined, body: string): string | undefined {
  if (typeof header === "string" && header !== "") return header;
  try {
    const parsed = JSON.parse(body) as { eventId?: unknown; event_id?: unknown };
    const id = parsed.eventId ?? parsed.event_id;
    return typeof id === "string" && id !== "" ? id : undefined;
  } catch {
    return undefined;
  }
}
