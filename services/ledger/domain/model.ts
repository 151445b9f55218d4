/**
 * Shapes of the ledger's pure state machine. No I/O here.
 *
 * Units: every amount and balance is a bigint of minor units in 0..2^63-1 (amountMinorMax).
 * Every time is a bigint of microseconds since the Unix epoch (`...Us`), the precision of
 * PostgreSQL timestamptz, so times round-trip exactly.
 *
 * Rules come from TigerBeetle (docs/reference/account.md, docs/reference/transfer.md,
 * docs/coding/two-phase-transfers.md, src/state_machine.zig) as adapted by
 * proto/payments/ledger/v1/*.proto, which is the contract.
 */
import { TransferState } from "../../../gen/payments/ledger/v1/ledger_pb.js";

export { TransferState };

/** Largest value of any amount or balance: 2^63-1 minor units (signed 64-bit). */
export const amountMinorMax = 9_223_372_036_854_775_807n;

/** TigerBeetle's batch limit: at most 8190 accounts or transfers per request. */
export const batchTransfersMax = 8190;
/** Same limit for CreateAccounts. */
export const batchAccountsMax = 8190;

/** Client ids (accounts, transfers): 1..64 chars of [A-Za-z0-9_.:-]. */
export const clientIdPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

/** user_data limit in UTF-8 bytes. */
export const userDataBytesMax = 128;

/** The four balances of an account, minor units. */
export interface Balances {
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

/** Account flags (ledger.proto AccountFlags). */
export interface AccountFlagsValue {
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
  history: boolean;
  closed: boolean;
}

/** Transfer flags (ledger.proto TransferFlags). */
export interface TransferFlagsValue {
  linked: boolean;
  pending: boolean;
  postPendingTransfer: boolean;
  voidPendingTransfer: boolean;
}

/** A stored account as the state machine sees it. */
export interface AccountState extends Balances {
  id: string;
  ledger: number;
  code: number;
  flags: AccountFlagsValue;
  userData: string;
  createTimeUs: bigint;
}

/**
 * An account to create. Structurally compatible with the protobuf `Account` message
 * (flags optional; balances and create_time are ignored here: the RPC handler must reject
 * non-zero ones with INVALID_ARGUMENT, the contract has no result code for them).
 */
export interface AccountRequest {
  id: string;
  ledger: number;
  code: number;
  /** `linked` chains accounts as in TigerBeetle (AccountFlags.linked); it is not stored. */
  flags?: Partial<AccountFlagsValue & { linked: boolean }> | undefined;
  userData: string;
}

/**
 * A transfer to create. Structurally compatible with the protobuf `Transfer` message
 * (create_time and state are ignored; the handler should reject them when set).
 */
export interface TransferRequest {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  /** Minor units; may arrive negative from the wire (AMOUNT_MUST_NOT_BE_NEGATIVE). */
  amount: bigint;
  pendingId: string;
  ledger: number;
  code: number;
  flags?: Partial<TransferFlagsValue> | undefined;
  timeoutSeconds: number;
  userData: string;
}

/** Bits of StoredTransfer.defaultedFields: which post/void fields the client left empty. */
export const defaultedDebitAccountId = 1;
export const defaultedCreditAccountId = 2;
export const defaultedLedger = 4;
export const defaultedCode = 8;

/** A stored transfer (transfers table row). */
export interface StoredTransfer {
  id: string;
  /** Resolved: for post/void, the hold's account. */
  debitAccountId: string;
  creditAccountId: string;
  /**
   * Minor units. Plain/hold: the amount. Post: the amount actually posted. Void: the hold's
   * amount (released; it contributes nothing to balances).
   */
  amount: bigint;
  /** The amount the client sent (post: 2^63-1 = "the whole hold"). */
  requestedAmount: bigint;
  /** "" when not a post/void. */
  pendingId: string;
  ledger: number;
  code: number;
  flags: TransferFlagsValue;
  /** Bitmask of defaulted* constants: post/void fields the client left empty. */
  defaultedFields: number;
  timeoutSeconds: number;
  userData: string;
  createTimeUs: bigint;
  /** Holds with a timeout: createTimeUs + timeoutSeconds * 1e6; null otherwise. */
  expiresAtUs: bigint | null;
  /** Holds: when the hold left PENDING; null while pending and for other transfers. */
  resolveTimeUs: bigint | null;
  state: TransferState;
}

/** A balance snapshot of a history-flagged account right after one transfer (or expiry). */
export interface BalanceSnapshot extends Balances {
  accountId: string;
  transferId: string;
  timeUs: bigint;
}

/** Copies the four balances. */
export function balancesOf(value: Balances): Balances {
  return {
    debitsPending: value.debitsPending,
    debitsPosted: value.debitsPosted,
    creditsPending: value.creditsPending,
    creditsPosted: value.creditsPosted,
  };
}

/** Normalises optional protobuf flags to four booleans. */
export function transferFlagsOf(flags: Partial<TransferFlagsValue> | undefined): TransferFlagsValue {
  return {
    linked: flags?.linked === true,
    pending: flags?.pending === true,
    postPendingTransfer: flags?.postPendingTransfer === true,
    voidPendingTransfer: flags?.voidPendingTransfer === true,
  };
}

/** Normalises optional protobuf flags to four booleans. */
export function accountFlagsOf(flags: Partial<AccountFlagsValue> | undefined): AccountFlagsValue {
  return {
    debitsMustNotExceedCredits: flags?.debitsMustNotExceedCredits === true,
    creditsMustNotExceedDebits: flags?.creditsMustNotExceedDebits === true,
    history: flags?.history === true,
    closed: flags?.closed === true,
  };
}

const utf8 = new TextEncoder();

/** True when `userData` fits in userDataBytesMax UTF-8 bytes. */
export function userDataFits(userData: string): boolean {
  // Fast path: no string of at most 42 UTF-16 units exceeds 126 bytes.
  if (userData.length <= 42) return true;
  return utf8.encode(userData).length <= userDataBytesMax;
}
