import { fileURLToPath } from "node:url";
import { create, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AccountSchema } from "../../gen/payments/ledger/v1/ledger_pb.js";
import { SettlementBatchSettledSchema } from "../../gen/payments/settlement/v1/settlement_events_pb.js";
import { SettlementBatchState } from "../../gen/payments/settlement/v1/settlement_pb.js";
import { SettlementService } from "../../gen/payments/settlement/v1/settlement_service_pb.js";
import { loadSettlementSettings } from "../../services/settlement/config.ts";
import { settlementRegistration } from "../../services/settlement/routes.ts";
import { settlementDbSchema } from "../../services/settlement/store/queries.ts";
import { applyMigrations, type Pool } from "../../services/shared/db.ts";
import { errorFieldHeader, errorReasonHeader } from "../../services/shared/errors.ts";
import { clientIdPattern } from "../../services/shared/ids.ts";
import { routesOf } from "../../services/shared/server.ts";
import { createTestDatabase } from "../support/env.ts";
import { fakeClients, operation, type FakeAuthorization, type FakeLedger } from "./fakes.ts";

const migrationsFolder = fileURLToPath(new URL("../../services/settlement/store/migrations", import.meta.url));
const day = "2024-03-01";
const afterCutoff = new Date("2024-03-02T00:00:00.000Z");

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
let ledger: FakeLedger;
let authorization: FakeAuthorization;
let client: Client<typeof SettlementService>;
let now: Date;

function newLedger(): FakeLedger {
  const accounts = new Map(["m1", "m2", "m3", "m".repeat(64)].map((id) => [`merchant:${id}`, create(AccountSchema, { id: `merchant:${id}`, ledger: 840, code: 300 })]));
  return { accounts, transfers: new Map(), createTransferCalls: [] };
}

function buildClient(settings = loadSettlementSettings({})) {
  const clients = fakeClients(ledger, authorization);
  const reg = settlementRegistration({ pool, ...clients, subjectPrefix: "tsettle", settings, clock: () => now });
  return createClient(SettlementService, createRouterTransport(routesOf([reg])));
}

async function count(table: string): Promise<number> {
  const result = await pool.query<{ n: bigint }>(`select count(*)::int8 as n from ${settlementDbSchema}.${table}`);
  return Number(result.rows[0].n);
}

async function outboxEvents() {
  const result = await pool.query<{ subject: string; payload: Buffer }>(`select subject, payload from ${settlementDbSchema}.outbox order by seq`);
  return result.rows.map((row) => ({ subject: row.subject, event: fromBinary(SettlementBatchSettledSchema, row.payload) }));
}

async function expectError(promise: Promise<unknown>, code: Code, fieldOrReason: { field?: string; reason?: string }) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConnectError);
  const connectError = error as ConnectError;
  expect(Code[connectError.code]).toBe(Code[code]);
  if (fieldOrReason.field) expect(connectError.metadata.get(errorFieldHeader)).toBe(fieldOrReason.field);
  if (fieldOrReason.reason) expect(connectError.metadata.get(errorReasonHeader)).toBe(fieldOrReason.reason);
  return connectError;
}

function standardDay() {
  authorization.operations.push(
    operation({ kind: "capture", merchantId: "m1", amountMinor: 10_000n, businessDate: day, cardPresent: true }),
    operation({ kind: "capture", merchantId: "m1", amountMinor: 5_000n, businessDate: day, cardPresent: false }),
    operation({ kind: "refund", merchantId: "m1", amountMinor: 2_000n, businessDate: day }),
    operation({ kind: "refund", merchantId: "m2", amountMinor: 5_000n, businessDate: day }),
    operation({ kind: "capture", merchantId: "m2", amountMinor: 1_000n, businessDate: "2024-03-02" }),
    operation({ kind: "capture", merchantId: "m3", amountMinor: 7_000n, businessDate: day, currencyCode: "EUR" }),
  );
}

beforeAll(async () => {
  database = await createTestDatabase("settlement_handlers");
  pool = database.pool;
  await applyMigrations(pool, settlementDbSchema, migrationsFolder);
});

afterAll(async () => {
  await database?.drop();
});

beforeEach(async () => {
  await pool.query(`truncate ${settlementDbSchema}.batches, ${settlementDbSchema}.business_days, ${settlementDbSchema}.outbox`);
  ledger = newLedger();
  authorization = { operations: [], calls: [] };
  now = afterCutoff;
  client = buildClient();
});

describe("CloseBusinessDay validation: INVALID_ARGUMENT naming the field, nothing written", () => {
  it.each([
    [{ businessDate: "", currencyCode: "USD" }, "business_date"],
    [{ businessDate: "2024-3-01", currencyCode: "USD" }, "business_date"],
    [{ businessDate: "2023-02-29", currencyCode: "USD" }, "business_date"],
    [{ businessDate: "2024-03-01", currencyCode: "" }, "currency_code"],
    [{ businessDate: "2024-03-01", currencyCode: "usd" }, "currency_code"],
    [{ businessDate: "2024-03-01", currencyCode: "XXX" }, "currency_code"],
  ])("%j -> %s", async (request, field) => {
    standardDay();
    await expectError(client.closeBusinessDay(request), Code.InvalidArgument, { field });
    expect(await count("business_days")).toBe(0);
    expect(await count("batches")).toBe(0);
    expect(await count("outbox")).toBe(0);
    expect(authorization.calls).toEqual([]);
    expect(ledger.createTransferCalls).toEqual([]);
  });

  it("refuses a day that is not over yet (FAILED_PRECONDITION), nothing written", async () => {
    now = new Date("2024-03-01T23:59:59.999Z");
    await expectError(client.closeBusinessDay({ businessDate: day, currencyCode: "USD" }), Code.FailedPrecondition, { reason: "BUSINESS_DAY_NOT_OVER" });
    expect(await count("business_days")).toBe(0);
  });

  it("honours SETTLEMENT_CUTOFF_DELAY_MS", async () => {
    client = buildClient(loadSettlementSettings({ SETTLEMENT_CUTOFF_DELAY_MS: "60000" }));
    now = new Date("2024-03-02T00:00:59.999Z");
    await expectError(client.closeBusinessDay({ businessDate: day, currencyCode: "USD" }), Code.FailedPrecondition, { reason: "BUSINESS_DAY_NOT_OVER" });
    now = new Date("2024-03-02T00:01:00.000Z");
    await expect(client.closeBusinessDay({ businessDate: day, currencyCode: "USD" })).resolves.toMatchObject({ alreadyClosed: false });
  });
});

describe("CloseBusinessDay", () => {
  it("settles one batch per merchant, moves the money, enqueues one event per batch", async () => {
    standardDay();
    const response = await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    expect(response.alreadyClosed).toBe(false);
    expect(response.batches.map((batch) => batch.id)).toEqual(["stl_20240301_m1", "stl_20240301_m2"]);
    const [m1, m2] = response.batches;
    expect(m1).toMatchObject({
      merchantId: "m1", partnerId: "p1", businessDate: day, captureCount: 2n, refundCount: 1n, state: SettlementBatchState.SETTLED,
      gross: { currencyCode: "USD", amountMinor: 15_000n }, refunds: { amountMinor: 2_000n }, interchange: { amountMinor: 240n },
      schemeFees: { amountMinor: 20n }, markup: { amountMinor: 65n }, fees: { amountMinor: 325n }, net: { amountMinor: 12_675n },
    });
    expect(m2).toMatchObject({ gross: { amountMinor: 0n }, refunds: { amountMinor: 5_000n }, fees: { amountMinor: 0n }, net: { amountMinor: -5_000n } });

    // Ledger: settlement accounts, then fee/net/payout with deterministic ids; zero fee skipped.
    expect([...ledger.accounts.keys()]).toEqual(expect.arrayContaining(["fees:USD", "clearing:USD", "bank:USD"]));
    const moved = [...ledger.transfers.values()].map((t) => [t.id, t.debitAccountId, t.creditAccountId, t.amount, t.code]);
    expect(moved).toEqual([
      ["stl:stl_20240301_m1:fee", "merchant:m1", "fees:USD", 325n, 30],
      ["stl:stl_20240301_m1:net", "merchant:m1", "clearing:USD", 12_675n, 31],
      ["payout:stl_20240301_m1", "clearing:USD", "bank:USD", 12_675n, 40],
      ["stl:stl_20240301_m2:net", "clearing:USD", "merchant:m2", 5_000n, 31],
      ["payout:stl_20240301_m2", "bank:USD", "clearing:USD", 5_000n, 40],
    ]);
    expect(authorization.calls).toEqual([{ businessDate: day, currencyCode: "USD", pageSize: 1000 }]);

    const events = await outboxEvents();
    expect(events.map((item) => [item.subject, item.event.batch?.id, item.event.batch?.net?.amountMinor])).toEqual([
      ["tsettle.settlement.v1.batch_settled", "stl_20240301_m1", 12_675n],
      ["tsettle.settlement.v1.batch_settled", "stl_20240301_m2", -5_000n],
    ]);
    expect(new Set(events.map((item) => item.event.eventId)).size).toBe(2);
  });

  it("a second close returns the stored batches with already_closed and changes nothing", async () => {
    standardDay();
    const first = await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    authorization.operations.push(operation({ kind: "capture", merchantId: "m1", amountMinor: 1n, businessDate: day }));
    const transfersBefore = ledger.createTransferCalls.length;
    const again = await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    expect(again.alreadyClosed).toBe(true);
    expect(again.batches).toEqual(first.batches);
    expect(ledger.createTransferCalls.length).toBe(transfersBefore);
    expect(authorization.calls.length).toBe(1);
    expect(await count("outbox")).toBe(2);
  });

  it("closes each currency on its own", async () => {
    standardDay();
    ledger.accounts.set("merchant:m3", create(AccountSchema, { id: "merchant:m3", ledger: 978, code: 300 }));
    await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    const eur = await client.closeBusinessDay({ businessDate: day, currencyCode: "EUR" });
    expect(eur.batches.map((batch) => [batch.id, batch.gross?.currencyCode, batch.gross?.amountMinor])).toEqual([["stl_20240301_m3", "EUR", 7_000n]]);
    expect(ledger.transfers.get("stl:stl_20240301_m3:fee")?.ledger).toBe(978);
  });

  it("an empty day closes with no batches", async () => {
    const response = await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    expect(response).toMatchObject({ batches: [], alreadyClosed: false });
    expect((await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" })).alreadyClosed).toBe(true);
  });

  it("reads every page of the clearing file", async () => {
    client = buildClient(loadSettlementSettings({ SETTLEMENT_OPERATIONS_PAGE_SIZE: "2" }));
    for (let index = 0; index < 5; index += 1) {
      authorization.operations.push(operation({ kind: "capture", merchantId: "m1", amountMinor: 100n, businessDate: day }));
    }
    const response = await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    expect(response.batches[0].captureCount).toBe(5n);
    expect(authorization.calls.length).toBe(3);
  });

  it("a close that crashed halfway re-runs with the frozen plan: ledger ids once, events once", async () => {
    standardDay();
    ledger.failAfterTransfers = 2;
    await expectError(client.closeBusinessDay({ businessDate: day, currencyCode: "USD" }), Code.Unavailable, { reason: "LEDGER_UNAVAILABLE" });
    expect(ledger.transfers.size).toBe(2);
    expect(await count("outbox")).toBe(0);
    await expectError(client.getSettlementBatch({ batchId: "stl_20240301_m1" }), Code.NotFound, { field: "batch_id" });

    // A late capture arrives before the re-run: the frozen plan, not the new file, is settled.
    authorization.operations.push(operation({ kind: "capture", merchantId: "m1", amountMinor: 99_999n, businessDate: day }));
    ledger.failAfterTransfers = undefined;
    const response = await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    expect(response.alreadyClosed).toBe(false);
    expect(response.batches[0].gross?.amountMinor).toBe(15_000n);
    expect(ledger.transfers.size).toBe(5);
    expect(authorization.calls.length).toBe(1);
    expect(await count("outbox")).toBe(2);
  });

  it("a ledger rejection fails FAILED_PRECONDITION and settles nothing", async () => {
    standardDay();
    ledger.accounts.delete("merchant:m1");
    const error = await expectError(client.closeBusinessDay({ businessDate: day, currencyCode: "USD" }), Code.FailedPrecondition, { reason: "LEDGER_TRANSFER_REJECTED" });
    expect(error.rawMessage).toContain("DEBIT_ACCOUNT_NOT_FOUND");
    expect(await count("outbox")).toBe(0);
  });

  it.each([
    [Code.NotFound, Code.Internal, "AUTHORIZATION_ERROR"],
    [Code.InvalidArgument, Code.Internal, "AUTHORIZATION_ERROR"],
    [Code.Unavailable, Code.Unavailable, "AUTHORIZATION_UNAVAILABLE"],
    [Code.DeadlineExceeded, Code.Unavailable, "AUTHORIZATION_UNAVAILABLE"],
  ])("an authorization %s is wrapped as %s (never passed through)", async (downstream, ours, reason) => {
    standardDay();
    authorization.failWith = downstream;
    await expectError(client.closeBusinessDay({ businessDate: day, currencyCode: "USD" }), ours, { reason });
    expect(await count("business_days")).toBe(0);
  });

  it("long merchant ids get hashed ledger ids of at most 64 characters", async () => {
    const merchantId = "m".repeat(64);
    authorization.operations.push(operation({ kind: "capture", merchantId, amountMinor: 10_000n, businessDate: day }));
    const response = await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    expect(response.batches[0].id).toBe(`stl_20240301_${merchantId}`);
    expect(ledger.transfers.size).toBe(3);
    for (const id of ledger.transfers.keys()) {
      expect(id).toMatch(clientIdPattern);
      expect(id).toContain("stlh_20240301_");
    }
  });
});

describe("GetSettlementBatch and ListSettlementBatches", () => {
  it("gets a batch; bad and unknown ids are INVALID_ARGUMENT and NOT_FOUND", async () => {
    standardDay();
    await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    const { batch } = await client.getSettlementBatch({ batchId: "stl_20240301_m1" });
    expect(batch?.net?.amountMinor).toBe(12_675n);
    await expectError(client.getSettlementBatch({ batchId: "" }), Code.InvalidArgument, { field: "batch_id" });
    await expectError(client.getSettlementBatch({ batchId: "x".repeat(129) }), Code.InvalidArgument, { field: "batch_id" });
    await expectError(client.getSettlementBatch({ batchId: "stl_20240301_nobody" }), Code.NotFound, { field: "batch_id" });
  });

  it("pages through batches in id order and filters", async () => {
    standardDay();
    authorization.operations.push(operation({ kind: "capture", merchantId: "m3", amountMinor: 500n, businessDate: day }));
    authorization.operations.push(operation({ kind: "capture", merchantId: "m1", amountMinor: 500n, businessDate: "2024-03-02" }));
    now = new Date("2024-03-03T00:00:00Z");
    await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    await client.closeBusinessDay({ businessDate: "2024-03-02", currencyCode: "USD" });

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await client.listSettlementBatches({ pageSize: 2, pageToken });
      expect(page.batches.length).toBeLessThanOrEqual(2);
      seen.push(...page.batches.map((batch) => batch.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(["stl_20240301_m1", "stl_20240301_m2", "stl_20240301_m3", "stl_20240302_m1", "stl_20240302_m2"]);

    expect((await client.listSettlementBatches({ businessDate: day })).batches.map((batch) => batch.merchantId)).toEqual(["m1", "m2", "m3"]);
    expect((await client.listSettlementBatches({ merchantId: "m1" })).batches.map((batch) => batch.businessDate)).toEqual([day, "2024-03-02"]);
  });

  it.each([
    [{ pageSize: -1 }, "page_size"],
    [{ pageSize: 1001 }, "page_size"],
    [{ businessDate: "2024-02-30" }, "business_date"],
    [{ merchantId: "bad id" }, "merchant_id"],
    [{ pageToken: "!!" }, "page_token"],
  ])("%j -> INVALID_ARGUMENT %s", async (request, field) => {
    await expectError(client.listSettlementBatches(request), Code.InvalidArgument, { field });
  });

  it("refuses a page token issued for other filters", async () => {
    standardDay();
    await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    const first = await client.listSettlementBatches({ pageSize: 1 });
    expect(first.nextPageToken).not.toBe("");
    await expectError(client.listSettlementBatches({ pageSize: 1, pageToken: first.nextPageToken, merchantId: "m2" }), Code.InvalidArgument, { field: "page_token" });
  });
});

describe("Reconcile", () => {
  it("matches a clean day and marks its batches RECONCILED", async () => {
    standardDay();
    await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    const response = await client.reconcile({ businessDate: day });
    expect(response.matchedCount).toBe(2n);
    expect(response.breaks).toEqual([]);
    expect((await client.getSettlementBatch({ batchId: "stl_20240301_m1" })).batch?.state).toBe(SettlementBatchState.RECONCILED);
    // Only the closed currency (USD) is compared with the clearing file: m3's EUR capture is no break.
    expect(authorization.calls.at(-1)).toMatchObject({ businessDate: day, currencyCode: "" });
  });

  it("reports missing, mismatched, duplicate and late items as breaks", async () => {
    standardDay();
    await client.closeBusinessDay({ businessDate: day, currencyCode: "USD" });
    ledger.transfers.delete("payout:stl_20240301_m1");
    const net = ledger.transfers.get("stl:stl_20240301_m2:net")!;
    ledger.transfers.set(net.id, { ...net, amount: 4_999n });
    authorization.operations.push(operation({ kind: "capture", merchantId: "m9", amountMinor: 100n, businessDate: day }));
    const response = await client.reconcile({ businessDate: day });
    expect(response.matchedCount).toBe(0n);
    expect(response.breaks.map((item) => [item.kind, item.reference])).toEqual([
      ["MISSING_IN_LEDGER", "payout:stl_20240301_m1"],
      ["AMOUNT_MISMATCH", "stl:stl_20240301_m2:net"],
      ["MISSING_IN_SETTLEMENT", "stl_20240301_m9"],
    ]);
    expect((await client.getSettlementBatch({ batchId: "stl_20240301_m1" })).batch?.state).toBe(SettlementBatchState.SETTLED);

    ledger.transfers.set("payout:stl_20240301_m1", { ...ledger.transfers.get("stl:stl_20240301_m1:net")!, id: "payout:stl_20240301_m1", debitAccountId: "clearing:USD", creditAccountId: "bank:USD", code: 40 });
    ledger.lookupRepeat = 2;
    const duplicates = await client.reconcile({ businessDate: day });
    expect(duplicates.breaks.filter((item) => item.kind === "DUPLICATE").length).toBe(5);
  });

  it("validates the date and requires a closed day", async () => {
    await expectError(client.reconcile({ businessDate: "2024/03/01" }), Code.InvalidArgument, { field: "business_date" });
    await expectError(client.reconcile({ businessDate: day }), Code.FailedPrecondition, { reason: "BUSINESS_DAY_NOT_CLOSED" });
  });
});
