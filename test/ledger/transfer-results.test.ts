/**
 * Every CreateTransferResult code through the real PostgreSQL engine, table-driven, plus
 * precedence (an input that triggers two codes gets the one earlier in the enum) and edge
 * amounts (0, 1, 2^63-1, overflow). Rules: proto/payments/ledger/v1/ledger_results.proto.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateTransferResult as R } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { amountMinorMax } from "../../services/ledger/domain/model.ts";
import { account, createLedgerFixture, transfer, uid } from "./support.ts";

type Fixture = Awaited<ReturnType<typeof createLedgerFixture>>;
let f: Fixture;

const pending = { pending: true } as never;
const post = { postPendingTransfer: true } as never;
const voidFlag = { voidPendingTransfer: true } as never;

beforeAll(async () => {
  f = await createLedgerFixture();
  const results = await f.engine.createAccounts([
    account("dr"),
    account("cr"),
    account("limited", { flags: { debitsMustNotExceedCredits: true } as never }),
    account("climited", { flags: { creditsMustNotExceedDebits: true } as never }),
    account("eur", { ledger: 978 }),
    account("eur2", { ledger: 978 }),
    account("closed", { flags: { closed: true } as never }),
    account("big"),
    account("src"),
  ]);
  expect(results.every((r) => r === 1)).toBe(true);
  const setup = await f.engine.createTransfers([
    transfer({ id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 10n, userData: "u" }),
    transfer({ id: "hold", debitAccountId: "dr", creditAccountId: "cr", amount: 100n, flags: pending }),
    transfer({ id: "hold-posted", debitAccountId: "dr", creditAccountId: "cr", amount: 100n, flags: pending }),
    transfer({ id: "hold-voided", debitAccountId: "dr", creditAccountId: "cr", amount: 100n, flags: pending }),
    transfer({ id: "hold-expiring", debitAccountId: "dr", creditAccountId: "cr", amount: 100n, flags: pending, timeoutSeconds: 1 }),
    transfer({ id: "hold-closed", debitAccountId: "dr", creditAccountId: "closed", amount: 0n, flags: pending }),
    transfer({ id: "fill-big", debitAccountId: "src", creditAccountId: "big", amount: amountMinorMax }),
    transfer({ id: "post-1", pendingId: "hold-posted", amount: 50n, ledger: 0, code: 0, flags: post }),
    transfer({ id: "void-1", pendingId: "hold-voided", ledger: 0, code: 0, flags: voidFlag }),
  ]);
  // hold-closed credits a closed account: rejected. Everything else succeeds.
  expect(setup).toEqual([R.OK, R.OK, R.OK, R.OK, R.OK, R.CREDIT_ACCOUNT_ALREADY_CLOSED, R.OK, R.OK, R.OK]);
  f.clock.advanceSeconds(2); // hold-expiring is now overdue
});
afterAll(async () => {
  await f?.drop();
});

interface Row {
  name: string;
  transfer: Parameters<typeof transfer>[0];
  expected: R;
}

const long = "x".repeat(129);
const t = (init: Omit<Row["transfer"], "id"> & { id?: string }): Row["transfer"] => ({
  debitAccountId: "dr",
  creditAccountId: "cr",
  amount: 1n,
  ...init,
  id: init.id ?? uid("t"),
});

const rows: Row[] = [
  { name: "ok", transfer: t({}), expected: R.OK },
  { name: "ok amount 0", transfer: t({ amount: 0n }), expected: R.OK },
  { name: "id invalid (empty)", transfer: t({ id: "" }), expected: R.ID_INVALID },
  { name: "id invalid (chars)", transfer: t({ id: "a b" }), expected: R.ID_INVALID },
  { name: "id invalid (65 chars)", transfer: t({ id: "a".repeat(65) }), expected: R.ID_INVALID },
  { name: "id invalid beats negative amount", transfer: t({ id: "#", amount: -1n }), expected: R.ID_INVALID },
  { name: "exists", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 10n, userData: "u" }, expected: R.EXISTS },
  { name: "exists different flags", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 10n, userData: "u", flags: pending }, expected: R.EXISTS_WITH_DIFFERENT_FLAGS },
  { name: "exists different pending_id", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 10n, userData: "u", pendingId: "x" }, expected: R.EXISTS_WITH_DIFFERENT_PENDING_ID },
  { name: "exists different timeout", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 10n, userData: "u", timeoutSeconds: 3 }, expected: R.EXISTS_WITH_DIFFERENT_TIMEOUT },
  { name: "exists different debit", transfer: { id: "existing", debitAccountId: "src", creditAccountId: "cr", amount: 10n, userData: "u" }, expected: R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID },
  { name: "exists different credit", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "src", amount: 10n, userData: "u" }, expected: R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID },
  { name: "exists different amount", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 11n, userData: "u" }, expected: R.EXISTS_WITH_DIFFERENT_AMOUNT },
  { name: "exists different user_data", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 10n, userData: "v" }, expected: R.EXISTS_WITH_DIFFERENT_USER_DATA },
  { name: "exists different ledger", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 10n, userData: "u", ledger: 978 }, expected: R.EXISTS_WITH_DIFFERENT_LEDGER },
  { name: "exists different code", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 10n, userData: "u", code: 2 }, expected: R.EXISTS_WITH_DIFFERENT_CODE },
  { name: "exists different amount beats different code (precedence)", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: 11n, userData: "u", code: 2 }, expected: R.EXISTS_WITH_DIFFERENT_AMOUNT },
  { name: "exists beats validation (negative amount is a different amount)", transfer: { id: "existing", debitAccountId: "dr", creditAccountId: "cr", amount: -1n, userData: "u" }, expected: R.EXISTS_WITH_DIFFERENT_AMOUNT },
  { name: "exists post with defaulted fields", transfer: { id: "post-1", pendingId: "hold-posted", amount: 50n, ledger: 0, code: 0, flags: post }, expected: R.EXISTS },
  { name: "exists post, client now names the (same) debit account", transfer: { id: "post-1", pendingId: "hold-posted", debitAccountId: "dr", amount: 50n, ledger: 0, code: 0, flags: post }, expected: R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID },
  { name: "flags mutually exclusive", transfer: t({ flags: { pending: true, postPendingTransfer: true } as never }), expected: R.FLAGS_ARE_MUTUALLY_EXCLUSIVE },
  { name: "flags mutually exclusive beats negative amount", transfer: t({ flags: { pending: true, voidPendingTransfer: true } as never, amount: -5n }), expected: R.FLAGS_ARE_MUTUALLY_EXCLUSIVE },
  { name: "amount negative", transfer: t({ amount: -1n }), expected: R.AMOUNT_MUST_NOT_BE_NEGATIVE },
  { name: "amount negative beats user_data", transfer: t({ amount: -1n, userData: long }), expected: R.AMOUNT_MUST_NOT_BE_NEGATIVE },
  { name: "user_data too long", transfer: t({ userData: long }), expected: R.USER_DATA_TOO_LONG },
  { name: "user_data 128 bytes ok", transfer: t({ userData: "é".repeat(64) }), expected: R.OK },
  { name: "user_data 130 bytes (multi-byte) too long", transfer: t({ userData: "é".repeat(65) }), expected: R.USER_DATA_TOO_LONG },
  { name: "pending_id must be empty", transfer: t({ pendingId: "hold" }), expected: R.PENDING_ID_MUST_BE_EMPTY },
  { name: "pending_id must be empty beats timeout", transfer: t({ pendingId: "hold", timeoutSeconds: 5 }), expected: R.PENDING_ID_MUST_BE_EMPTY },
  { name: "timeout reserved for pending", transfer: t({ timeoutSeconds: 5 }), expected: R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER },
  { name: "timeout reserved on post", transfer: t({ flags: post, pendingId: "hold", timeoutSeconds: 5 }), expected: R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER },
  { name: "pending_id must not be empty (post)", transfer: t({ flags: post }), expected: R.PENDING_ID_MUST_NOT_BE_EMPTY },
  { name: "pending_id must not be empty (void)", transfer: t({ flags: voidFlag }), expected: R.PENDING_ID_MUST_NOT_BE_EMPTY },
  { name: "pending_id must be different", transfer: { id: "self", pendingId: "self", flags: post, amount: 0n }, expected: R.PENDING_ID_MUST_BE_DIFFERENT },
  { name: "debit account id empty", transfer: t({ debitAccountId: "" }), expected: R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_EMPTY },
  { name: "debit empty beats credit empty", transfer: t({ debitAccountId: "", creditAccountId: "" }), expected: R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_EMPTY },
  { name: "credit account id empty", transfer: t({ creditAccountId: "" }), expected: R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_EMPTY },
  { name: "accounts must be different", transfer: t({ creditAccountId: "dr" }), expected: R.ACCOUNTS_MUST_BE_DIFFERENT },
  { name: "accounts must be different beats ledger 0", transfer: t({ creditAccountId: "dr", ledger: 0 }), expected: R.ACCOUNTS_MUST_BE_DIFFERENT },
  { name: "ledger must not be zero", transfer: t({ ledger: 0 }), expected: R.LEDGER_MUST_NOT_BE_ZERO },
  { name: "ledger zero beats code zero", transfer: t({ ledger: 0, code: 0 }), expected: R.LEDGER_MUST_NOT_BE_ZERO },
  { name: "code must not be zero", transfer: t({ code: 0 }), expected: R.CODE_MUST_NOT_BE_ZERO },
  { name: "code zero beats debit not found", transfer: t({ code: 0, debitAccountId: "nobody" }), expected: R.CODE_MUST_NOT_BE_ZERO },
  { name: "debit account not found", transfer: t({ debitAccountId: "nobody" }), expected: R.DEBIT_ACCOUNT_NOT_FOUND },
  { name: "debit not found beats credit not found", transfer: t({ debitAccountId: "nobody", creditAccountId: "nobody2" }), expected: R.DEBIT_ACCOUNT_NOT_FOUND },
  { name: "credit account not found", transfer: t({ creditAccountId: "nobody" }), expected: R.CREDIT_ACCOUNT_NOT_FOUND },
  { name: "accounts must have the same ledger", transfer: t({ creditAccountId: "eur" }), expected: R.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER },
  { name: "transfer must have the same ledger as accounts", transfer: t({ debitAccountId: "eur", creditAccountId: "eur2" }), expected: R.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS },
  { name: "post: pending transfer not found", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "nohold", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_NOT_FOUND },
  { name: "post: named debit not found beats pending not found", transfer: t({ debitAccountId: "nobody", creditAccountId: "", flags: post, pendingId: "nohold" }), expected: R.DEBIT_ACCOUNT_NOT_FOUND },
  { name: "post: pending transfer not pending", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "existing", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_NOT_PENDING },
  { name: "post: different debit account", transfer: t({ debitAccountId: "src", creditAccountId: "", flags: post, pendingId: "hold", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID },
  { name: "post: different credit account", transfer: t({ debitAccountId: "", creditAccountId: "src", flags: post, pendingId: "hold", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID },
  { name: "post: different ledger", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "hold", ledger: 978, code: 0 }), expected: R.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER },
  { name: "post: different code", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "hold", ledger: 0, code: 7 }), expected: R.PENDING_TRANSFER_HAS_DIFFERENT_CODE },
  { name: "post: exceeds pending amount", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "hold", amount: 101n, ledger: 0, code: 0 }), expected: R.EXCEEDS_PENDING_TRANSFER_AMOUNT },
  { name: "post: exceeds pending amount beats already posted", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "hold-posted", amount: 101n, ledger: 0, code: 0 }), expected: R.EXCEEDS_PENDING_TRANSFER_AMOUNT },
  { name: "post: already posted", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "hold-posted", amount: 1n, ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_ALREADY_POSTED },
  { name: "void: already posted", transfer: t({ debitAccountId: "", creditAccountId: "", flags: voidFlag, pendingId: "hold-posted", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_ALREADY_POSTED },
  { name: "post: already voided", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "hold-voided", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_ALREADY_VOIDED },
  { name: "void: already voided", transfer: t({ debitAccountId: "", creditAccountId: "", flags: voidFlag, pendingId: "hold-voided", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_ALREADY_VOIDED },
  { name: "post: expired", transfer: t({ debitAccountId: "", creditAccountId: "", flags: post, pendingId: "hold-expiring", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_EXPIRED },
  { name: "void: expired", transfer: t({ debitAccountId: "", creditAccountId: "", flags: voidFlag, pendingId: "hold-expiring", ledger: 0, code: 0 }), expected: R.PENDING_TRANSFER_EXPIRED },
  { name: "debit account closed", transfer: t({ debitAccountId: "closed" }), expected: R.DEBIT_ACCOUNT_ALREADY_CLOSED },
  { name: "credit account closed", transfer: t({ creditAccountId: "closed" }), expected: R.CREDIT_ACCOUNT_ALREADY_CLOSED },
  { name: "debit closed beats credit closed / exceeds", transfer: t({ debitAccountId: "closed", creditAccountId: "climited" }), expected: R.DEBIT_ACCOUNT_ALREADY_CLOSED },
  { name: "overflows balance (credits_posted)", transfer: t({ creditAccountId: "big", amount: 1n }), expected: R.OVERFLOWS_BALANCE },
  { name: "overflow beats exceeds credits", transfer: t({ debitAccountId: "limited", creditAccountId: "big", amount: 1n }), expected: R.OVERFLOWS_BALANCE },
  { name: "amount 0 into a full balance is fine", transfer: t({ creditAccountId: "big", amount: 0n }), expected: R.OK },
  { name: "exceeds credits", transfer: t({ debitAccountId: "limited", amount: 1n }), expected: R.EXCEEDS_CREDITS },
  { name: "exceeds credits (hold)", transfer: t({ debitAccountId: "limited", amount: 1n, flags: pending }), expected: R.EXCEEDS_CREDITS },
  { name: "exceeds credits beats exceeds debits", transfer: t({ debitAccountId: "limited", creditAccountId: "climited", amount: 1n }), expected: R.EXCEEDS_CREDITS },
  { name: "exceeds debits", transfer: t({ creditAccountId: "climited", amount: 1n }), expected: R.EXCEEDS_DEBITS },
  { name: "limited account, amount 0 ok", transfer: t({ debitAccountId: "limited", amount: 0n }), expected: R.OK },
];

describe("CreateTransferResult codes", () => {
  it.each(rows)("$name", async ({ transfer: input, expected }) => {
    const [result] = await f.engine.createTransfers([transfer(input)]);
    expect(R[result]).toBe(R[expected]);
  });

  it("covers every CreateTransferResult code except UNSPECIFIED and the chain codes (tested in chains)", () => {
    const covered = new Set(rows.map((r) => r.expected));
    covered.add(R.ID_ALREADY_FAILED);
    const all = Object.values(R).filter((v): v is R => typeof v === "number");
    const missing = all.filter(
      (code) => !covered.has(code) && ![R.UNSPECIFIED, R.LINKED_EVENT_FAILED, R.LINKED_EVENT_CHAIN_OPEN].includes(code),
    );
    expect(missing.map((code) => R[code])).toEqual([]);
  });

  it("remembers business-state failures (ID_ALREADY_FAILED) but not validation failures", async () => {
    const businessId = uid("bf");
    expect(await f.engine.createTransfers([transfer({ id: businessId, debitAccountId: "limited", creditAccountId: "cr", amount: 5n })])).toEqual([R.EXCEEDS_CREDITS]);
    // Even a request that would now succeed cannot reuse the id.
    expect(await f.engine.createTransfers([transfer({ id: businessId, debitAccountId: "dr", creditAccountId: "cr", amount: 5n })])).toEqual([R.ID_ALREADY_FAILED]);
    // ID_ALREADY_FAILED is checked before validation.
    expect(await f.engine.createTransfers([transfer({ id: businessId, debitAccountId: "dr", creditAccountId: "cr", amount: -5n })])).toEqual([R.ID_ALREADY_FAILED]);

    const validationId = uid("vf");
    expect(await f.engine.createTransfers([transfer({ id: validationId, debitAccountId: "dr", creditAccountId: "cr", amount: -5n })])).toEqual([R.AMOUNT_MUST_NOT_BE_NEGATIVE]);
    expect(await f.engine.createTransfers([transfer({ id: validationId, debitAccountId: "dr", creditAccountId: "cr", amount: 5n })])).toEqual([R.OK]);
  });

  it("sees earlier transfers of the same batch: duplicate ids, failed ids, balances", async () => {
    const a = uid("dup");
    const b = uid("dupfail");
    const results = await f.engine.createTransfers([
      transfer({ id: a, debitAccountId: "dr", creditAccountId: "cr", amount: 3n }),
      transfer({ id: a, debitAccountId: "dr", creditAccountId: "cr", amount: 3n }),
      transfer({ id: a, debitAccountId: "dr", creditAccountId: "cr", amount: 4n }),
      transfer({ id: b, debitAccountId: "nobody", creditAccountId: "cr", amount: 3n }),
      transfer({ id: b, debitAccountId: "dr", creditAccountId: "cr", amount: 3n }),
    ]);
    expect(results).toEqual([R.OK, R.EXISTS, R.EXISTS_WITH_DIFFERENT_AMOUNT, R.DEBIT_ACCOUNT_NOT_FOUND, R.ID_ALREADY_FAILED]);
    const [stored] = await f.engine.lookupTransfers([a]);
    expect(stored.amount).toBe(3n);
  });

  it("edge amounts: 2^63-1 fills a balance, one more overflows, exceeds checks count the full sum", async () => {
    const [x, y] = [uid("x"), uid("y")];
    expect(await f.engine.createAccounts([account(x), account(y)])).toEqual([1, 1]);
    expect(await f.engine.createTransfers([transfer({ id: uid("m"), debitAccountId: x, creditAccountId: y, amount: amountMinorMax })])).toEqual([R.OK]);
    expect(await f.engine.createTransfers([transfer({ id: uid("m"), debitAccountId: x, creditAccountId: y, amount: 1n })])).toEqual([R.OVERFLOWS_BALANCE]);
    // Pending balances are separate from posted ones: a hold of max still fits.
    expect(await f.engine.createTransfers([transfer({ id: uid("m"), debitAccountId: x, creditAccountId: y, amount: amountMinorMax, flags: pending })])).toEqual([R.OK]);
    expect(await f.engine.createTransfers([transfer({ id: uid("m"), debitAccountId: x, creditAccountId: y, amount: 1n, flags: pending })])).toEqual([R.OVERFLOWS_BALANCE]);
    const [ax, ay] = await f.engine.lookupAccounts([x, y]);
    expect([ax.debitsPosted, ax.debitsPending, ay.creditsPosted, ay.creditsPending]).toEqual([amountMinorMax, amountMinorMax, amountMinorMax, amountMinorMax]);
    const audit = await f.engine.audit();
    expect(audit.violations.filter((v) => !v.includes("past their expires_at"))).toEqual([]);
  });
});
