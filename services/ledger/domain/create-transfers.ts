/**
 * The CreateTransfers state machine: pure, deterministic, no I/O.
 *
 * Given a batch and a snapshot of the state it touches, evaluates each transfer in order,
 * returns one CreateTransferResult per transfer and the effects to persist. Later transfers see
 * earlier ones' effects (balances, new ids, resolved holds, failed ids).
 *
 * Rules and their precedence follow proto/payments/ledger/v1/ledger_results.proto
 * (CreateTransferResult, checked in enum order: the first that applies wins), adapted from
 * TigerBeetle: src/state_machine.zig `create_transfer`, `post_or_void_pending_transfer`,
 * `create_transfer_exists`; docs/reference/requests/create_transfers.md (result docs);
 * docs/coding/two-phase-transfers.md (holds, post, void, expiry).
 */
import { CreateTransferResult } from "../../../gen/payments/ledger/v1/ledger_results_pb.js";
import { createJournal, runLinkedChains, type Journal } from "./chains.ts";
import { creditsExceedDebits, debitsExceedCredits, sumOverflows } from "./limits.ts";
import {
  amountMinorMax,
  balancesOf,
  clientIdPattern,
  defaultedCode,
  defaultedCreditAccountId,
  defaultedDebitAccountId,
  defaultedLedger,
  transferFlagsOf,
  TransferState,
  userDataFits,
  type AccountState,
  type BalanceSnapshot,
  type StoredTransfer,
  type TransferFlagsValue,
  type TransferRequest,
} from "./model.ts";

export { CreateTransferResult };

const microsPerSecond = 1_000_000n;

/** What the state machine needs to know before a batch. */
export interface TransferSnapshot {
  /** Every account the batch names, plus the accounts of every hold in `transfers`. */
  accounts: ReadonlyMap<string, AccountState>;
  /** Stored transfers whose id is a batch id or a batch pending_id (others may be present). */
  transfers: ReadonlyMap<string, StoredTransfer>;
  /** Ids that failed before on business state (FAILED_ID rows of ledger.transfers). */
  failedIds: ReadonlySet<string>;
}

export interface EvaluateTransfersOptions {
  /** Batch time (µs since epoch): holds with expires_at <= nowUs count as expired. */
  nowUs: bigint;
  /** create_time of transfer i is createTimeBaseUs + i (unique, ordered); default nowUs. */
  createTimeBaseUs?: bigint;
  /** Independent chain segments (group commit: one per submission); default the whole batch. */
  segmentLengths?: readonly number[];
}

/** Everything a batch changed; the engine persists exactly this. */
export interface TransferBatchOutcome {
  /** One per input transfer, same order. */
  results: CreateTransferResult[];
  /** New transfers in batch order, with final states (a hold created and posted here is PENDING_POSTED). */
  created: StoredTransfer[];
  /** Holds that existed before the batch and left PENDING in it (posted, voided or expired). */
  resolvedHolds: StoredTransfer[];
  /** Of those, the ones released because their timeout had passed (ids). */
  expiredHoldIds: string[];
  /** Accounts whose balances changed, with their final balances. */
  accounts: AccountState[];
  /** Ids that failed on business state in this batch (to remember forever). */
  failed: { id: string; result: CreateTransferResult }[];
  /** Balance snapshots of history-flagged accounts, in the order the changes happened. */
  history: BalanceSnapshot[];
}

/** TigerBeetle "transient" results: business-state failures, remembered per id. */
export function isTransientTransferResult(result: CreateTransferResult): boolean {
  return result >= CreateTransferResult.DEBIT_ACCOUNT_NOT_FOUND;
}

/** True when a PENDING hold's timeout has passed at `nowUs`. */
export function holdIsOverdue(hold: StoredTransfer, nowUs: bigint): boolean {
  return hold.state === TransferState.PENDING && hold.expiresAtUs !== null && hold.expiresAtUs <= nowUs;
}

/**
 * Releases an open hold: subtracts its amount from the debit account's debits_pending and the
 * credit account's credits_pending, sets its state to `state` (PENDING_POSTED, PENDING_VOIDED
 * or PENDING_EXPIRED) and resolve time. Mutates `hold`, `debit`, `credit` (registering undo
 * steps when `journal` is active). Throws on a broken invariant (a bug, never a business case).
 */
export function releaseHold(
  hold: StoredTransfer,
  debit: AccountState,
  credit: AccountState,
  state: TransferState,
  resolveTimeUs: bigint,
  journal?: Journal,
): void {
  if (hold.state !== TransferState.PENDING) throw new Error(`ledger bug: releasing hold ${hold.id} in state ${hold.state}`);
  if (debit.id !== hold.debitAccountId || credit.id !== hold.creditAccountId) {
    throw new Error(`ledger bug: hold ${hold.id} released against the wrong accounts`);
  }
  if (debit.debitsPending < hold.amount || credit.creditsPending < hold.amount) {
    throw new Error(`ledger bug: hold ${hold.id} amount ${hold.amount} exceeds its accounts' pending balances`);
  }
  if (journal?.active) {
    const before = { state: hold.state, resolveTimeUs: hold.resolveTimeUs };
    const debitPending = debit.debitsPending;
    const creditPending = credit.creditsPending;
    journal.push(() => {
      hold.state = before.state;
      hold.resolveTimeUs = before.resolveTimeUs;
      debit.debitsPending = debitPending;
      credit.creditsPending = creditPending;
    });
  }
  debit.debitsPending -= hold.amount;
  credit.creditsPending -= hold.amount;
  hold.state = state;
  hold.resolveTimeUs = resolveTimeUs;
}

/**
 * Evaluates a batch of transfers against `snapshot` (not mutated).
 *
 * Order of checks for each transfer (CreateTransferResult enum order):
 * linked chain (LINKED_EVENT_FAILED, LINKED_EVENT_CHAIN_OPEN) -> ID_INVALID -> exists
 * (EXISTS_WITH_DIFFERENT_{FLAGS, PENDING_ID, TIMEOUT, DEBIT_ACCOUNT_ID, CREDIT_ACCOUNT_ID,
 * AMOUNT, USER_DATA, LEDGER, CODE}, EXISTS) -> ID_ALREADY_FAILED -> request validation
 * (FLAGS_ARE_MUTUALLY_EXCLUSIVE ... CODE_MUST_NOT_BE_ZERO) -> business state
 * (DEBIT_ACCOUNT_NOT_FOUND ... EXCEEDS_DEBITS). Business-state failures are returned in
 * `failed` so the id can never succeed later (TigerBeetle transient errors).
 *
 * Before evaluating, referenced holds already overdue at `nowUs` are expired (released), so a
 * post/void of them returns PENDING_TRANSFER_EXPIRED and their reservation is returned.
 */
export function evaluateTransfers(
  batch: readonly TransferRequest[],
  snapshot: TransferSnapshot,
  options: EvaluateTransfersOptions,
): TransferBatchOutcome {
  const nowUs = options.nowUs;
  const createTimeBaseUs = options.createTimeBaseUs ?? nowUs;
  const accounts = new Map<string, AccountState>();
  for (const [id, account] of snapshot.accounts) {
    accounts.set(id, { ...account, flags: { ...account.flags } });
  }
  const transfers = new Map<string, StoredTransfer>();
  for (const [id, transfer] of snapshot.transfers) transfers.set(id, { ...transfer, flags: { ...transfer.flags } });
  const failedIds = new Set(snapshot.failedIds);
  const created: StoredTransfer[] = [];
  const history: BalanceSnapshot[] = [];
  const failed: { id: string; result: CreateTransferResult }[] = [];
  const expiredHoldIds: string[] = [];
  const journal = createJournal();

  const recordHistory = (account: AccountState, transferId: string, timeUs: bigint): void => {
    if (!account.flags.history) return;
    history.push({ accountId: account.id, transferId, timeUs, ...balancesOf(account) });
    if (journal.active) {
      const length = history.length - 1;
      journal.push(() => {
        history.length = length;
      });
    }
  };

  // Lazy expiry of referenced holds that are already overdue (TigerBeetle expires holds at
  // their deadline; we release them no later than the first batch that touches them).
  for (const transfer of batch) {
    const hold = transfer.pendingId === "" ? undefined : transfers.get(transfer.pendingId);
    if (hold === undefined || !holdIsOverdue(hold, nowUs)) continue;
    const debit = accounts.get(hold.debitAccountId);
    const credit = accounts.get(hold.creditAccountId);
    if (!debit || !credit) throw new Error(`ledger bug: accounts of hold ${hold.id} missing from the snapshot`);
    releaseHold(hold, debit, credit, TransferState.PENDING_EXPIRED, nowUs);
    expiredHoldIds.push(hold.id);
    recordHistory(debit, hold.id, nowUs);
    recordHistory(credit, hold.id, nowUs);
  }

  const setBalances = (account: AccountState, change: (account: AccountState) => void): void => {
    if (journal.active) {
      const before = balancesOf(account);
      journal.push(() => Object.assign(account, before));
    }
    change(account);
  };

  const insert = (transfer: StoredTransfer): void => {
    transfers.set(transfer.id, transfer);
    created.push(transfer);
    if (journal.active) {
      const length = created.length - 1;
      journal.push(() => {
        transfers.delete(transfer.id);
        created.length = length;
      });
    }
  };

  const evaluateOne = (index: number): CreateTransferResult => {
    const t = batch[index];
    const flags = transferFlagsOf(t.flags);
    const createTimeUs = createTimeBaseUs + BigInt(index);

    if (!clientIdPattern.test(t.id)) return CreateTransferResult.ID_INVALID;
    const existing = transfers.get(t.id);
    if (existing !== undefined) return compareWithExisting(t, flags, existing);
    if (failedIds.has(t.id)) return CreateTransferResult.ID_ALREADY_FAILED;

    const kinds = (flags.pending ? 1 : 0) + (flags.postPendingTransfer ? 1 : 0) + (flags.voidPendingTransfer ? 1 : 0);
    if (kinds > 1) return CreateTransferResult.FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    if (t.amount < 0n) return CreateTransferResult.AMOUNT_MUST_NOT_BE_NEGATIVE;
    if (!userDataFits(t.userData)) return CreateTransferResult.USER_DATA_TOO_LONG;
    const postOrVoid = flags.postPendingTransfer || flags.voidPendingTransfer;
    if (!postOrVoid && t.pendingId !== "") return CreateTransferResult.PENDING_ID_MUST_BE_EMPTY;
    if (!flags.pending && t.timeoutSeconds !== 0) return CreateTransferResult.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
    if (postOrVoid && t.pendingId === "") return CreateTransferResult.PENDING_ID_MUST_NOT_BE_EMPTY;
    if (postOrVoid && t.pendingId === t.id) return CreateTransferResult.PENDING_ID_MUST_BE_DIFFERENT;
    if (!postOrVoid && t.debitAccountId === "") return CreateTransferResult.DEBIT_ACCOUNT_ID_MUST_NOT_BE_EMPTY;
    if (!postOrVoid && t.creditAccountId === "") return CreateTransferResult.CREDIT_ACCOUNT_ID_MUST_NOT_BE_EMPTY;
    if (t.debitAccountId !== "" && t.debitAccountId === t.creditAccountId) {
      return CreateTransferResult.ACCOUNTS_MUST_BE_DIFFERENT;
    }
    if (!postOrVoid && t.ledger === 0) return CreateTransferResult.LEDGER_MUST_NOT_BE_ZERO;
    if (!postOrVoid && t.code === 0) return CreateTransferResult.CODE_MUST_NOT_BE_ZERO;

    // Business state. For post/void the accounts may be empty (taken from the hold); when
    // given they must exist and agree with each other and with the transfer's ledger.
    const debitNamed = t.debitAccountId === "" ? undefined : accounts.get(t.debitAccountId);
    if (t.debitAccountId !== "" && debitNamed === undefined) return CreateTransferResult.DEBIT_ACCOUNT_NOT_FOUND;
    const creditNamed = t.creditAccountId === "" ? undefined : accounts.get(t.creditAccountId);
    if (t.creditAccountId !== "" && creditNamed === undefined) return CreateTransferResult.CREDIT_ACCOUNT_NOT_FOUND;
    if (debitNamed && creditNamed && debitNamed.ledger !== creditNamed.ledger) {
      return CreateTransferResult.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER;
    }
    const accountsLedger = debitNamed?.ledger ?? creditNamed?.ledger;
    if (t.ledger !== 0 && accountsLedger !== undefined && t.ledger !== accountsLedger) {
      return CreateTransferResult.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS;
    }

    if (postOrVoid) return postOrVoidHold(t, flags, createTimeUs);

    // Plain (posted) transfer or a new hold.
    const debit = debitNamed as AccountState;
    const credit = creditNamed as AccountState;
    if (debit.flags.closed) return CreateTransferResult.DEBIT_ACCOUNT_ALREADY_CLOSED;
    if (credit.flags.closed) return CreateTransferResult.CREDIT_ACCOUNT_ALREADY_CLOSED;
    const amount = t.amount;
    if (flags.pending) {
      if (sumOverflows(debit.debitsPending, amount) || sumOverflows(credit.creditsPending, amount)) {
        return CreateTransferResult.OVERFLOWS_BALANCE;
      }
    } else if (sumOverflows(debit.debitsPosted, amount) || sumOverflows(credit.creditsPosted, amount)) {
      return CreateTransferResult.OVERFLOWS_BALANCE;
    }
    if (debitsExceedCredits(debit, amount)) return CreateTransferResult.EXCEEDS_CREDITS;
    if (creditsExceedDebits(credit, amount)) return CreateTransferResult.EXCEEDS_DEBITS;

    setBalances(debit, (account) => {
      if (flags.pending) account.debitsPending += amount;
      else account.debitsPosted += amount;
    });
    setBalances(credit, (account) => {
      if (flags.pending) account.creditsPending += amount;
      else account.creditsPosted += amount;
    });
    insert({
      id: t.id,
      debitAccountId: debit.id,
      creditAccountId: credit.id,
      amount,
      requestedAmount: amount,
      pendingId: "",
      ledger: t.ledger,
      code: t.code,
      flags,
      defaultedFields: 0,
      timeoutSeconds: t.timeoutSeconds,
      userData: t.userData,
      createTimeUs,
      expiresAtUs: flags.pending && t.timeoutSeconds > 0 ? createTimeUs + BigInt(t.timeoutSeconds) * microsPerSecond : null,
      resolveTimeUs: null,
      state: flags.pending ? TransferState.PENDING : TransferState.POSTED,
    });
    recordHistory(debit, t.id, createTimeUs);
    recordHistory(credit, t.id, createTimeUs);
    return CreateTransferResult.OK;
  };

  const postOrVoidHold = (t: TransferRequest, flags: TransferFlagsValue, createTimeUs: bigint): CreateTransferResult => {
    const hold = transfers.get(t.pendingId);
    if (hold === undefined) return CreateTransferResult.PENDING_TRANSFER_NOT_FOUND;
    if (!hold.flags.pending) return CreateTransferResult.PENDING_TRANSFER_NOT_PENDING;
    if (t.debitAccountId !== "" && t.debitAccountId !== hold.debitAccountId) {
      return CreateTransferResult.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID;
    }
    if (t.creditAccountId !== "" && t.creditAccountId !== hold.creditAccountId) {
      return CreateTransferResult.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID;
    }
    if (t.ledger !== 0 && t.ledger !== hold.ledger) return CreateTransferResult.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER;
    if (t.code !== 0 && t.code !== hold.code) return CreateTransferResult.PENDING_TRANSFER_HAS_DIFFERENT_CODE;
    const post = flags.postPendingTransfer;
    // Post: amount 2^63-1 means "the whole hold"; void: amount ignored, releases all.
    const amount = post ? (t.amount === amountMinorMax ? hold.amount : t.amount) : hold.amount;
    if (post && amount > hold.amount) return CreateTransferResult.EXCEEDS_PENDING_TRANSFER_AMOUNT;
    if (hold.state === TransferState.PENDING_POSTED) return CreateTransferResult.PENDING_TRANSFER_ALREADY_POSTED;
    if (hold.state === TransferState.PENDING_VOIDED) return CreateTransferResult.PENDING_TRANSFER_ALREADY_VOIDED;
    if (hold.state === TransferState.PENDING_EXPIRED || holdIsOverdue(hold, nowUs)) {
      return CreateTransferResult.PENDING_TRANSFER_EXPIRED;
    }
    if (hold.state !== TransferState.PENDING) throw new Error(`ledger bug: hold ${hold.id} in state ${hold.state}`);
    const debit = accounts.get(hold.debitAccountId);
    const credit = accounts.get(hold.creditAccountId);
    if (!debit || !credit) throw new Error(`ledger bug: accounts of hold ${hold.id} missing from the snapshot`);
    // A closed account still accepts the void of a hold it already has.
    if (post && debit.flags.closed) return CreateTransferResult.DEBIT_ACCOUNT_ALREADY_CLOSED;
    if (post && credit.flags.closed) return CreateTransferResult.CREDIT_ACCOUNT_ALREADY_CLOSED;
    if (post && (sumOverflows(debit.debitsPosted, amount) || sumOverflows(credit.creditsPosted, amount))) {
      return CreateTransferResult.OVERFLOWS_BALANCE;
    }
    // No limit check: posting at most the held amount never raises pending + posted, and the
    // hold was checked against the limits when it was created (TigerBeetle does the same).

    releaseHold(
      hold,
      debit,
      credit,
      post ? TransferState.PENDING_POSTED : TransferState.PENDING_VOIDED,
      createTimeUs,
      journal,
    );
    if (post) {
      setBalances(debit, (account) => {
        account.debitsPosted += amount;
      });
      setBalances(credit, (account) => {
        account.creditsPosted += amount;
      });
    }
    insert({
      id: t.id,
      debitAccountId: hold.debitAccountId,
      creditAccountId: hold.creditAccountId,
      amount,
      requestedAmount: t.amount,
      pendingId: t.pendingId,
      ledger: hold.ledger,
      code: hold.code,
      flags,
      defaultedFields:
        (t.debitAccountId === "" ? defaultedDebitAccountId : 0) |
        (t.creditAccountId === "" ? defaultedCreditAccountId : 0) |
        (t.ledger === 0 ? defaultedLedger : 0) |
        (t.code === 0 ? defaultedCode : 0),
      timeoutSeconds: 0,
      userData: t.userData,
      createTimeUs,
      expiresAtUs: null,
      resolveTimeUs: null,
      state: post ? TransferState.POSTED : TransferState.VOIDING,
    });
    recordHistory(debit, t.id, createTimeUs);
    recordHistory(credit, t.id, createTimeUs);
    return CreateTransferResult.OK;
  };

  const results = runLinkedChains(
    batch.length,
    options.segmentLengths,
    (index) => batch[index].flags?.linked === true,
    evaluateOne,
    journal,
    (index, result) => {
      if (isTransientTransferResult(result)) {
        failedIds.add(batch[index].id);
        failed.push({ id: batch[index].id, result });
      }
    },
  ) as CreateTransferResult[];

  const resolvedHolds: StoredTransfer[] = [];
  for (const [id, original] of snapshot.transfers) {
    const now = transfers.get(id);
    if (now && now.state !== original.state) resolvedHolds.push(now);
  }
  const changedAccounts: AccountState[] = [];
  for (const [id, original] of snapshot.accounts) {
    const now = accounts.get(id) as AccountState;
    if (
      now.debitsPending !== original.debitsPending ||
      now.debitsPosted !== original.debitsPosted ||
      now.creditsPending !== original.creditsPending ||
      now.creditsPosted !== original.creditsPosted
    ) {
      changedAccounts.push(now);
    }
  }
  return { results, created, resolvedHolds, expiredHoldIds, accounts: changedAccounts, failed, history };
}

/**
 * `exists` vs `exists_with_different_<field>` (TigerBeetle `create_transfer_exists`): compares
 * the request with what the client sent when the stored transfer was created (for post/void,
 * fields the client left empty stay empty; amount is the amount as sent).
 */
export function compareWithExisting(
  t: TransferRequest,
  flags: TransferFlagsValue,
  e: StoredTransfer,
): CreateTransferResult {
  if (
    flags.linked !== e.flags.linked ||
    flags.pending !== e.flags.pending ||
    flags.postPendingTransfer !== e.flags.postPendingTransfer ||
    flags.voidPendingTransfer !== e.flags.voidPendingTransfer
  ) {
    return CreateTransferResult.EXISTS_WITH_DIFFERENT_FLAGS;
  }
  if (t.pendingId !== e.pendingId) return CreateTransferResult.EXISTS_WITH_DIFFERENT_PENDING_ID;
  if (t.timeoutSeconds !== e.timeoutSeconds) return CreateTransferResult.EXISTS_WITH_DIFFERENT_TIMEOUT;
  const sentDebit = e.defaultedFields & defaultedDebitAccountId ? "" : e.debitAccountId;
  if (t.debitAccountId !== sentDebit) return CreateTransferResult.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID;
  const sentCredit = e.defaultedFields & defaultedCreditAccountId ? "" : e.creditAccountId;
  if (t.creditAccountId !== sentCredit) return CreateTransferResult.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID;
  if (t.amount !== e.requestedAmount) return CreateTransferResult.EXISTS_WITH_DIFFERENT_AMOUNT;
  if (t.userData !== e.userData) return CreateTransferResult.EXISTS_WITH_DIFFERENT_USER_DATA;
  const sentLedger = e.defaultedFields & defaultedLedger ? 0 : e.ledger;
  if (t.ledger !== sentLedger) return CreateTransferResult.EXISTS_WITH_DIFFERENT_LEDGER;
  const sentCode = e.defaultedFields & defaultedCode ? 0 : e.code;
  if (t.code !== sentCode) return CreateTransferResult.EXISTS_WITH_DIFFERENT_CODE;
  return CreateTransferResult.EXISTS;
}
