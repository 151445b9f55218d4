/**
 * Domain -> protobuf message conversion for the RPC handlers (payments.ledger.v1).
 * Amounts stay bigint; times become google.protobuf.Timestamp exactly (µs -> seconds + nanos).
 */
import { create } from "@bufbuild/protobuf";
import { TimestampSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  AccountBalanceSchema,
  AccountFlagsSchema,
  AccountSchema,
  TransferFlagsSchema,
  TransferSchema,
  type Account,
  type AccountBalance,
  type Transfer,
} from "../../../gen/payments/ledger/v1/ledger_pb.js";
import type { AccountState, BalanceSnapshot, StoredTransfer } from "../domain/model.ts";

/** µs since epoch -> Timestamp. */
export function timestampOfMicros(timeUs: bigint): Timestamp {
  let seconds = timeUs / 1_000_000n;
  let micros = timeUs % 1_000_000n;
  if (micros < 0n) {
    micros += 1_000_000n;
    seconds -= 1n;
  }
  return create(TimestampSchema, { seconds, nanos: Number(micros) * 1000 });
}

/** Timestamp -> µs since epoch (sub-µs nanos truncated). */
export function microsOfTimestamp(timestamp: Timestamp): bigint {
  return timestamp.seconds * 1_000_000n + BigInt(Math.trunc(timestamp.nanos / 1000));
}

/** AccountState -> Account message. */
export function accountMessage(account: AccountState): Account {
  return create(AccountSchema, {
    id: account.id,
    ledger: account.ledger,
    code: account.code,
    flags: create(AccountFlagsSchema, account.flags),
    userData: account.userData,
    debitsPending: account.debitsPending,
    debitsPosted: account.debitsPosted,
    creditsPending: account.creditsPending,
    creditsPosted: account.creditsPosted,
    createTime: timestampOfMicros(account.createTimeUs),
  });
}

/** StoredTransfer -> Transfer message (resolved accounts/ledger/code; posted amount for posts). */
export function transferMessage(transfer: StoredTransfer): Transfer {
  return create(TransferSchema, {
    id: transfer.id,
    debitAccountId: transfer.debitAccountId,
    creditAccountId: transfer.creditAccountId,
    amount: transfer.amount,
    pendingId: transfer.pendingId,
    ledger: transfer.ledger,
    code: transfer.code,
    flags: create(TransferFlagsSchema, transfer.flags),
    timeoutSeconds: transfer.timeoutSeconds,
    userData: transfer.userData,
    createTime: timestampOfMicros(transfer.createTimeUs),
    state: transfer.state,
  });
}

/** BalanceSnapshot -> AccountBalance message. */
export function accountBalanceMessage(snapshot: BalanceSnapshot): AccountBalance {
  return create(AccountBalanceSchema, {
    transferId: snapshot.transferId,
    createTime: timestampOfMicros(snapshot.timeUs),
    debitsPending: snapshot.debitsPending,
    debitsPosted: snapshot.debitsPosted,
    creditsPending: snapshot.creditsPending,
    creditsPosted: snapshot.creditsPosted,
  });
}
