/**
 * Test support for the ledger: a fresh, migrated database per test file and a controllable
 * clock. (A generic unique-database helper will move to test/support/.)
 */
import { randomBytes } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  applyMigrations,
  createPool,
  dropDatabase,
  ensureDatabase,
  withDatabase,
  type Pool,
} from "../../services/shared/db.ts";
import {
  AccountSchema,
  TransferSchema,
  type Account,
  type AccountFlags,
  type Transfer,
  type TransferFlags,
} from "../../gen/payments/ledger/v1/ledger_pb.js";
import { createLedgerEngine, type LedgerEngine } from "../../services/ledger/store/engine.ts";
import { TransferState, type StoredTransfer } from "../../services/ledger/domain/model.ts";

export const postgresBaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const ledgerMigrationsFolder = `${import.meta.dirname}/../../services/ledger/store/migrations`;

/** A manual clock in µs since epoch. */
export interface ManualClock {
  now(): bigint;
  set(timeUs: bigint): void;
  advanceSeconds(seconds: number): void;
}

export function manualClock(startUs = 1_700_000_000_000_000n): ManualClock {
  let time = startUs;
  return {
    now: () => time,
    set: (timeUs) => {
      time = timeUs;
    },
    advanceSeconds: (seconds) => {
      time += BigInt(seconds) * 1_000_000n;
    },
  };
}

/** A fresh database `ledger_test_<random>` with the ledger migrations applied. */
export async function createLedgerTestDatabase(
  options: { poolMax?: number } = {},
): Promise<{ url: string; pool: Pool; drop: () => Promise<void> }> {
  const url = withDatabase(postgresBaseUrl, `ledger_test_${randomBytes(5).toString("hex")}`);
  await ensureDatabase(url);
  const pool = createPool(url, { max: options.poolMax ?? 20, applicationName: "test-ledger" });
  await applyMigrations(pool, "ledger", ledgerMigrationsFolder);
  return {
    url,
    pool,
    async drop() {
      pool.on("error", () => {}); // idle clients terminated by the forced drop
      await pool.end();
      await dropDatabase(url);
    },
  };
}

/** Engine + manual clock over a fresh database. */
export async function createLedgerFixture(options: { poolMax?: number } = {}): Promise<{
  pool: Pool;
  engine: LedgerEngine;
  clock: ManualClock;
  drop: () => Promise<void>;
}> {
  const database = await createLedgerTestDatabase(options);
  const clock = manualClock();
  const engine = createLedgerEngine(database.pool, { clock: clock.now });
  return { pool: database.pool, engine, clock, drop: database.drop };
}

/** An Account message with defaults (ledger 840, code 1). */
export type AccountInit = Partial<Omit<Account, "$typeName" | "$unknown" | "flags" | "createTime">> & {
  flags?: Partial<Omit<AccountFlags, "$typeName" | "$unknown">>;
};
/** Plain-object init of a Transfer (flags as plain booleans). */
export type TransferInit = Partial<Omit<Transfer, "$typeName" | "$unknown" | "flags" | "createTime">> & {
  id: string;
  flags?: Partial<Omit<TransferFlags, "$typeName" | "$unknown">>;
};

export function account(id: string, init: AccountInit = {}): Account {
  return create(AccountSchema, { id, ledger: 840, code: 1, ...init } as MessageInitShape<typeof AccountSchema>);
}

/** A Transfer message with defaults (ledger 840, code 1). */
export function transfer(init: TransferInit): Transfer {
  return create(TransferSchema, { ledger: 840, code: 1, ...init } as MessageInitShape<typeof TransferSchema>);
}

let counter = 0;
/** A unique id with a prefix. */
export function uid(prefix: string): string {
  counter++;
  return `${prefix}-${counter}-${randomBytes(3).toString("hex")}`;
}

/** A stored (posted) transfer a:1 -> a:2 of 1 with defaults, for SQL and feed tests. */
export function storedTransfer(id: string, init: Partial<StoredTransfer> = {}): StoredTransfer {
  return {
    id,
    debitAccountId: "a:1",
    creditAccountId: "a:2",
    amount: 1n,
    requestedAmount: 1n,
    pendingId: "",
    ledger: 840,
    code: 1,
    flags: { linked: false, pending: false, postPendingTransfer: false, voidPendingTransfer: false },
    defaultedFields: 0,
    timeoutSeconds: 0,
    userData: "",
    createTimeUs: 1_700_000_000_000_001n,
    expiresAtUs: null,
    resolveTimeUs: null,
    state: TransferState.POSTED,
    ...init,
  };
}
