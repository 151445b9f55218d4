/**
 * The SQL text of a batch transaction's two round trips (see engine.ts):
 * - readStatements: lock the referenced holds, lock every involved account (both FOR UPDATE,
 *   ordered by id), then read the batch's ids from transfers (created ones and failed ones);
 * - writeStatements: insert the created transfers, resolve the holds, set the account balances,
 *   remember failed ids (FAILED_ID rows in transfers), add history rows; the two updates check
 *   their row counts in the same round trip (ledger.assert_rows raises, which aborts the
 *   transaction before its COMMIT).
 * Each is one string of ';'-terminated statements for one simple-protocol query. Values are
 * literals from sql-text.ts (fully escaped); each row set is one `unnest` of arrays, so the
 * statement count is constant whatever the batch size. A column whose value is the same in
 * every row (most flags, empty pending ids, NULL times) is sent once as a constant.
 */
import { clientIdPattern, TransferState, type AccountState, type BalanceSnapshot, type StoredTransfer } from "../domain/model.ts";
import { accountColumns, failedIdState, isoOfMicros, transferColumns } from "./rows.ts";
import { boolArray, integer, integerArray, literal, textArray } from "./sql-text.ts";

type ColumnType = "text" | "int2" | "int8" | "bool" | "timestamptz";
type ColumnValue = string | bigint | number | boolean | null;

function constantOf(type: ColumnType, value: ColumnValue): string {
  if (value === null) return `NULL::${type}`;
  switch (type) {
    case "text":
      return literal(value as string);
    case "timestamptz":
      return `${literal(value as string)}::timestamptz`;
    case "bool":
      return value ? "true" : "false";
    default:
      return `${integer(value as bigint | number)}::${type}`;
  }
}

function arrayOf(type: ColumnType, values: readonly ColumnValue[]): string {
  switch (type) {
    case "text":
      return textArray(values as (string | null)[]);
    case "timestamptz":
      return `${textArray(values as (string | null)[])}::timestamptz[]`;
    case "bool":
      return boolArray(values as boolean[]);
    default:
      return integerArray(values as (bigint | number | null)[], type);
  }
}

/** Row-set builder: each column becomes a constant or an `unnest` argument. */
function rowSet(rowCount: number) {
  const arrays: string[] = [];
  const names: string[] = [];
  return {
    /** Adds a column; returns the SQL expression to select it. */
    column(name: string, type: ColumnType, values: readonly ColumnValue[]): string {
      if (values.length !== rowCount) throw new Error(`ledger bug: column ${name} has ${values.length} of ${rowCount} values`);
      const first = values[0];
      if (values.every((value) => value === first)) return constantOf(type, first);
      arrays.push(arrayOf(type, values));
      names.push(name);
      return `u.${name}`;
    },
    /** The FROM clause (empty for a single row made only of constants). */
    from(): string {
      if (arrays.length === 0) {
        if (rowCount !== 1) throw new Error(`ledger bug: ${rowCount} identical rows`);
        return "";
      }
      return ` from unnest(${arrays.join(", ")}) as u(${names.join(", ")})`;
    },
  };
}

const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Ids worth looking up: only well-formed ids can exist (others are ID_INVALID / NOT_FOUND). */
function lookupIds(ids: Iterable<string>): string[] {
  const unique = new Set<string>();
  for (const id of ids) if (id !== "" && clientIdPattern.test(id)) unique.add(id);
  return [...unique].sort();
}

/** What the read round trip returns, by statement. */
export interface ReadPlan {
  sql: string;
  /** Index of each statement's result in the query's result array (-1 = not sent). */
  holdsAt: number;
  accountsAt: number;
  /** Created transfers and failed ids (rows with state failedIdState) among the batch's ids. */
  existingAt: number;
}

/**
 * BEGIN, then: lock the holds named by pending ids; lock the named accounts and the holds'
 * accounts (one statement, ordered by id: every transaction locks in the same order, after its
 * hold locks, so none can deadlock); read the batch's ids from transfers, created and failed
 * (a later statement, so it sees what committed while this one waited for its locks). A failed
 * id is never a hold: the hold lookups skip FAILED_ID rows (PENDING_TRANSFER_NOT_FOUND).
 */
export function readStatements(
  transferIds: Iterable<string>,
  accountIds: Iterable<string>,
  pendingIds: Iterable<string>,
): ReadPlan {
  const holds = lookupIds(pendingIds);
  const accounts = lookupIds(accountIds);
  const ids = lookupIds(transferIds);
  // random_page_cost 1.1 for this transaction (PostgreSQL's default 4 models disk seeks): the
  // accounts and transfers a batch touches are in shared buffers, and with the default the
  // planner joined UPDATE ... FROM unnest(...) by hashing a sequential scan of the whole table
  // from about a hundred rows up (seen with auto_explain: every group commit of 60 transfers
  // read all 10,000 accounts; 1.8 ms against 0.4 ms for the index nested loop).
  const statements = ["begin", "set local random_page_cost = 1.1"];
  let holdsAt = -1;
  let accountsAt = -1;
  let existingAt = -1;
  if (holds.length > 0) {
    holdsAt = statements.length;
    const holdIds = textArray(holds);
    const live = `state <> ${failedIdState}`;
    statements.push(`select ${transferColumns} from ledger.transfers where id = any(${holdIds}) and ${live} order by id for update`);
    accountsAt = statements.length;
    statements.push(
      `select ${accountColumns} from ledger.accounts where id = any(array(
         select unnest(${textArray(accounts)})
         union select debit_account_id from ledger.transfers where id = any(${holdIds}) and ${live}
         union select credit_account_id from ledger.transfers where id = any(${holdIds}) and ${live}))
       order by id for update`,
    );
  } else if (accounts.length > 0) {
    accountsAt = statements.length;
    statements.push(`select ${accountColumns} from ledger.accounts where id = any(${textArray(accounts)}) order by id for update`);
  }
  if (ids.length > 0) {
    // A lookup by primary key (= ANY of the ids), not a join of unnest(ids) with the table: the
    // planner hash-joined that with a sequential scan of the whole transfers table while it was
    // small, and kept doing so as it grew (every batch then read every transfer).
    existingAt = statements.length;
    statements.push(`select ${transferColumns} from ledger.transfers where id = any(${textArray(ids)})`);
  }
  return { sql: `${statements.join(";\n")};`, holdsAt, accountsAt, existingAt };
}

/** Bits of the flags column sent for created transfers (expanded to the four bool columns). */
const flagLinked = 1;
const flagPending = 2;
const flagPost = 4;
const flagVoid = 8;

/** The effects of one batch (or expiry) to persist. */
export interface BatchEffects {
  created: readonly StoredTransfer[];
  resolvedHolds: readonly StoredTransfer[];
  accounts: readonly AccountState[];
  failed: readonly { id: string; result: number }[];
  history: readonly BalanceSnapshot[];
  /** Batch time (µs since epoch): failed ids' create_time; created rows' create_time base. */
  timeUs: bigint;
}

/** The write statements (';'-terminated, no COMMIT) for `effects`; "" when there is nothing to write. */
export function writeStatements(effects: BatchEffects): string {
  const statements: string[] = [];
  const { created, resolvedHolds, accounts, failed, history, timeUs } = effects;
  if (created.length > 0) {
    const rows = [...created].sort(byId);
    const set = rowSet(rows.length);
    const baseIso = isoOfMicros(timeUs);
    const offsets = rows.map((t) => {
      const offset = t.createTimeUs - timeUs;
      if (offset < 0n || offset > 1_000_000n) throw new Error(`ledger bug: transfer ${t.id} create time off the batch time`);
      return offset;
    });
    const flags = rows.map(
      (t) =>
        (t.flags.linked ? flagLinked : 0) |
        (t.flags.pending ? flagPending : 0) |
        (t.flags.postPendingTransfer ? flagPost : 0) |
        (t.flags.voidPendingTransfer ? flagVoid : 0),
    );
    const columns = [
      set.column("id", "text", rows.map((t) => t.id)),
      set.column("debit_account_id", "text", rows.map((t) => t.debitAccountId)),
      set.column("credit_account_id", "text", rows.map((t) => t.creditAccountId)),
      set.column("amount", "int8", rows.map((t) => t.amount)),
      set.column("requested_amount", "int8", rows.map((t) => t.requestedAmount)),
      set.column("pending_id", "text", rows.map((t) => (t.pendingId === "" ? null : t.pendingId))),
      set.column("ledger", "int8", rows.map((t) => t.ledger)),
      set.column("code", "int8", rows.map((t) => t.code)),
    ];
    const flagsExpression = set.column("flags", "int2", flags);
    columns.push(
      `(${flagsExpression} & ${flagLinked}) <> 0`,
      `(${flagsExpression} & ${flagPending}) <> 0`,
      `(${flagsExpression} & ${flagPost}) <> 0`,
      `(${flagsExpression} & ${flagVoid}) <> 0`,
      set.column("defaulted_fields", "int2", rows.map((t) => t.defaultedFields)),
      set.column("timeout_seconds", "int8", rows.map((t) => t.timeoutSeconds)),
      set.column("user_data", "text", rows.map((t) => t.userData)),
      // µs offsets from the batch time: exact (interval * integer below 2^53 is exact).
      `${literal(baseIso)}::timestamptz + ${set.column("create_offset_us", "int8", offsets)} * interval '1 microsecond'`,
      set.column("expires_at", "timestamptz", rows.map((t) => (t.expiresAtUs === null ? null : isoOfMicros(t.expiresAtUs)))),
      set.column("resolve_time", "timestamptz", rows.map((t) => (t.resolveTimeUs === null ? null : isoOfMicros(t.resolveTimeUs)))),
      set.column("state", "int2", rows.map((t) => t.state)),
    );
    statements.push(
      `insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, requested_amount, pending_id,
         ledger, code, flag_linked, flag_pending, flag_post_pending_transfer, flag_void_pending_transfer,
         defaulted_fields, timeout_seconds, user_data, create_time, expires_at, resolve_time, state)
       select ${columns.join(", ")}${set.from()}`,
    );
  }
  if (resolvedHolds.length > 0) {
    const set = rowSet(resolvedHolds.length);
    const id = set.column("id", "text", resolvedHolds.map((t) => t.id));
    const state = set.column("state", "int2", resolvedHolds.map((t) => t.state));
    const resolveTime = set.column(
      "resolve_time",
      "timestamptz",
      resolvedHolds.map((t) => isoOfMicros(t.resolveTimeUs as bigint)),
    );
    statements.push(
      `with resolved as (update ledger.transfers t set state = ${state}, resolve_time = ${resolveTime}${set.from()}
         where t.id = ${id} and t.state = ${TransferState.PENDING} returning 1)
       select ledger.assert_rows('holds resolved', count(*), ${resolvedHolds.length}) from resolved`,
    );
  }
  if (accounts.length > 0) {
    const set = rowSet(accounts.length);
    const id = set.column("id", "text", accounts.map((a) => a.id));
    const debitsPending = set.column("debits_pending", "int8", accounts.map((a) => a.debitsPending));
    const debitsPosted = set.column("debits_posted", "int8", accounts.map((a) => a.debitsPosted));
    const creditsPending = set.column("credits_pending", "int8", accounts.map((a) => a.creditsPending));
    const creditsPosted = set.column("credits_posted", "int8", accounts.map((a) => a.creditsPosted));
    statements.push(
      `with updated as (update ledger.accounts a set debits_pending = ${debitsPending}, debits_posted = ${debitsPosted},
         credits_pending = ${creditsPending}, credits_posted = ${creditsPosted}${set.from()}
         where a.id = ${id} returning 1)
       select ledger.assert_rows('accounts updated', count(*), ${accounts.length}) from updated`,
    );
  }
  if (failed.length > 0) {
    const rows = [...failed].sort(byId);
    const set = rowSet(rows.length);
    const id = set.column("id", "text", rows.map((f) => f.id));
    const result = set.column("result", "int2", rows.map((f) => f.result));
    // No ON CONFLICT: these ids were absent when read, so a conflict means a concurrent
    // transaction created or failed the same id; the insert waits for it to commit, raises
    // 23505, and the engine retries the batch, which then reads that id (EXISTS_WITH_DIFFERENT_*
    // or ID_ALREADY_FAILED, as if the two had run one after the other).
    statements.push(
      `insert into ledger.transfers (id, debit_account_id, credit_account_id, amount, requested_amount, ledger, code,
         create_time, state, failed_result)
       select ${id}, '', '', 0, 0, 0, 0, ${literal(isoOfMicros(timeUs))}::timestamptz, ${failedIdState}, ${result}${set.from()}`,
    );
  }
  if (history.length > 0) {
    const set = rowSet(history.length);
    const columns = [
      set.column("account_id", "text", history.map((h) => h.accountId)),
      set.column("transfer_id", "text", history.map((h) => h.transferId)),
      set.column("create_time", "timestamptz", history.map((h) => isoOfMicros(h.timeUs))),
      set.column("debits_pending", "int8", history.map((h) => h.debitsPending)),
      set.column("debits_posted", "int8", history.map((h) => h.debitsPosted)),
      set.column("credits_pending", "int8", history.map((h) => h.creditsPending)),
      set.column("credits_posted", "int8", history.map((h) => h.creditsPosted)),
    ];
    // seq (identity) follows the array order, which is the order the changes happened.
    statements.push(
      `insert into ledger.account_balances (account_id, transfer_id, create_time, debits_pending, debits_posted,
         credits_pending, credits_posted)
       select ${columns.join(", ")}${set.from()}`,
    );
  }
  return statements.length === 0 ? "" : `${statements.join(";\n")};`;
}
