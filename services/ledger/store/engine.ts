/**
 * The ledger's batch executor on PostgreSQL.
 *
 * One database transaction per batch (READ COMMITTED), in TWO round trips whatever the batch
 * size (batch-sql.ts builds their text):
 *  round trip 1 (BEGIN, SET LOCAL random_page_cost, then up to four statements):
 *  1. lock the holds named by pending_id (`FOR UPDATE`, ordered by id),
 *  2. lock every involved account, the holds' accounts included (`FOR UPDATE`, ordered by id:
 *     all transactions take account locks in one statement in the same order, after their hold
 *     locks, so they cannot deadlock),
 *  3. read the batch's ids from transfers, created transfers and failed ids alike (FAILED_ID
 *     rows: failed ids share the transfers primary key; a primary-key lookup, a later statement
 *     than the locks, so a concurrent identical request that committed first is seen and
 *     answered EXISTS);
 *  in memory:
 *  4. run the pure state machine (../domain);
 *  round trip 2 (statements, then COMMIT):
 *  5. write with a constant number of statements (unnest arrays), balances as absolute values
 *     computed in memory (the rows are locked); the updates assert their row counts in SQL;
 *  6. the caller's onCommit hook inside the same transaction (the outbox of the change feed):
 *     as SQL appended to this round trip when the hook offers `sqlOf`, else as a call with the
 *     client before a separate COMMIT.
 * Why so few round trips: on the 2-core benchmark machine a round trip to PostgreSQL cost more
 * CPU (socket writes and wake-ups on both sides) than the statements themselves; with one
 * round trip per statement they were a third of the ledger's CPU (docs/ledger.md, Performance).
 * Serialization failures, deadlocks and unique violations from a concurrent same-id insert
 * (40001, 40P01, 23505) are retried a bounded number of times.
 */
import type { Pool, PoolClient } from "../../shared/db.ts";
import { evaluateAccounts, type CreateAccountResult } from "../domain/create-accounts.ts";
import { evaluateTransfers, releaseHold, type CreateTransferResult } from "../domain/create-transfers.ts";
import {
  batchAccountsMax,
  batchTransfersMax,
  TransferState,
  type AccountRequest,
  type AccountState,
  type BalanceSnapshot,
  type StoredTransfer,
  type TransferRequest,
} from "../domain/model.ts";
import { runAudit, type AuditReport } from "./audit.ts";
import { readStatements, writeStatements, type BatchEffects } from "./batch-sql.ts";
import {
  accountColumns,
  accountOfRow,
  failedIdState,
  isoOfMicros,
  microsOf,
  snapshotOfRow,
  transferColumns,
  transferOfRow,
  wallClockMicros,
} from "./rows.ts";

/** What one committed CreateTransfers (or expiry) transaction changed; given to onCommit. */
export interface CommittedTransfers {
  /** Batch time, µs since epoch. */
  timeUs: bigint;
  /** Transfers created, in batch order (final states). */
  transfers: StoredTransfer[];
  /** Pre-existing holds that left PENDING (posted, voided, expired). */
  resolvedHolds: StoredTransfer[];
  /** Touched accounts with balances after the commit. */
  accounts: AccountState[];
}

/** What one committed CreateAccounts transaction created; given to onCommit. */
export interface CommittedAccounts {
  timeUs: bigint;
  accounts: AccountState[];
}

/**
 * Runs inside the batch's transaction before COMMIT (e.g. to insert an outbox row). A hook may
 * also offer `sqlOf`: the same effect as ';'-terminated SQL statements, which the engine then
 * appends to the batch's write round trip instead of calling the function (one round trip less).
 */
export type OnCommit<T> = ((client: PoolClient, committed: T) => Promise<void>) & {
  readonly sqlOf?: (committed: T) => string;
};

export interface LedgerEngineOptions {
  /** µs since epoch; default wall clock. Tests inject a controllable clock. */
  clock?: () => bigint;
  /** Attempts per transaction on 40001/40P01/23505; default 8. */
  attemptsMax?: number;
  /**
   * How long past its expires_at a PENDING hold may stay before the audit calls it a violation
   * (µs; default 0: any overdue hold). The service sets it from its expiry interval.
   */
  auditOverdueGraceUs?: bigint;
}

export interface ListAccountTransfersFilter {
  accountId: string;
  /** Inclusive lower bound, µs since epoch. */
  startTimeUs?: bigint;
  /** Exclusive upper bound, µs since epoch. */
  endTimeUs?: bigint;
  /** 0 or undefined = any code. */
  code?: number;
  direction?: "any" | "debits" | "credits";
  /** 1..1000; 0 or undefined = 100. */
  pageSize?: number;
  /** Opaque cursor from a previous page. */
  pageToken?: string;
}

/** Bad caller input that is not a per-item result (page token, page size): map to INVALID_ARGUMENT. */
export class LedgerInputError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

export const pageSizeDefault = 100;
export const pageSizeMax = 1000;
export const historyLimitDefault = 100;
export const historyLimitMax = 1000;
export const expiryBatchMax = 8190;

const retryableCodes = new Set(["40001", "40P01", "23505"]);

/** The ledger engine over one pool. See the module comment for the transaction shape. */
export interface LedgerEngine {
  /** Creates accounts; one result per input (CreateAccountResult). Throws RangeError above 8190. */
  createAccounts(
    batch: readonly AccountRequest[],
    options?: { onCommit?: OnCommit<CommittedAccounts>; segmentLengths?: readonly number[] },
  ): Promise<CreateAccountResult[]>;
  /**
   * Creates transfers in one atomic evaluation; one result per input (CreateTransferResult).
   * `segmentLengths` cuts the batch into independent linked-chain segments (group commit).
   * Throws RangeError above 8190 transfers; database errors after the retries are thrown.
   */
  createTransfers(
    batch: readonly TransferRequest[],
    options?: { onCommit?: OnCommit<CommittedTransfers>; segmentLengths?: readonly number[] },
  ): Promise<CreateTransferResult[]>;
  /** Accounts found, in request order (unknown ids left out). */
  lookupAccounts(ids: readonly string[]): Promise<AccountState[]>;
  /** Transfers found, in request order (unknown ids left out). */
  lookupTransfers(ids: readonly string[]): Promise<StoredTransfer[]>;
  /** One page of an account's transfers, oldest first, cursor on (create_time, id). */
  listAccountTransfers(filter: ListAccountTransfersFilter): Promise<{ transfers: StoredTransfer[]; nextPageToken: string }>;
  /**
   * Balances as of `asOfUs` (default now) recomputed from transfers (works without the history
   * flag), and up to `historyLimit` history snapshots at or before it, newest first.
   * Returns undefined for an unknown account.
   */
  getAccountBalances(
    accountId: string,
    asOfUs?: bigint,
    historyLimit?: number,
  ): Promise<{ asOf: BalanceSnapshot; history: BalanceSnapshot[] } | undefined>;
  /**
   * Releases up to `limit` holds whose expires_at <= nowUs (state PENDING_EXPIRED, pending
   * amounts returned). Safe with several replicas (FOR UPDATE SKIP LOCKED). Returns the ids.
   */
  expirePendingTransfers(
    nowUs?: bigint,
    limit?: number,
    options?: { onCommit?: OnCommit<CommittedTransfers> },
  ): Promise<string[]>;
  /** Runs every invariant as SQL on one snapshot; `ledger` 0/undefined = all. */
  audit(ledger?: number): Promise<AuditReport>;
  /** The engine's clock (µs since epoch). */
  now(): bigint;
}

/** Creates the engine. The pool must point at a database migrated with the ledger migrations. */
export function createLedgerEngine(pool: Pool, options: LedgerEngineOptions = {}): LedgerEngine {
  const clock = options.clock ?? wallClockMicros;
  const attemptsMax = options.attemptsMax ?? 8;
  let lastTimeUs = 0n;

  /** A batch time base after every time already handed out by this process (unique create times). */
  const reserveTimes = (count: number): bigint => {
    const now = clock();
    const base = now > lastTimeUs ? now : lastTimeUs + 1n;
    lastTimeUs = base + BigInt(Math.max(count, 1));
    return base;
  };

  /** The clock, never before a time this engine already handed out. */
  const currentUs = (): bigint => {
    const now = clock();
    return now > lastTimeUs ? now : lastTimeUs;
  };

  /**
   * Runs `fn` (which sends its own BEGIN and COMMIT) with bounded retries of 40001/40P01/23505;
   * on any error the transaction is rolled back before the error is retried or thrown.
   */
  const inRetriedAttempts = async <T>(fn: (client: PoolClient) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      try {
        return await fn(client);
      } catch (error) {
        await client.query("rollback").catch(() => {});
        const code = (error as { code?: string }).code;
        if (code === undefined || !retryableCodes.has(code) || attempt >= attemptsMax) throw error;
      } finally {
        client.release();
      }
      const backoffMs = Math.min(50, 2 ** attempt) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
    }
  };

  /** BEGIN, `fn`, COMMIT, with the retries of inRetriedAttempts. */
  const inRetriedTransaction = <T>(fn: (client: PoolClient) => Promise<T>): Promise<T> =>
    inRetriedAttempts(async (client) => {
      await client.query("begin");
      const result = await fn(client);
      await client.query("commit");
      return result;
    });

  const lockAccounts = async (client: PoolClient, ids: Iterable<string>): Promise<Map<string, AccountState>> => {
    const sorted = [...new Set(ids)].sort();
    const accounts = new Map<string, AccountState>();
    if (sorted.length === 0) return accounts;
    const { rows } = await client.query(
      `select ${accountColumns} from ledger.accounts where id = any($1::text[]) order by id for update`,
      [sorted],
    );
    for (const row of rows) accounts.set(row.id, accountOfRow(row));
    return accounts;
  };

  /** Runs the write statements of `effects`, then the hook (as SQL when it offers sqlOf), then COMMIT. */
  const writeAndCommit = async <T>(
    client: PoolClient,
    effects: BatchEffects,
    hook: { onCommit: OnCommit<T>; committed: T } | undefined,
  ): Promise<void> => {
    let sql = writeStatements(effects);
    if (hook?.onCommit.sqlOf) sql += hook.onCommit.sqlOf(hook.committed);
    else if (hook) {
      if (sql !== "") await client.query(sql);
      sql = "";
      await hook.onCommit(client, hook.committed);
    }
    await client.query(`${sql}commit`);
  };

  return {
    now: currentUs,

    async createAccounts(batch, callOptions = {}) {
      if (batch.length > batchAccountsMax) throw new RangeError(`batch of ${batch.length} accounts exceeds ${batchAccountsMax}`);
      if (batch.length === 0) return [];
      return inRetriedTransaction(async (client) => {
        const ids = [...new Set(batch.map((a) => a.id))].sort();
        const { rows } = await client.query(
          `select ${accountColumns} from ledger.accounts where id = any($1::text[])`,
          [ids],
        );
        const existing = new Map<string, AccountState>();
        for (const row of rows) existing.set(row.id, accountOfRow(row));
        const timeUs = reserveTimes(batch.length);
        const outcome = evaluateAccounts(batch, existing, {
          createTimeBaseUs: timeUs,
          segmentLengths: callOptions.segmentLengths,
        });
        if (outcome.created.length > 0) {
          const created = [...outcome.created].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          await client.query(
            `insert into ledger.accounts (id, ledger, code, flag_debits_must_not_exceed_credits,
               flag_credits_must_not_exceed_debits, flag_history, flag_closed, user_data, create_time)
             select * from unnest($1::text[], $2::int8[], $3::int8[], $4::bool[], $5::bool[], $6::bool[], $7::bool[],
               $8::text[], $9::timestamptz[])`,
            [
              created.map((a) => a.id),
              created.map((a) => a.ledger),
              created.map((a) => a.code),
              created.map((a) => a.flags.debitsMustNotExceedCredits),
              created.map((a) => a.flags.creditsMustNotExceedDebits),
              created.map((a) => a.flags.history),
              created.map((a) => a.flags.closed),
              created.map((a) => a.userData),
              created.map((a) => isoOfMicros(a.createTimeUs)),
            ],
          );
        }
        if (callOptions.onCommit) await callOptions.onCommit(client, { timeUs, accounts: outcome.created });
        return outcome.results;
      });
    },

    async createTransfers(batch, callOptions = {}) {
      if (batch.length > batchTransfersMax) {
        throw new RangeError(`batch of ${batch.length} transfers exceeds ${batchTransfersMax}`);
      }
      if (batch.length === 0) return [];
      return inRetriedAttempts(async (client) => {
        // Round trip 1: BEGIN, lock holds, lock accounts, read existing ids.
        const accountIds: string[] = [];
        for (const t of batch) accountIds.push(t.debitAccountId, t.creditAccountId);
        const plan = readStatements(
          batch.map((t) => t.id),
          accountIds,
          batch.map((t) => t.pendingId),
        );
        const read = await client.query(plan.sql);
        const results = (Array.isArray(read) ? read : [read]) as { rows: Record<string, unknown>[] }[];
        const transfers = new Map<string, StoredTransfer>();
        if (plan.holdsAt >= 0) for (const row of results[plan.holdsAt].rows) transfers.set(row.id as string, transferOfRow(row));
        const accounts = new Map<string, AccountState>();
        if (plan.accountsAt >= 0) for (const row of results[plan.accountsAt].rows) accounts.set(row.id as string, accountOfRow(row));
        const failedIds = new Set<string>();
        if (plan.existingAt >= 0) {
          for (const row of results[plan.existingAt].rows) {
            if (Number(row.state) === failedIdState) failedIds.add(row.id as string);
            else if (!transfers.has(row.id as string)) transfers.set(row.id as string, transferOfRow(row));
          }
        }
        // Evaluate.
        const timeUs = reserveTimes(batch.length);
        const outcome = evaluateTransfers(
          batch,
          { accounts, transfers, failedIds },
          { nowUs: timeUs, createTimeBaseUs: timeUs, segmentLengths: callOptions.segmentLengths },
        );
        // Round trip 2: write, change feed, COMMIT.
        const changed = outcome.created.length > 0 || outcome.resolvedHolds.length > 0;
        await writeAndCommit(
          client,
          {
            created: outcome.created,
            resolvedHolds: outcome.resolvedHolds,
            accounts: outcome.accounts,
            failed: outcome.failed,
            history: outcome.history,
            timeUs,
          },
          callOptions.onCommit && changed
            ? {
                onCommit: callOptions.onCommit,
                committed: { timeUs, transfers: outcome.created, resolvedHolds: outcome.resolvedHolds, accounts: outcome.accounts },
              }
            : undefined,
        );
        return outcome.results;
      });
    },

    async lookupAccounts(ids) {
      if (ids.length === 0) return [];
      const { rows } = await pool.query(`select ${accountColumns} from ledger.accounts where id = any($1::text[])`, [
        [...ids],
      ]);
      const found = new Map<string, AccountState>();
      for (const row of rows) found.set(row.id, accountOfRow(row));
      return ids.flatMap((id) => (found.has(id) ? [found.get(id) as AccountState] : []));
    },

    async lookupTransfers(ids) {
      if (ids.length === 0) return [];
      const { rows } = await pool.query(
        `select ${transferColumns} from ledger.transfers where id = any($1::text[]) and state <> ${failedIdState}`,
        [[...ids]],
      );
      const found = new Map<string, StoredTransfer>();
      for (const row of rows) found.set(row.id, transferOfRow(row));
      return ids.flatMap((id) => (found.has(id) ? [found.get(id) as StoredTransfer] : []));
    },

    async listAccountTransfers(filter) {
      const pageSize = filter.pageSize === undefined || filter.pageSize === 0 ? pageSizeDefault : filter.pageSize;
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > pageSizeMax) {
        throw new LedgerInputError("page_size", `must be 0..${pageSizeMax}`);
      }
      const { sql, params } = accountTransfersQuery(filter, pageSize);
      const { rows } = await pool.query(sql, params);
      const page = rows.slice(0, pageSize).map(transferOfRow);
      const last = page.at(-1);
      const nextPageToken = rows.length > pageSize && last ? encodePageToken(last.createTimeUs, last.id) : "";
      return { transfers: page, nextPageToken };
    },

    async getAccountBalances(accountId, asOfUs, historyLimit) {
      const limit = historyLimit === undefined || historyLimit === 0 ? historyLimitDefault : historyLimit;
      if (!Number.isInteger(limit) || limit < 0 || limit > historyLimitMax) {
        throw new LedgerInputError("history_limit", `must be 0..${historyLimitMax}`);
      }
      const at = asOfUs ?? currentUs();
      const atIso = isoOfMicros(at);
      const found = await pool.query("select 1 from ledger.accounts where id = $1", [accountId]);
      if (found.rowCount === 0) return undefined;
      // A hold contributes to *_pending during [create_time, resolve_time); a POSTED transfer
      // (plain or post record) contributes to *_posted from its create_time.
      const { rows } = await pool.query(balanceAsOfSql, [accountId, atIso]);
      const history =
        limit === 0
          ? []
          : (
              await pool.query(
                `select account_id, transfer_id, ${microsOf("create_time")} as create_time_us, debits_pending,
                   debits_posted, credits_pending, credits_posted
                 from ledger.account_balances where account_id = $1 and create_time <= $2::timestamptz
                 order by seq desc limit $3`,
                [accountId, atIso, limit],
              )
            ).rows.map(snapshotOfRow);
      const row = rows[0];
      return {
        asOf: {
          accountId,
          transferId: "",
          timeUs: at,
          debitsPending: row.debits_pending as bigint,
          debitsPosted: row.debits_posted as bigint,
          creditsPending: row.credits_pending as bigint,
          creditsPosted: row.credits_posted as bigint,
        },
        history,
      };
    },

    async expirePendingTransfers(nowUs, limit = expiryBatchMax, callOptions = {}) {
      if (!Number.isInteger(limit) || limit < 1 || limit > expiryBatchMax) {
        throw new RangeError(`expiry limit must be 1..${expiryBatchMax}`);
      }
      return inRetriedAttempts(async (client) => {
        const timeUs = nowUs ?? currentUs();
        await client.query("begin");
        const { rows } = await client.query(
          `select ${transferColumns} from ledger.transfers
           where state = ${TransferState.PENDING} and expires_at is not null and expires_at <= $1::timestamptz
           order by expires_at limit $2 for update skip locked`,
          [isoOfMicros(timeUs), limit],
        );
        if (rows.length === 0) {
          await client.query("commit");
          return [];
        }
        const holds = rows.map(transferOfRow);
        const accounts = await lockAccounts(
          client,
          holds.flatMap((h) => [h.debitAccountId, h.creditAccountId]),
        );
        const original = new Map([...accounts].map(([id, a]) => [id, { ...a }]));
        const history: BalanceSnapshot[] = [];
        for (const hold of holds) {
          const debit = accounts.get(hold.debitAccountId);
          const credit = accounts.get(hold.creditAccountId);
          if (!debit || !credit) throw new Error(`ledger bug: accounts of hold ${hold.id} not found`);
          releaseHold(hold, debit, credit, TransferState.PENDING_EXPIRED, timeUs);
          for (const account of [debit, credit]) {
            if (account.flags.history) {
              history.push({
                accountId: account.id,
                transferId: hold.id,
                timeUs,
                debitsPending: account.debitsPending,
                debitsPosted: account.debitsPosted,
                creditsPending: account.creditsPending,
                creditsPosted: account.creditsPosted,
              });
            }
          }
        }
        const changed = [...accounts.values()].filter((a) => {
          const before = original.get(a.id) as AccountState;
          return a.debitsPending !== before.debitsPending || a.creditsPending !== before.creditsPending;
        });
        await writeAndCommit(
          client,
          { created: [], resolvedHolds: holds, accounts: changed, failed: [], history, timeUs },
          callOptions.onCommit
            ? { onCommit: callOptions.onCommit, committed: { timeUs, transfers: [], resolvedHolds: holds, accounts: changed } }
            : undefined,
        );
        return holds.map((h) => h.id);
      });
    },

    audit(ledger) {
      return runAudit(pool, ledger ?? 0, currentUs(), options.auditOverdueGraceUs ?? 0n);
    },
  };
}

/**
 * The SELECT of ListAccountTransfers: `filter.accountId`'s transfers ($1) by (create_time, id),
 * one page of `pageSize` plus one row (to tell whether a next page exists). Each side (debits,
 * credits) is an index range scan of transfers_debit_account_create_time /
 * transfers_credit_account_create_time: both are partial indexes `where state <> 7`, so every
 * side says `state <> 7` (test/ledger/batch-plans.test.ts EXPLAINs it). Times are µs since the
 * Unix epoch. Throws LedgerInputError("page_token") for a token no earlier page produced; the
 * caller checks `pageSize` (1..pageSizeMax).
 */
export function accountTransfersQuery(filter: ListAccountTransfersFilter, pageSize: number): { sql: string; params: unknown[] } {
  const cursor = filter.pageToken ? decodePageToken(filter.pageToken) : undefined;
  const params: unknown[] = [filter.accountId];
  const conditions: string[] = [`state <> ${failedIdState}`];
  if (filter.startTimeUs !== undefined) {
    params.push(isoOfMicros(filter.startTimeUs));
    conditions.push(`create_time >= $${params.length}::timestamptz`);
  }
  if (filter.endTimeUs !== undefined) {
    params.push(isoOfMicros(filter.endTimeUs));
    conditions.push(`create_time < $${params.length}::timestamptz`);
  }
  if (filter.code !== undefined && filter.code !== 0) {
    params.push(filter.code);
    conditions.push(`code = $${params.length}`);
  }
  if (cursor) {
    params.push(isoOfMicros(cursor.timeUs), cursor.id);
    conditions.push(`(create_time, id) > ($${params.length - 1}::timestamptz, $${params.length}::text)`);
  }
  params.push(pageSize + 1);
  const limit = `$${params.length}`;
  const where = conditions.map((c) => ` and ${c}`).join("");
  const side = (column: string) =>
    `(select ${transferColumns} from ledger.transfers where ${column} = $1${where} order by create_time, id limit ${limit})`;
  const direction = filter.direction ?? "any";
  const sql =
    direction === "debits"
      ? side("debit_account_id")
      : direction === "credits"
        ? side("credit_account_id")
        : `select * from (${side("debit_account_id")} union all ${side("credit_account_id")}) s
           order by create_time_us, id limit ${limit}`;
  return { sql, params };
}

/**
 * Balances of account $1 as of time $2 (timestamptz), from its transfers: a hold counts toward
 * *_pending during [create_time, resolve_time), a POSTED transfer toward *_posted from its
 * create_time. Both sides carry `state <> 7` so they can use the partial account indexes.
 */
export const balanceAsOfSql = `select
     coalesce(sum(amount) filter (where debit_account_id = $1 and flag_pending
       and (resolve_time is null or resolve_time > $2::timestamptz)), 0)::int8 as debits_pending,
     coalesce(sum(amount) filter (where debit_account_id = $1 and state = ${TransferState.POSTED}), 0)::int8 as debits_posted,
     coalesce(sum(amount) filter (where credit_account_id = $1 and flag_pending
       and (resolve_time is null or resolve_time > $2::timestamptz)), 0)::int8 as credits_pending,
     coalesce(sum(amount) filter (where credit_account_id = $1 and state = ${TransferState.POSTED}), 0)::int8 as credits_posted
   from (
     select amount, flag_pending, resolve_time, state, debit_account_id, credit_account_id
       from ledger.transfers where debit_account_id = $1 and create_time <= $2::timestamptz and state <> ${failedIdState}
     union all
     select amount, flag_pending, resolve_time, state, debit_account_id, credit_account_id
       from ledger.transfers where credit_account_id = $1 and create_time <= $2::timestamptz and state <> ${failedIdState}
   ) s`;

/** Opaque page token: base64url of "<create_time µs>:<id>". */
export function encodePageToken(timeUs: bigint, id: string): string {
  return Buffer.from(`${timeUs}:${id}`, "utf8").toString("base64url");
}

/** Decodes a page token; throws LedgerInputError("page_token") when it is not one of ours. */
export function decodePageToken(token: string): { timeUs: bigint; id: string } {
  const text = Buffer.from(token, "base64url").toString("utf8");
  const match = /^(-?\d{1,20}):([A-Za-z0-9_.:-]{1,64})$/.exec(text);
  if (!match) throw new LedgerInputError("page_token", "not a token from a previous page");
  return { timeUs: BigInt(match[1]), id: match[2] };
}
