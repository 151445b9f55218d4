/**
 * The audit's grace for overdue holds: a PENDING hold a little past its expires_at (the expiry
 * loop has not run yet) is counted in overduePendingCount but is not a violation; the same hold
 * more than the grace past it is one (the holds are not being expired); once the expiry loop
 * released it, the audit is clean. An engine with no grace (the default) flags any overdue hold.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateAccountResult as A, CreateTransferResult as R } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { overdueGraceFor } from "../../services/ledger/store/audit.ts";
import { createLedgerEngine } from "../../services/ledger/store/engine.ts";
import { account, createLedgerFixture, transfer, uid } from "./support.ts";

let f: Awaited<ReturnType<typeof createLedgerFixture>>;
beforeAll(async () => {
  f = await createLedgerFixture();
});
afterAll(async () => {
  await f?.drop();
});

describe("audit of overdue holds", () => {
  it("sets the grace from the expiry interval: five intervals, at least 10 s", () => {
    expect(overdueGraceFor(1_000)).toBe(10_000_000n);
    expect(overdueGraceFor(4_000)).toBe(20_000_000n);
  });

  it("tolerates a hold overdue within the grace and flags one overdue beyond it", async () => {
    const graceUs = overdueGraceFor(1_000);
    const lenient = createLedgerEngine(f.pool, { clock: f.clock.now, auditOverdueGraceUs: graceUs });
    const [from, to, hold] = [uid("from"), uid("to"), uid("hold")];
    expect(await f.engine.createAccounts([account(from), account(to)])).toEqual([A.OK, A.OK]);
    expect(
      await f.engine.createTransfers([transfer({ id: hold, debitAccountId: from, creditAccountId: to, amount: 5n, flags: { pending: true }, timeoutSeconds: 1 })]),
    ).toEqual([R.OK]);

    f.clock.advanceSeconds(3); // 2 s past expires_at: the expiry loop is merely behind
    const within = await lenient.audit();
    expect(within.overduePendingCount).toBe(1n);
    expect(within.violations).toEqual([]);
    expect(within.ok).toBe(true);
    const strict = await f.engine.audit();
    expect(strict.ok).toBe(false);
    expect(strict.violations).toEqual(["1 PENDING hold(s) past their expires_at"]);

    f.clock.advanceSeconds(10); // 12 s past: beyond the 10 s grace
    const beyond = await lenient.audit();
    expect(beyond.ok).toBe(false);
    expect(beyond.violations).toEqual(["1 PENDING hold(s) more than 10 s past their expires_at: holds are not being expired"]);

    expect(await f.engine.expirePendingTransfers()).toEqual([hold]);
    const released = await lenient.audit();
    expect(released.overduePendingCount).toBe(0n);
    expect(released.ok).toBe(true);
  });
});
