import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateTransferResult } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { createLedgerEngine } from "../../services/ledger/store/engine.ts";
import { migrate } from "../support/core.ts";
import { createTestDatabase } from "../support/env.ts";

const root = new URL("../../", import.meta.url).pathname;
let database: Awaited<ReturnType<typeof createTestDatabase>>;

function runAudit(): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, [`${root}scripts/ledger-audit.ts`, "--direct"], {
    env: { ...process.env, DATABASE_URL: database.url },
    encoding: "utf8",
  });
  return { status: result.status, stdout: result.stdout };
}

beforeAll(async () => {
  database = await createTestDatabase("ledger_audit_cmd");
  await migrate(database.pool, ["ledger"]);
  const engine = createLedgerEngine(database.pool);
  await engine.createAccounts([
    { id: "a", ledger: 840, code: 1, userData: "" },
    { id: "b", ledger: 840, code: 1, userData: "" },
  ]);
  const results = await engine.createTransfers([
    { id: "t1", debitAccountId: "a", creditAccountId: "b", amount: 700n, pendingId: "", ledger: 840, code: 1, timeoutSeconds: 0, userData: "" },
    { id: "h1", debitAccountId: "a", creditAccountId: "b", amount: 50n, pendingId: "", ledger: 840, code: 1, flags: { pending: true }, timeoutSeconds: 0, userData: "" },
  ]);
  expect(results).toEqual([CreateTransferResult.OK, CreateTransferResult.OK]);
});

afterAll(async () => {
  await database.drop();
});

describe("npm run ledger:audit", () => {
  it("reports clean, balanced books and exits 0", () => {
    const { status, stdout } = runAudit();
    expect(stdout).toContain("ledger 840: 2 accounts, 2 transfers; pending debits 50 / credits 50; posted debits 700 / credits 700 (minor units) balanced");
    expect(stdout).toContain("books are clean");
    expect(status).toBe(0);
  });

  it("finds a balance that no transfer explains and exits 1", async () => {
    await database.pool.query("update ledger.accounts set credits_posted = credits_posted + 1 where id = 'b'");
    const { status, stdout } = runAudit();
    expect(stdout).toContain("UNBALANCED");
    expect(stdout).toMatch(/VIOLATION .*\bb\b/);
    expect(stdout).toContain("books are NOT clean");
    expect(status).toBe(1);
  });
});
