/**
 * The change feed's direct protobuf encoder and the engine's SQL literals.
 * - encodeTransfersCommitted decodes to exactly what protobuf-es would build from the same
 *   transfers (accounts: id, ledger, code and balances only), edge values included;
 * - sql-text literals round-trip through the real PostgreSQL unchanged, whatever the text
 *   holds (quotes, backslashes, braces, commas, the word NULL, empty strings, unicode).
 */
import { create, equals, fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountSchema } from "../../gen/payments/ledger/v1/ledger_pb.js";
import { TransfersCommittedSchema } from "../../gen/payments/ledger/v1/ledger_events_pb.js";
import { encodeTransfersCommitted, feedTransfersPerEventMax } from "../../services/ledger/change-feed.ts";
import { TransferState, amountMinorMax, type AccountState } from "../../services/ledger/domain/model.ts";
import { timestampOfMicros, transferMessage } from "../../services/ledger/store/proto.ts";
import { byteaLiteral, integerArray, literal, textArray } from "../../services/ledger/store/sql-text.ts";
import { createTestDatabase } from "../support/env.ts";
import { storedTransfer } from "./support.ts";

function accountState(id: string, init: Partial<AccountState> = {}): AccountState {
  return {
    id,
    ledger: 840,
    code: 7,
    flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false, history: true, closed: false },
    userData: "not in the feed",
    debitsPending: 0n,
    debitsPosted: 5n,
    creditsPending: 3n,
    creditsPosted: 0n,
    createTimeUs: 1_600_000_000_000_000n,
    ...init,
  };
}

describe("encodeTransfersCommitted", () => {
  it("decodes to the message protobuf-es would build (edge values, every field)", () => {
    const transfers = [
      storedTransfer("t:plain"),
      storedTransfer("t:max", { amount: amountMinorMax, requestedAmount: amountMinorMax, userData: "ünïcode ✓ 'q' \"d\"" }),
      storedTransfer("t:zero", { amount: 0n, code: 65535, ledger: 4294967295, createTimeUs: -1n }),
      storedTransfer("t:hold", { flags: { linked: true, pending: true, postPendingTransfer: false, voidPendingTransfer: false }, timeoutSeconds: 4294967295, state: TransferState.PENDING }),
      storedTransfer("t:post", { pendingId: "t:hold", flags: { linked: false, pending: false, postPendingTransfer: true, voidPendingTransfer: false } }),
      storedTransfer("t:void", { pendingId: "t:hold", flags: { linked: false, pending: false, postPendingTransfer: false, voidPendingTransfer: true }, state: TransferState.VOIDING, createTimeUs: 0n }),
    ];
    const accounts = [accountState("a:1"), accountState("a:2", { debitsPosted: amountMinorMax, creditsPending: 0n, creditsPosted: 1n, debitsPending: 2n })];
    const [event, ...more] = encodeTransfersCommitted({ timeUs: 1_700_000_000_123_456n, transfers: transfers.slice(0, 5), resolvedHolds: transfers.slice(5), accounts });
    expect(more).toEqual([]);
    const decoded = fromBinary(TransfersCommittedSchema, event.payload);
    const expected = create(TransfersCommittedSchema, {
      eventId: event.eventId,
      occurTime: timestampOfMicros(1_700_000_000_123_456n),
      transfers: transfers.map(transferMessage),
      accounts: accounts.map((a) =>
        create(AccountSchema, { id: a.id, ledger: a.ledger, code: a.code, debitsPending: a.debitsPending, debitsPosted: a.debitsPosted, creditsPending: a.creditsPending, creditsPosted: a.creditsPosted }),
      ),
    });
    expect(equals(TransfersCommittedSchema, decoded, expected)).toBe(true);
    expect(decoded.eventId).toMatch(/^led_/);
  });

  it("chunks at feedTransfersPerEventMax, each event with the accounts its transfers touch", () => {
    const transfers = Array.from({ length: feedTransfersPerEventMax + 1 }, (_, i) =>
      storedTransfer(`t:${i}`, i === feedTransfersPerEventMax ? { debitAccountId: "a:3", creditAccountId: "a:4" } : {}),
    );
    const accounts = ["a:1", "a:2", "a:3", "a:4"].map((id) => accountState(id));
    const events = encodeTransfersCommitted({ timeUs: 1n, transfers, resolvedHolds: [], accounts });
    expect(events).toHaveLength(2);
    const [first, second] = events.map((e) => fromBinary(TransfersCommittedSchema, e.payload));
    expect(first.transfers).toHaveLength(feedTransfersPerEventMax);
    expect(first.accounts.map((a) => a.id)).toEqual(["a:1", "a:2"]);
    expect(second.transfers.map((t) => t.id)).toEqual([`t:${feedTransfersPerEventMax}`]);
    expect(second.accounts.map((a) => a.id)).toEqual(["a:3", "a:4"]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(2);
  });
});

describe("sql-text literals against PostgreSQL", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase("ledger_sqltext");
  });
  afterAll(async () => {
    await database.drop();
  });

  const nasty = ["plain", "", "NULL", "null", "a,b", "{x}", 'quote"d', "it's", "back\\slash", "\\\\", "'; drop table x; --", " spaced ", "ünïcode ✓", "E'x'", "$$", "\\x00"];

  it("round-trips text, text arrays (with NULL elements), integers and bytea", async () => {
    for (const value of nasty) {
      const { rows } = await database.pool.query(`select ${literal(value)} as v`);
      expect(rows[0].v).toBe(value);
    }
    const withNull = [...nasty, null];
    const arrays = await database.pool.query(`select ${textArray(withNull)} as v, array_length(${textArray(withNull)}, 1) as n`);
    expect(arrays.rows[0].v).toEqual(withNull);
    const ints = await database.pool.query(`select ${integerArray([0n, -1n, amountMinorMax, -amountMinorMax - 1n, null, 7], "int8")} as v`);
    expect(ints.rows[0].v).toEqual(["0", "-1", amountMinorMax.toString(), (-amountMinorMax - 1n).toString(), null, "7"]);
    const bytes = new Uint8Array([0, 1, 92, 39, 255]);
    const bytea = await database.pool.query(`select ${byteaLiteral(bytes)} as v`);
    expect(new Uint8Array(bytea.rows[0].v as Buffer)).toEqual(bytes);
  });

  it("behaves the same with standard_conforming_strings off", async () => {
    const client = await database.pool.connect();
    try {
      await client.query("set standard_conforming_strings = off");
      for (const value of nasty) expect((await client.query(`select ${literal(value)} as v`)).rows[0].v).toBe(value);
      expect((await client.query(`select ${textArray(nasty)} as v`)).rows[0].v).toEqual(nasty);
      const bytes = new Uint8Array([92, 120, 39]);
      expect(new Uint8Array((await client.query(`select ${byteaLiteral(bytes)} as v`)).rows[0].v as Buffer)).toEqual(bytes);
    } finally {
      await client.query("reset standard_conforming_strings");
      client.release();
    }
  });

  it("refuses a NUL character (PostgreSQL text cannot hold it)", () => {
    expect(() => literal("a\0b")).toThrow(/NUL/);
    expect(() => textArray(["a\0b"])).toThrow(/NUL/);
  });
});
