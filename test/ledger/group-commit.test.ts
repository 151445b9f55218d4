/**
 * Concurrency through group commit: 64 concurrent submitters on one hot account and on random
 * accounts. No lost update, no deadlock error reaching a caller, balances equal the expected
 * sums, resubmitting the same batches returns EXISTS for all; one bad submission cannot fail
 * the others sharing its transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateTransferResult as R } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { createGroupCommitter } from "../../services/ledger/store/group-commit.ts";
import { createLedgerEngine } from "../../services/ledger/store/engine.ts";
import type { TransferRequest } from "../../services/ledger/domain/model.ts";
import { account, createLedgerTestDatabase, transfer, uid } from "./support.ts";

type Database = Awaited<ReturnType<typeof createLedgerTestDatabase>>;
let db: Database;
beforeAll(async () => {
  db = await createLedgerTestDatabase({ poolMax: 12 });
});
afterAll(async () => {
  await db?.drop();
});

const submitters = 64;

async function runConcurrently(
  submit: (batch: readonly TransferRequest[]) => Promise<R[]>,
  batches: TransferRequest[][],
): Promise<R[][]> {
  return Promise.all(batches.map((batch) => submit(batch)));
}

describe.each([1, 2, 4])("group commit, %i transaction(s) in flight", (inFlightMax) => {
  it("hot account: every transfer lands exactly once, limits hold under contention", async () => {
    const engine = createLedgerEngine(db.pool);
    const committer = createGroupCommitter(engine, { inFlightMax });
    const [issuer, hot] = [uid("issuer"), uid("hot")];
    const merchants = Array.from({ length: 8 }, () => uid("m"));
    await engine.createAccounts([account(issuer), account(hot, { flags: { debitsMustNotExceedCredits: true } as never }), ...merchants.map((m) => account(m))]);
    // Fund the hot account with exactly 3000 so that part of the 64*5*10 = 3200 demand is refused.
    expect(await engine.createTransfers([transfer({ id: uid("fund"), debitAccountId: issuer, creditAccountId: hot, amount: 3000n })])).toEqual([R.OK]);
    const batches = Array.from({ length: submitters }, (_, s) =>
      Array.from({ length: 5 }, (_, i) =>
        transfer({ id: uid(`hot${s}`), debitAccountId: hot, creditAccountId: merchants[(s + i) % merchants.length], amount: 10n }),
      ),
    );
    const results = await runConcurrently(committer.submit, batches);
    const flat = results.flat();
    expect(flat.filter((r) => r !== R.OK && r !== R.EXCEEDS_CREDITS)).toEqual([]);
    const okCount = flat.filter((r) => r === R.OK).length;
    expect(okCount).toBe(300);
    const [h] = await engine.lookupAccounts([hot]);
    expect(h.debitsPosted).toBe(BigInt(okCount) * 10n);
    const merchantAccounts = await engine.lookupAccounts(merchants);
    expect(merchantAccounts.reduce((sum, m) => sum + m.creditsPosted, 0n)).toBe(3000n);
    // Resubmitting: successes say EXISTS, failures ID_ALREADY_FAILED, nothing moves.
    const again = (await runConcurrently(committer.submit, batches)).flat();
    expect(again.map((r, i) => (flat[i] === R.OK ? r === R.EXISTS : r === R.ID_ALREADY_FAILED)).every(Boolean)).toBe(true);
    const audit = await engine.audit();
    expect(audit.violations).toEqual([]);
    expect(committer.stats().transactions).toBeLessThan(2 * submitters);
  });

  it("random accounts: sums match, no deadlock reaches a caller, resubmission is EXISTS", async () => {
    const engine = createLedgerEngine(db.pool);
    const committer = createGroupCommitter(engine, { inFlightMax });
    const ids = Array.from({ length: 20 }, () => uid("r"));
    await engine.createAccounts(ids.map((id) => account(id)));
    const expected = new Map<string, { debits: bigint; credits: bigint }>(ids.map((id) => [id, { debits: 0n, credits: 0n }]));
    let seed = 42 + inFlightMax;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const batches = Array.from({ length: submitters }, () =>
      Array.from({ length: 1 + random(20) }, () => {
        const dr = random(ids.length);
        const cr = (dr + 1 + random(ids.length - 1)) % ids.length;
        const amount = BigInt(1 + random(1000));
        (expected.get(ids[dr]) as { debits: bigint }).debits += amount;
        (expected.get(ids[cr]) as { credits: bigint }).credits += amount;
        return transfer({ id: uid("rt"), debitAccountId: ids[dr], creditAccountId: ids[cr], amount });
      }),
    );
    const results = (await runConcurrently(committer.submit, batches)).flat();
    expect(results.every((r) => r === R.OK)).toBe(true);
    for (const a of await engine.lookupAccounts(ids)) {
      expect([a.debitsPosted, a.creditsPosted]).toEqual([expected.get(a.id)?.debits, expected.get(a.id)?.credits]);
    }
    const again = (await runConcurrently(committer.submit, batches)).flat();
    expect(again.every((r) => r === R.EXISTS)).toBe(true);
    expect((await engine.audit()).violations).toEqual([]);
  });

  it("concurrent posts of the same hold: exactly one wins", async () => {
    const engine = createLedgerEngine(db.pool);
    const committer = createGroupCommitter(engine, { inFlightMax });
    const [a, b] = [uid("pa"), uid("pb")];
    await engine.createAccounts([account(a), account(b)]);
    const hold = uid("hold");
    expect(await engine.createTransfers([transfer({ id: hold, debitAccountId: a, creditAccountId: b, amount: 100n, flags: { pending: true } as never })])).toEqual([R.OK]);
    const results = (
      await runConcurrently(
        committer.submit,
        Array.from({ length: submitters }, (_, i) => [
          transfer({ id: uid("post"), pendingId: hold, amount: BigInt(1 + (i % 100)), ledger: 0, code: 0, flags: (i % 2 === 0 ? { postPendingTransfer: true } : { voidPendingTransfer: true }) as never }),
        ]),
      )
    ).flat();
    expect(results.filter((r) => r === R.OK)).toHaveLength(1);
    expect(results.filter((r) => r !== R.OK && r !== R.PENDING_TRANSFER_ALREADY_POSTED && r !== R.PENDING_TRANSFER_ALREADY_VOIDED)).toEqual([]);
    expect((await engine.audit()).violations).toEqual([]);
  });
});

describe("group commit isolation", () => {
  it("each submission is its own chain segment; a failing transaction falls back per submission", async () => {
    const engine = createLedgerEngine(db.pool);
    let failNext = true;
    const committer = createGroupCommitter(engine, {
      inFlightMax: 1,
      // Fail the first shared transaction once, as an unexpected error would.
      onCommit: async (_client, committed) => {
        if (failNext && committed.transfers.length > 1) {
          failNext = false;
          throw new Error("boom");
        }
      },
    });
    const [a, b] = [uid("ia"), uid("ib")];
    await engine.createAccounts([account(a), account(b)]);
    const p1 = committer.submit([transfer({ id: uid("i"), debitAccountId: a, creditAccountId: b, amount: 1n, flags: { linked: true } as never })]);
    const p2 = committer.submit([transfer({ id: uid("i"), debitAccountId: a, creditAccountId: b, amount: 2n })]);
    const p3 = committer.submit([transfer({ id: uid("i"), debitAccountId: a, creditAccountId: b, amount: 3n })]);
    expect(await Promise.all([p1, p2, p3])).toEqual([[R.LINKED_EVENT_CHAIN_OPEN], [R.OK], [R.OK]]);
    expect(committer.stats().fallbacks).toBe(1);
    const [stored] = await engine.lookupAccounts([a]);
    expect(stored.debitsPosted).toBe(5n);
  });

  it("rejects empty and oversize submissions", async () => {
    const committer = createGroupCommitter(createLedgerEngine(db.pool));
    await expect(committer.submit([])).rejects.toThrow(RangeError);
    await expect(committer.submit(Array.from({ length: 8191 }, () => transfer({ id: "x" })))).rejects.toThrow(RangeError);
  });
});
