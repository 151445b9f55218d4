/**
 * The batch statements reach accounts and transfers through their primary keys, not through
 * sequential scans, on a table of 10,000 accounts and a group commit of 60 transfers (120
 * accounts): the size at which, with PostgreSQL's default random_page_cost, the planner
 * hash-joined the balance UPDATE with a scan of every account (seen under the benchmark with
 * auto_explain). The plans are taken with EXPLAIN inside a transaction opened exactly as the
 * engine opens it (readStatements' BEGIN and SET LOCAL), on analyzed tables.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccountState } from "../../services/ledger/domain/model.ts";
import { readStatements, writeStatements } from "../../services/ledger/store/batch-sql.ts";
import { accountTransfersQuery, balanceAsOfSql, encodePageToken, type ListAccountTransfersFilter } from "../../services/ledger/store/engine.ts";
import type { Pool, PoolClient } from "../../services/shared/db.ts";
import { account, createLedgerFixture, storedTransfer } from "./support.ts";

const accountCount = 10_000;
const transferCount = 60;
let fixture: Awaited<ReturnType<typeof createLedgerFixture>>;

beforeAll(async () => {
  fixture = await createLedgerFixture({ poolMax: 4 });
  for (let start = 0; start < accountCount; start += 5_000) {
    const batch = Array.from({ length: 5_000 }, (_, i) => account(`p:${start + i}`));
    await fixture.engine.createAccounts(batch);
  }
  // Enough transfers that a lookup by id is a real choice between the index and a scan.
  const transfers = Array.from({ length: 4_000 }, (_, i) => ({
    id: `seed:${i}`,
    debitAccountId: `p:${i % accountCount}`,
    creditAccountId: `p:${(i + 1) % accountCount}`,
    amount: 1n,
    pendingId: "",
    ledger: 840,
    code: 1,
    timeoutSeconds: 0,
    userData: "",
  }));
  for (let start = 0; start < transfers.length; start += 2_000) {
    await fixture.engine.createTransfers(transfers.slice(start, start + 2_000));
  }
  // And remembered failures: debits beyond the credit line of "lim" fail on business state.
  await fixture.engine.createAccounts([account("lim", { flags: { debitsMustNotExceedCredits: true } })]);
  const failing = Array.from({ length: 2_000 }, (_, i) => ({ ...transfers[0], id: `fail:${i}`, debitAccountId: "lim" }));
  const failedResults = await fixture.engine.createTransfers(failing);
  expect(new Set(failedResults)).toEqual(new Set([failedResults[0]]));
  expect(Number((await fixture.pool.query("select count(*) from ledger.transfers where state = 7")).rows[0].count)).toBe(2_000);
  await fixture.pool.query("analyze ledger.accounts; analyze ledger.transfers");
}, 60_000);

afterAll(async () => {
  await fixture?.drop();
});

/** The plan text of `sql` (one statement; `params` for its $n), on `client`: inside the caller's transaction when it is a checked-out client. */
async function planOf(client: PoolClient | Pool, sql: string, params: unknown[] = []): Promise<string> {
  const { rows } = await client.query(`explain ${sql}`, params);
  return rows.map((row: Record<string, string>) => row["QUERY PLAN"]).join("\n");
}

/** Splits a ';'-terminated statement list built by batch-sql.ts (ids here hold no ';'). */
const statementsOf = (sql: string): string[] =>
  sql
    .split(";\n")
    .map((statement) => statement.trim().replace(/;$/, ""))
    .filter(Boolean);

describe("batch statements on 10,000 accounts, 60 transfers per group", () => {
  const pairs = Array.from({ length: transferCount }, (_, i) => ({
    id: `new:${i}`,
    debit: `p:${(i * 157) % accountCount}`,
    credit: `p:${(i * 157 + 5_003) % accountCount}`,
  }));

  it("locks accounts and looks up existing and failed ids by primary key", async () => {
    const plan = readStatements(
      pairs.map((p) => p.id),
      pairs.flatMap((p) => [p.debit, p.credit]),
      pairs.map(() => ""),
    );
    const [begin, setLocal, ...selects] = statementsOf(plan.sql);
    expect(begin).toBe("begin");
    expect(setLocal).toMatch(/^set local random_page_cost/);
    expect(selects).toHaveLength(2);
    const client = await fixture.pool.connect();
    try {
      await client.query(`${begin}; ${setLocal}`);
      for (const select of selects) {
        const text = await planOf(client, select);
        expect(text, select.slice(0, 60)).not.toMatch(/Seq Scan on (accounts|transfers)/);
      }
    } finally {
      await client.query("rollback");
      client.release();
    }
  });

  it("updates the balances of 120 accounts through the primary key", async () => {
    const accounts: AccountState[] = pairs.flatMap((p) => [p.debit, p.credit]).map((id) => ({
      id,
      ledger: 840,
      code: 1,
      flags: { debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: false, history: false, closed: false },
      userData: "",
      createTimeUs: 0n,
      debitsPending: 0n,
      debitsPosted: 7n,
      creditsPending: 0n,
      creditsPosted: 9n,
    }));
    const created = pairs.map((p, i) =>
      storedTransfer(p.id, { debitAccountId: p.debit, creditAccountId: p.credit, createTimeUs: 1_700_000_000_000_000n + BigInt(i) }),
    );
    const statements = statementsOf(
      writeStatements({ created, resolvedHolds: [], accounts, failed: [], history: [], timeUs: 1_700_000_000_000_000n }),
    );
    const update = statements.find((statement) => statement.startsWith("with updated as (update ledger.accounts"));
    expect(update).toBeDefined();
    const [begin, setLocal] = statementsOf(readStatements(["x"], ["p:1"], [""]).sql);
    const client = await fixture.pool.connect();
    try {
      await client.query(`${begin}; ${setLocal}`);
      const text = await planOf(client, update as string);
      expect(text).not.toMatch(/Seq Scan on accounts/);
      expect(text).toMatch(/Index Scan using accounts_pkey/);
    } finally {
      await client.query("rollback");
      client.release();
    }
  });
});

describe("queries by account and the partial account indexes (migration 0004)", () => {
  const indexes = ["transfers_debit_account_create_time", "transfers_credit_account_create_time"];

  it("leaves FAILED_ID rows out of both account indexes", async () => {
    const { rows } = await fixture.pool.query<{ name: string; predicate: string | null }>(
      `select c.relname as name, pg_get_expr(i.indpred, i.indrelid) as predicate
         from pg_index i join pg_class c on c.oid = i.indexrelid
        where c.relname = any($1::text[]) order by c.relname`,
      [indexes],
    );
    expect(rows).toEqual([...indexes].sort().map((name) => ({ name, predicate: "(state <> 7)" })));
  });

  const filters: [string, ListAccountTransfersFilter, string[]][] = [
    ["both directions", { accountId: "p:42" }, indexes],
    ["debits, time range and code", { accountId: "p:42", direction: "debits", startTimeUs: 0n, endTimeUs: 4_000_000_000_000_000n, code: 1 }, [indexes[0]]],
    ["credits after a cursor", { accountId: "p:42", direction: "credits", pageToken: encodePageToken(1_000n, "seed:7") }, [indexes[1]]],
  ];
  it.each(filters)("ListAccountTransfers (%s) reads through the account indexes", async (_name, filter, used) => {
    const { sql, params } = accountTransfersQuery(filter, 100);
    const text = await planOf(fixture.pool, sql, params);
    for (const index of used) expect(text).toContain(`using ${index}`);
    expect(text).not.toMatch(/Seq Scan on transfers/);
  });

  it("a balance as of a time reads through both account indexes", async () => {
    const text = await planOf(fixture.pool, balanceAsOfSql, ["p:42", new Date().toISOString()]);
    for (const index of indexes) expect(text).toContain(`using ${index}`);
    expect(text).not.toMatch(/Seq Scan on transfers/);
  });
});
