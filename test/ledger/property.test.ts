/**
 * Seeded property test: random sequences of transfers, holds, posts, voids, expiries and linked
 * chains run against the real engine AND a deliberately simple, independent model; after every
 * step the audit must pass and every balance must equal the model's.
 * Reproduce a failure with LEDGER_PROPERTY_SEED=<seed> (fast-check prints seed and path).
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CreateTransferResult as R } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { account, createLedgerFixture, transfer, uid } from "./support.ts";

const MAX = 9_223_372_036_854_775_807n;

// ---- the model: a few dozen lines, written from the contract, not from the state machine ----
interface ModelAccount { limitDebits: boolean; limitCredits: boolean; dp: bigint; dpo: bigint; cp: bigint; cpo: bigint }
interface ModelHold { id: string; dr: number; cr: number; amount: bigint; state: "pending" | "posted" | "voided" | "expired"; expiresAt: bigint | null }
interface Model { accounts: ModelAccount[]; holds: ModelHold[] }

function modelMove(m: Model, dr: number, cr: number, amount: bigint, pending: boolean): boolean {
  const d = m.accounts[dr];
  const c = m.accounts[cr];
  if (pending ? d.dp + amount > MAX || c.cp + amount > MAX : d.dpo + amount > MAX || c.cpo + amount > MAX) return false;
  if (d.limitDebits && d.dp + d.dpo + amount > d.cpo) return false;
  if (c.limitCredits && c.cp + c.cpo + amount > c.dpo) return false;
  if (pending) { d.dp += amount; c.cp += amount; } else { d.dpo += amount; c.cpo += amount; }
  return true;
}
function modelResolve(m: Model, hold: ModelHold, now: bigint, postAmount: bigint | null): R {
  if (postAmount !== null && postAmount > hold.amount) return R.EXCEEDS_PENDING_TRANSFER_AMOUNT;
  if (hold.state === "posted") return R.PENDING_TRANSFER_ALREADY_POSTED;
  if (hold.state === "voided") return R.PENDING_TRANSFER_ALREADY_VOIDED;
  if (hold.state === "expired" || (hold.expiresAt !== null && hold.expiresAt <= now)) {
    if (hold.state === "pending") modelExpire(m, hold);
    return R.PENDING_TRANSFER_EXPIRED;
  }
  if (postAmount !== null && (m.accounts[hold.dr].dpo + postAmount > MAX || m.accounts[hold.cr].cpo + postAmount > MAX)) {
    return R.OVERFLOWS_BALANCE;
  }
  m.accounts[hold.dr].dp -= hold.amount;
  m.accounts[hold.cr].cp -= hold.amount;
  if (postAmount !== null) { m.accounts[hold.dr].dpo += postAmount; m.accounts[hold.cr].cpo += postAmount; }
  hold.state = postAmount !== null ? "posted" : "voided";
  return R.OK;
}
function modelExpire(m: Model, hold: ModelHold): void {
  m.accounts[hold.dr].dp -= hold.amount;
  m.accounts[hold.cr].cp -= hold.amount;
  hold.state = "expired";
}
// ---- end of model ----

const accountCount = 4;
const amountArb = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, MAX, MAX - 1n),
  fc.bigInt({ min: 0n, max: 300n }),
);
const pairArb = fc.tuple(fc.integer({ min: 0, max: accountCount - 1 }), fc.integer({ min: 1, max: accountCount - 1 }))
  .map(([dr, k]) => ({ dr, cr: (dr + k) % accountCount }));
const commandArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("transfer" as const), pair: pairArb, amount: amountArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("hold" as const), pair: pairArb, amount: amountArb, timeout: fc.constantFrom(0, 1, 3) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("post" as const), hold: fc.nat(), amount: fc.oneof(amountArb, fc.constant(MAX)) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("void" as const), hold: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("advance" as const), seconds: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("chain" as const), members: fc.array(fc.record({ pair: pairArb, amount: amountArb }), { minLength: 2, maxLength: 3 }) }) },
);

type Fixture = Awaited<ReturnType<typeof createLedgerFixture>>;
let f: Fixture;
beforeAll(async () => {
  f = await createLedgerFixture();
});
afterAll(async () => {
  await f?.drop();
});

it("engine agrees with the model and the audit passes after every step", async () => {
  const seedText = process.env.LEDGER_PROPERTY_SEED;
  await fc.assert(
    fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 25 }), async (commands) => {
      const ids = Array.from({ length: accountCount }, () => uid("pa"));
      // 0: source, 1: debits must not exceed credits, 2: credits must not exceed debits, 3: plain.
      await f.engine.createAccounts([
        account(ids[0]),
        account(ids[1], { flags: { debitsMustNotExceedCredits: true } as never }),
        account(ids[2], { flags: { creditsMustNotExceedDebits: true } as never }),
        account(ids[3], { flags: { history: true } as never }),
      ]);
      const zero = () => ({ dp: 0n, dpo: 0n, cp: 0n, cpo: 0n });
      const m: Model = {
        accounts: [
          { limitDebits: false, limitCredits: false, ...zero() },
          { limitDebits: true, limitCredits: false, ...zero() },
          { limitDebits: false, limitCredits: true, ...zero() },
          { limitDebits: false, limitCredits: false, ...zero() },
        ],
        holds: [],
      };
      for (const command of commands) {
        // Tick 1 ms so every batch's time is exactly the clock (engine times are unique per µs).
        f.clock.set(f.clock.now() + 1000n);
        const now = f.clock.now();
        if (command.kind === "transfer" || command.kind === "hold") {
          const pending = command.kind === "hold";
          const timeout = command.kind === "hold" ? command.timeout : 0;
          const id = uid("pt");
          const [result] = await f.engine.createTransfers([
            transfer({ id, debitAccountId: ids[command.pair.dr], creditAccountId: ids[command.pair.cr], amount: command.amount, flags: { pending } as never, timeoutSeconds: timeout }),
          ]);
          const ok = modelMove(m, command.pair.dr, command.pair.cr, command.amount, pending);
          expect(result === R.OK, `${R[result]} for ${command.kind}`).toBe(ok);
          if (ok && pending) {
            m.holds.push({ id, dr: command.pair.dr, cr: command.pair.cr, amount: command.amount, state: "pending", expiresAt: timeout > 0 ? now + BigInt(timeout) * 1_000_000n : null });
          }
        } else if (command.kind === "post" || command.kind === "void") {
          if (m.holds.length === 0) continue;
          const hold = m.holds[command.hold % m.holds.length];
          const postAmount = command.kind === "post" ? command.amount : null;
          const [result] = await f.engine.createTransfers([
            transfer({ id: uid("pr"), pendingId: hold.id, amount: postAmount ?? 0n, ledger: 0, code: 0, flags: (command.kind === "post" ? { postPendingTransfer: true } : { voidPendingTransfer: true }) as never }),
          ]);
          const effective = postAmount === MAX ? hold.amount : postAmount;
          expect(R[result]).toBe(R[modelResolve(m, hold, now, effective)]);
        } else if (command.kind === "advance") {
          f.clock.set(f.clock.now() + BigInt(command.seconds) * 1_000_000n);
          await f.engine.expirePendingTransfers();
          for (const hold of m.holds) {
            if (hold.state === "pending" && hold.expiresAt !== null && hold.expiresAt <= f.clock.now()) modelExpire(m, hold);
          }
        } else {
          const results = await f.engine.createTransfers(
            command.members.map((member, i) =>
              transfer({ id: uid("pc"), debitAccountId: ids[member.pair.dr], creditAccountId: ids[member.pair.cr], amount: member.amount, flags: { linked: i < command.members.length - 1 } as never }),
            ),
          );
          const trial: Model = structuredClone(m);
          const allOk = command.members.every((member) => modelMove(trial, member.pair.dr, member.pair.cr, member.amount, false));
          if (allOk) m.accounts = trial.accounts;
          expect(results.every((r) => r === R.OK)).toBe(allOk);
          if (!allOk) expect(results.filter((r) => r === R.OK)).toEqual([]);
        }
        const stored = await f.engine.lookupAccounts(ids);
        expect(stored.map((a) => [a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted])).toEqual(
          m.accounts.map((a) => [a.dp, a.dpo, a.cp, a.cpo]),
        );
        const audit = await f.engine.audit();
        expect(audit.violations).toEqual([]);
      }
    }),
    { numRuns: Number.parseInt(process.env.LEDGER_PROPERTY_RUNS ?? "150", 10), seed: seedText === undefined ? undefined : Number.parseInt(seedText, 10), verbose: 1 },
  );
}, 120_000);
