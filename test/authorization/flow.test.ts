import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AuthorizationState } from "../../gen/payments/authorization/v1/authorization_pb.js";
import { FraudService } from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { createGrpcJsTransport } from "../../services/shared/grpc-transport.ts";
import { errorFieldHeader, errorReasonHeader } from "../../services/shared/errors.ts";
import { createCore, migrate } from "../support/core.ts";
import { createTestDatabase } from "../support/env.ts";

const pan = "4613314721966"; // a Luhn-valid card number from the Sparkov slice
const smallLimitPan = "340187018810220";
const eventTime = timestampFromDate(new Date("2019-01-01T12:00:00Z"));

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let core: ReturnType<typeof createCore>;
let cardToken = "";
let smallCardToken = "";
let keySeq = 0;
const nextKey = () => `key-${Date.now()}-${(keySeq += 1)}`;

async function counts() {
  const result = await database.pool.query<{ authorizations: bigint; keys: bigint; transfers: bigint; outbox: bigint; operations: bigint }>(
    `select (select count(*) from authz.authorizations) as authorizations,
            (select count(*) from authz.idempotency_keys) as keys,
            (select count(*) from ledger.transfers) as transfers,
            (select count(*) from authz.outbox) as outbox,
            (select count(*) from authz.operations) as operations`,
  );
  return result.rows[0];
}

function authorizeRequest(overrides: Record<string, unknown> = {}) {
  return {
    idempotencyKey: nextKey(),
    merchantId: "m_grocery",
    card: { case: "cardToken" as const, value: cardToken },
    amount: { currencyCode: "USD", amountMinor: 2_500n },
    merchantCategory: "grocery_pos",
    cardPresent: true,
    eventTime,
    ...overrides,
  };
}

async function expectConnectError(promise: Promise<unknown>, code: Code, field?: string): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, "expected the call to fail").toBeInstanceOf(ConnectError);
  const connectError = error as ConnectError;
  expect(Code[connectError.code]).toBe(Code[code]);
  if (field) {
    expect(connectError.metadata.get(errorFieldHeader)).toBe(field);
    expect(connectError.rawMessage).toContain(field);
  }
  return connectError;
}

beforeAll(async () => {
  database = await createTestDatabase("authz_flow");
  await migrate(database.pool, ["ledger", "fraud", "authorization"]);
  core = createCore(database.pool);
  await core.authorization.createMerchant({ merchantId: "m_grocery", partnerId: "partner_a", name: "Grocery", currencyCode: "USD" });
  cardToken = (await core.authorization.createCardAccount({ pan, creditLimit: { currencyCode: "USD", amountMinor: 500_000n } })).cardAccount!.cardToken;
  smallCardToken = (await core.authorization.createCardAccount({ pan: smallLimitPan, creditLimit: { currencyCode: "USD", amountMinor: 1_000n } })).cardAccount!.cardToken;
});

afterAll(async () => {
  await core.committer.drain();
  await database.drop();
});

describe("Authorize", () => {
  it("approves, places a hold and records the event with the authorization", async () => {
    const before = await counts();
    const { authorization, replayed } = await core.authorization.authorize(authorizeRequest({ card: { case: "pan", value: pan } }));
    expect(replayed).toBe(false);
    expect(authorization?.state).toBe(AuthorizationState.AUTHORIZED);
    expect(authorization?.responseCodeIso).toBe("00");
    expect(authorization?.cardToken).toBe(cardToken);
    expect(authorization?.cardLast4).toBe("1966");
    const hold = (await core.ledger.lookupTransfers({ ids: [`hold:${authorization!.id}`] })).transfers[0];
    expect(hold.amount).toBe(2_500n);
    expect(hold.flags?.pending).toBe(true);
    const after = await counts();
    expect(after.authorizations - before.authorizations).toBe(1n);
    expect(after.outbox - before.outbox).toBe(1n);
    const outbox = await database.pool.query("select subject from authz.outbox order by seq desc limit 1");
    expect(outbox.rows[0].subject).toBe("test.authorization.v1.approved");
  });

  it("never stores the PAN", async () => {
    const dump = await database.pool.query(
      `select string_agg(t::text, '|') as text from (
         select a::text as t from authz.authorizations a union all select c::text from authz.card_accounts c
         union all select k.request_hash::text from authz.idempotency_keys k union all select o.payload::text from authz.outbox o
         union all select f::text from fraud.card_history f union all select x::text from ledger.transfers x) rows`,
    );
    expect(dump.rows[0].text).not.toContain(pan);
    expect(dump.rows[0].text).not.toContain(Buffer.from(pan).toString("hex"));
  });

  it("returns the first result for the same key and request, refuses a different request", async () => {
    const request = authorizeRequest();
    const first = await core.authorization.authorize(request);
    const again = await core.authorization.authorize(request);
    expect(again.replayed).toBe(true);
    expect(again.authorization?.id).toBe(first.authorization?.id);
    const before = await counts();
    const conflict = await expectConnectError(
      core.authorization.authorize({ ...request, amount: { currencyCode: "USD", amountMinor: 2_501n } }),
      Code.AlreadyExists,
      "idempotency_key",
    );
    expect(conflict.metadata.get(errorReasonHeader)).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(await counts()).toEqual(before);
  });

  it("creates one authorization for concurrent duplicates", async () => {
    const request = authorizeRequest();
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => core.authorization.authorize(request)));
    const ids = new Set<string>();
    for (const outcome of outcomes) {
      if (outcome.status === "fulfilled") ids.add(outcome.value.authorization!.id);
      else expect((outcome.reason as ConnectError).code).toBe(Code.Aborted); // in flight: retry later
    }
    expect(ids.size).toBe(1);
    const rows = await database.pool.query("select count(*)::int as n from authz.authorizations where id = $1", [[...ids][0]]);
    expect(rows.rows[0].n).toBe(1);
    const holds = await database.pool.query("select count(*)::int as n from ledger.transfers where id like $1", [`hold:${[...ids][0]}%`]);
    expect(holds.rows[0].n).toBe(1);
    // After the first completes, a retry replays it.
    const retry = await core.authorization.authorize(request);
    expect(retry.authorization?.id).toBe([...ids][0]);
  });

  it("declines with 51 when the credit line is exhausted, and holds nothing", async () => {
    const { authorization } = await core.authorization.authorize(
      authorizeRequest({ card: { case: "cardToken", value: smallCardToken }, amount: { currencyCode: "USD", amountMinor: 1_001n } }),
    );
    expect(authorization?.state).toBe(AuthorizationState.DECLINED);
    expect(authorization?.responseCodeIso).toBe("51");
    expect(authorization?.declineReason).toBe("INSUFFICIENT_CREDIT");
    const hold = await core.ledger.lookupTransfers({ ids: [`hold:${authorization!.id}`] });
    expect(hold.transfers).toHaveLength(0);
    const card = (await core.ledger.lookupAccounts({ ids: [`card:${smallCardToken}`] })).accounts[0];
    expect(card.debitsPending).toBe(0n);
  });

  it("counts holds against the credit line (two holds cannot spend the same credit)", async () => {
    const first = await core.authorization.authorize(authorizeRequest({ card: { case: "cardToken", value: smallCardToken }, amount: { currencyCode: "USD", amountMinor: 600n } }));
    const second = await core.authorization.authorize(authorizeRequest({ card: { case: "cardToken", value: smallCardToken }, amount: { currencyCode: "USD", amountMinor: 600n } }));
    expect(first.authorization?.responseCodeIso).toBe("00");
    expect(second.authorization?.responseCodeIso).toBe("51");
    await core.authorization.void({ idempotencyKey: nextKey(), authorizationId: first.authorization!.id });
  });

  it("declines an expired card with 54", async () => {
    const { authorization } = await core.authorization.authorize(authorizeRequest({ cardExpiry: { month: 12, year: 2018 } }));
    expect(authorization?.responseCodeIso).toBe("54");
  });
});

describe("bad input writes nothing", () => {
  const cases: [string, Record<string, unknown>, Code, string][] = [
    ["missing idempotency key", { idempotencyKey: "" }, Code.InvalidArgument, "idempotency_key"],
    ["malformed idempotency key", { idempotencyKey: "has spaces in it" }, Code.InvalidArgument, "idempotency_key"],
    ["too long idempotency key", { idempotencyKey: "k".repeat(256) }, Code.InvalidArgument, "idempotency_key"],
    ["zero amount", { amount: { currencyCode: "USD", amountMinor: 0n } }, Code.InvalidArgument, "amount.amount_minor"],
    ["negative amount", { amount: { currencyCode: "USD", amountMinor: -5n } }, Code.InvalidArgument, "amount.amount_minor"],
    ["unknown currency", { amount: { currencyCode: "XXQ", amountMinor: 100n } }, Code.InvalidArgument, "amount.currency_code"],
    ["missing amount", { amount: undefined }, Code.InvalidArgument, "amount"],
    ["other currency than the merchant's", { amount: { currencyCode: "EUR", amountMinor: 100n } }, Code.InvalidArgument, "amount.currency_code"],
    ["no card", { card: { case: undefined } }, Code.InvalidArgument, "card"],
    ["PAN failing Luhn", { card: { case: "pan", value: "4613314721967" } }, Code.InvalidArgument, "pan"],
    ["malformed token", { card: { case: "cardToken", value: "card_xyz" } }, Code.InvalidArgument, "card_token"],
    ["bad latitude", { merchantLocation: { latitude: 91, longitude: 0 } }, Code.InvalidArgument, "merchant_location.latitude"],
    ["bad category", { merchantCategory: "Grocery POS" }, Code.InvalidArgument, "merchant_category"],
    ["unknown merchant", { merchantId: "m_unknown" }, Code.NotFound, "merchant_id"],
    ["unknown card", { card: { case: "cardToken", value: `card_${"0".repeat(32)}` } }, Code.NotFound, "card_token"],
  ];
  it.each(cases)("Authorize with %s", async (_name, overrides, code, field) => {
    const before = await counts();
    await expectConnectError(core.authorization.authorize(authorizeRequest(overrides)), code, field);
    expect(await counts()).toEqual(before);
  });
});

describe("Capture, Void, Refund", () => {
  let authorizationId = "";
  beforeEach(async () => {
    authorizationId = (await core.authorization.authorize(authorizeRequest({ amount: { currencyCode: "USD", amountMinor: 10_000n } }))).authorization!.id;
  });

  it("captures partially twice, then refunds up to the captured amount", async () => {
    const first = await core.authorization.capture({ idempotencyKey: nextKey(), authorizationId, amount: { currencyCode: "USD", amountMinor: 3_000n } });
    expect(first.authorization?.state).toBe(AuthorizationState.PARTIALLY_CAPTURED);
    const second = await core.authorization.capture({ idempotencyKey: nextKey(), authorizationId, amount: { currencyCode: "USD", amountMinor: 7_000n } });
    expect(second.authorization?.state).toBe(AuthorizationState.CAPTURED);
    expect(second.authorization?.capturedAmountMinor).toBe(10_000n);
    const captures = await core.ledger.lookupTransfers({ ids: [`cap:${first.captureId}`, `cap:${second.captureId}`] });
    expect(captures.transfers.map((transfer) => transfer.amount)).toEqual([3_000n, 7_000n]);
    const card = (await core.ledger.lookupAccounts({ ids: [`card:${cardToken}`] })).accounts[0];
    const pending = await database.pool.query("select coalesce(sum(amount), 0)::bigint as s from ledger.transfers where state = 2 and id like $1", [`hold:${authorizationId}%`]);
    expect(pending.rows[0].s).toBe(0n);
    expect(card.debitsPosted).toBeGreaterThanOrEqual(10_000n);

    const before = await counts();
    await expectConnectError(
      core.authorization.refund({ idempotencyKey: nextKey(), authorizationId, amount: { currencyCode: "USD", amountMinor: 10_001n } }),
      Code.FailedPrecondition,
      "amount.amount_minor",
    );
    expect(await counts()).toEqual(before);
    const refund = await core.authorization.refund({ idempotencyKey: nextKey(), authorizationId, amount: { currencyCode: "USD", amountMinor: 4_000n } });
    expect(refund.authorization?.refundedAmountMinor).toBe(4_000n);
    const refundTransfer = (await core.ledger.lookupTransfers({ ids: [`rfd:${refund.refundId}`] })).transfers[0];
    expect(refundTransfer.debitAccountId).toBe("merchant:m_grocery");
    expect(refundTransfer.creditAccountId).toBe(`card:${cardToken}`);
  });

  it("refuses a capture above the authorized amount and writes nothing", async () => {
    const before = await counts();
    const error = await expectConnectError(
      core.authorization.capture({ idempotencyKey: nextKey(), authorizationId, amount: { currencyCode: "USD", amountMinor: 10_001n } }),
      Code.FailedPrecondition,
      "amount.amount_minor",
    );
    expect(error.metadata.get(errorReasonHeader)).toBe("CAPTURE_EXCEEDS_AUTHORIZED");
    expect(await counts()).toEqual(before);
  });

  it.each([
    ["capture of an unknown authorization", () => core.authorization.capture({ idempotencyKey: nextKey(), authorizationId: `auth_${"f".repeat(32)}`, amount: { currencyCode: "USD", amountMinor: 1n } }), Code.NotFound, "authorization_id"],
    ["refund of an unknown authorization", () => core.authorization.refund({ idempotencyKey: nextKey(), authorizationId: `auth_${"f".repeat(32)}`, amount: { currencyCode: "USD", amountMinor: 1n } }), Code.NotFound, "authorization_id"],
    ["void of an unknown authorization", () => core.authorization.void({ idempotencyKey: nextKey(), authorizationId: `auth_${"f".repeat(32)}` }), Code.NotFound, "authorization_id"],
    ["capture with a malformed id", () => core.authorization.capture({ idempotencyKey: nextKey(), authorizationId: "nope", amount: { currencyCode: "USD", amountMinor: 1n } }), Code.InvalidArgument, "authorization_id"],
    ["capture without a key", () => core.authorization.capture({ idempotencyKey: "", authorizationId: `auth_${"f".repeat(32)}`, amount: { currencyCode: "USD", amountMinor: 1n } }), Code.InvalidArgument, "idempotency_key"],
    ["capture of zero", () => core.authorization.capture({ idempotencyKey: nextKey(), authorizationId: `auth_${"f".repeat(32)}`, amount: { currencyCode: "USD", amountMinor: 0n } }), Code.InvalidArgument, "amount.amount_minor"],
    ["refund in an unknown currency", () => core.authorization.refund({ idempotencyKey: nextKey(), authorizationId: `auth_${"f".repeat(32)}`, amount: { currencyCode: "ABC", amountMinor: 1n } }), Code.InvalidArgument, "amount.currency_code"],
  ] as const)("%s", async (_name, call, code, field) => {
    const before = await counts();
    await expectConnectError(call(), code, field);
    expect(await counts()).toEqual(before);
  });

  it("refuses a refund before any capture, and a void after a capture", async () => {
    await expectConnectError(core.authorization.refund({ idempotencyKey: nextKey(), authorizationId, amount: { currencyCode: "USD", amountMinor: 1n } }), Code.FailedPrecondition, "authorization_id");
    await core.authorization.capture({ idempotencyKey: nextKey(), authorizationId, amount: { currencyCode: "USD", amountMinor: 1_000n }, finalCapture: true });
    const before = await counts();
    const error = await expectConnectError(core.authorization.void({ idempotencyKey: nextKey(), authorizationId }), Code.FailedPrecondition, "authorization_id");
    expect(error.metadata.get(errorReasonHeader)).toBe("AUTHORIZATION_NOT_VOIDABLE");
    expect(await counts()).toEqual(before);
  });

  it("voids an uncaptured authorization and releases the hold exactly once", async () => {
    const key = nextKey();
    const voided = await core.authorization.void({ idempotencyKey: key, authorizationId });
    expect(voided.authorization?.state).toBe(AuthorizationState.VOIDED);
    const hold = (await core.ledger.lookupTransfers({ ids: [`hold:${authorizationId}`] })).transfers[0];
    expect(hold.state).toBe(4); // PENDING_VOIDED
    expect((await core.authorization.void({ idempotencyKey: key, authorizationId })).replayed).toBe(true);
    await expectConnectError(core.authorization.void({ idempotencyKey: nextKey(), authorizationId }), Code.FailedPrecondition, "authorization_id");
    await expectConnectError(
      core.authorization.capture({ idempotencyKey: nextKey(), authorizationId, amount: { currencyCode: "USD", amountMinor: 1n } }),
      Code.FailedPrecondition,
      "authorization_id",
    );
  });
});

describe("dependencies failing", () => {
  it("falls back when fraud is unreachable: small amounts allowed, large declined 91", async () => {
    const deadFraud = createClient(FraudService, createGrpcJsTransport({ baseUrl: "127.0.0.1:1", defaultTimeoutMs: 200 }));
    const degraded = createCore(database.pool, { fraud: deadFraud });
    const small = await degraded.authorization.authorize(authorizeRequest({ amount: { currencyCode: "USD", amountMinor: 5_000n } }));
    expect(small.authorization?.responseCodeIso).toBe("00");
    expect(small.authorization?.fraud?.fallbackUsed).toBe(true);
    const large = await degraded.authorization.authorize(authorizeRequest({ amount: { currencyCode: "USD", amountMinor: 50_000n } }));
    expect(large.authorization?.responseCodeIso).toBe("91");
    expect(large.authorization?.declineReason).toBe("FRAUD_CHECK_UNAVAILABLE");
    await degraded.committer.drain();
  });

  it("fails UNAVAILABLE when the ledger is down, and a retry with the same key resumes the same authorization", async () => {
    const deadLedger = createClient(LedgerService, createGrpcJsTransport({ baseUrl: "127.0.0.1:1", defaultTimeoutMs: 200 }));
    const broken = createCore(database.pool, { ledger: deadLedger });
    const request = authorizeRequest();
    const before = await counts();
    const error = await expectConnectError(broken.authorization.authorize(request), Code.Unavailable);
    expect(error.metadata.get(errorReasonHeader)).toBe("LEDGER_UNAVAILABLE");
    const after = await counts();
    expect(after.authorizations).toBe(before.authorizations);
    expect(after.outbox).toBe(before.outbox);
    const key = await database.pool.query("select state, resource_id from authz.idempotency_keys where key = $1", [request.idempotencyKey]);
    expect(key.rows[0].state).toBe("retryable");
    const healed = await core.authorization.authorize(request);
    expect(healed.authorization?.id).toBe(key.rows[0].resource_id);
    expect(healed.authorization?.responseCodeIso).toBe("00");
    await broken.committer.drain();
  });
});
