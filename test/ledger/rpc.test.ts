import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TransfersCommittedSchema } from "../../gen/payments/ledger/v1/ledger_events_pb.js";
import { CreateAccountResult, CreateTransferResult } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import { accountsFeed, transfersFeed } from "../../services/ledger/change-feed.ts";
import { createLedgerHandlers } from "../../services/ledger/handlers.ts";
import { createLedgerEngine } from "../../services/ledger/store/engine.ts";
import { createGroupCommitter } from "../../services/ledger/store/group-commit.ts";
import { errorFieldHeader } from "../../services/shared/errors.ts";
import { registration, routesOf } from "../../services/shared/server.ts";
import { migrate } from "../support/core.ts";
import { createTestDatabase } from "../support/env.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: ReturnType<typeof createClient<typeof LedgerService>>;

beforeAll(async () => {
  database = await createTestDatabase("ledger_rpc");
  await migrate(database.pool, ["ledger"]);
  const engine = createLedgerEngine(database.pool);
  const committer = createGroupCommitter(engine, { onCommit: transfersFeed("t") });
  const handlers = createLedgerHandlers({ engine, committer, onAccountsCommit: accountsFeed("t") });
  client = createClient(LedgerService, createRouterTransport(routesOf([registration(LedgerService, handlers)])));
});

afterAll(async () => {
  await database.drop();
});

async function rowCounts() {
  const result = await database.pool.query<{ accounts: bigint; transfers: bigint; outbox: bigint }>(
    "select (select count(*) from ledger.accounts) as accounts, (select count(*) from ledger.transfers) as transfers, (select count(*) from ledger.outbox) as outbox",
  );
  return result.rows[0];
}

describe("LedgerService RPCs", () => {
  it("creates accounts and transfers and feeds every commit to the outbox", async () => {
    const accounts = await client.createAccounts({ accounts: [{ id: "a:1", ledger: 840, code: 1 }, { id: "a:2", ledger: 840, code: 1 }] });
    expect(accounts.results).toEqual([CreateAccountResult.OK, CreateAccountResult.OK]);
    const transfers = await client.createTransfers({
      transfers: [{ id: "t:1", debitAccountId: "a:1", creditAccountId: "a:2", amount: 500n, ledger: 840, code: 1 }],
    });
    expect(transfers.results).toEqual([CreateTransferResult.OK]);
    const feed = await database.pool.query<{ subject: string; payload: Buffer }>("select subject, payload from ledger.outbox order by seq");
    expect(feed.rows.map((row) => row.subject)).toEqual(["t.ledger.v1.accounts_created", "t.ledger.v1.transfers_committed"]);
    const event = fromBinary(TransfersCommittedSchema, feed.rows[1].payload);
    expect(event.transfers.map((transfer) => transfer.id)).toEqual(["t:1"]);
    expect(event.accounts.find((account) => account.id === "a:2")?.creditsPosted).toBe(500n);
  });

  it.each([
    ["an empty batch", () => client.createTransfers({ transfers: [] }), "transfers"],
    ["a batch over 8190", () => client.createTransfers({ transfers: Array.from({ length: 8191 }, (_, index) => ({ id: `x:${index}`, debitAccountId: "a:1", creditAccountId: "a:2", amount: 1n, ledger: 840, code: 1 })) }), "transfers"],
    ["a transfer with a create_time", () => client.createTransfers({ transfers: [{ id: "t:x", debitAccountId: "a:1", creditAccountId: "a:2", amount: 1n, ledger: 840, code: 1, createTime: { seconds: 1n } }] }), "transfers[0].create_time"],
    ["an account with a balance", () => client.createAccounts({ accounts: [{ id: "a:9", ledger: 840, code: 1, creditsPosted: 5n }] }), "accounts[0].credits_posted"],
    ["a listing without account", () => client.listAccountTransfers({ accountId: "" }), "account_id"],
    ["a listing with a bad page token", () => client.listAccountTransfers({ accountId: "a:1", pageToken: "%%%" }), "page_token"],
    ["a NUL in user_data", () => client.createTransfers({ transfers: [{ id: "t:nul", debitAccountId: "a:1", creditAccountId: "a:2", amount: 1n, ledger: 840, code: 1, userData: "x\0y" }] }), "transfers[0].user_data"],
    ["a NUL in an account id", () => client.createAccounts({ accounts: [{ id: "a:\0", ledger: 840, code: 1 }] }), "accounts[0].id"],
    ["a NUL in a looked-up id", () => client.lookupTransfers({ ids: ["ok", "t\0"] }), "ids[1]"],
  ] as const)("refuses %s with INVALID_ARGUMENT naming the field, writing nothing", async (_name, call, field) => {
    const before = await rowCounts();
    const error = await call().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).metadata.get(errorFieldHeader)).toBe(field);
    expect(await rowCounts()).toEqual(before);
  });

  it("answers NOT_FOUND for the balances of an unknown account", async () => {
    const error = await client.getAccountBalances({ accountId: "nope" }).catch((caught: unknown) => caught);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("audits clean books", async () => {
    const audit = await client.audit({});
    expect(audit.violations).toEqual([]);
    expect(audit.ok).toBe(true);
    const usd = audit.totals.find((totals) => totals.ledger === 840)!;
    expect(usd.debitsPosted).toBe(usd.creditsPosted);
    expect(usd.debitsPosted).toBe("500");
  });
});
