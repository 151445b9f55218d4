import { create } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { AccountsCreatedSchema, TransfersCommittedSchema } from "../../gen/payments/ledger/v1/ledger_events_pb.js";
import { currentRequestId, requestIdHeader } from "../shared/context.ts";
import type { PoolClient } from "../shared/db.ts";
import { subjectOf } from "../shared/events.ts";
import { newId } from "../shared/ids.ts";
import { enqueueEvent, outboxColumns } from "../shared/outbox.ts";
import type { AccountState, StoredTransfer } from "./domain/model.ts";
import type { CommittedAccounts, CommittedTransfers, OnCommit } from "./store/engine.ts";
import { accountMessage, timestampOfMicros } from "./store/proto.ts";
import { byteaLiteral, literal } from "./store/sql-text.ts";

/** Transfers per change-feed event: keeps each message well under JetStream's 1 MiB payload. */
export const feedTransfersPerEventMax = 500;

const microsPerSecond = 1_000_000n;

/** google.protobuf.Timestamp as field `field` (seconds, nanos; zero fields omitted). */
function writeTimestamp(writer: BinaryWriter, field: number, timeUs: bigint): void {
  let seconds = timeUs / microsPerSecond;
  let micros = timeUs % microsPerSecond;
  if (micros < 0n) {
    micros += microsPerSecond;
    seconds -= 1n;
  }
  writer.tag(field, WireType.LengthDelimited).fork();
  if (seconds !== 0n) writer.tag(1, WireType.Varint).int64(seconds);
  if (micros !== 0n) writer.tag(2, WireType.Varint).int32(Number(micros) * 1000);
  writer.join();
}

/**
 * One payments.ledger.v1.Transfer as field 3 of TransfersCommitted: every field, encoded as
 * protobuf-es `toBinary(TransferSchema, transferMessage(t))` would (proto3: zero values
 * omitted; flags and create_time always present).
 */
function writeTransfer(writer: BinaryWriter, t: StoredTransfer): void {
  writer.tag(3, WireType.LengthDelimited).fork();
  if (t.id !== "") writer.tag(1, WireType.LengthDelimited).string(t.id);
  if (t.debitAccountId !== "") writer.tag(2, WireType.LengthDelimited).string(t.debitAccountId);
  if (t.creditAccountId !== "") writer.tag(3, WireType.LengthDelimited).string(t.creditAccountId);
  if (t.amount !== 0n) writer.tag(4, WireType.Varint).int64(t.amount);
  if (t.pendingId !== "") writer.tag(5, WireType.LengthDelimited).string(t.pendingId);
  if (t.ledger !== 0) writer.tag(6, WireType.Varint).uint32(t.ledger);
  if (t.code !== 0) writer.tag(7, WireType.Varint).uint32(t.code);
  writer.tag(8, WireType.LengthDelimited).fork();
  if (t.flags.linked) writer.tag(1, WireType.Varint).bool(true);
  if (t.flags.pending) writer.tag(2, WireType.Varint).bool(true);
  if (t.flags.postPendingTransfer) writer.tag(3, WireType.Varint).bool(true);
  if (t.flags.voidPendingTransfer) writer.tag(4, WireType.Varint).bool(true);
  writer.join();
  if (t.timeoutSeconds !== 0) writer.tag(9, WireType.Varint).uint32(t.timeoutSeconds);
  if (t.userData !== "") writer.tag(10, WireType.LengthDelimited).string(t.userData);
  writeTimestamp(writer, 11, t.createTimeUs);
  if (t.state !== 0) writer.tag(12, WireType.Varint).int32(t.state);
  writer.join();
}

/**
 * One payments.ledger.v1.Account as field 4 of TransfersCommitted, with what a commit changes:
 * id, ledger, code and the four balances. flags, user_data and create_time are left unset:
 * they never change after CreateAccounts and travel in AccountsCreated.
 */
function writeAccountBalances(writer: BinaryWriter, a: AccountState): void {
  writer.tag(4, WireType.LengthDelimited).fork();
  if (a.id !== "") writer.tag(1, WireType.LengthDelimited).string(a.id);
  if (a.ledger !== 0) writer.tag(2, WireType.Varint).uint32(a.ledger);
  if (a.code !== 0) writer.tag(3, WireType.Varint).uint32(a.code);
  if (a.debitsPending !== 0n) writer.tag(6, WireType.Varint).int64(a.debitsPending);
  if (a.debitsPosted !== 0n) writer.tag(7, WireType.Varint).int64(a.debitsPosted);
  if (a.creditsPending !== 0n) writer.tag(8, WireType.Varint).int64(a.creditsPending);
  if (a.creditsPosted !== 0n) writer.tag(9, WireType.Varint).int64(a.creditsPosted);
  writer.join();
}

/**
 * The binary TransfersCommitted events of one commit, one per chunk of at most
 * feedTransfersPerEventMax transfers (created transfers first, then resolved holds), each with
 * the balances after the commit of the accounts its transfers touch. Encoded directly with
 * BinaryWriter (the reflective toBinary was most of the feed's cost); test/ledger/feed.test.ts
 * checks the bytes decode to the same message toBinary would give.
 */
export function encodeTransfersCommitted(committed: CommittedTransfers): { eventId: string; payload: Uint8Array }[] {
  const changed = [...committed.transfers, ...committed.resolvedHolds];
  const accounts = new Map(committed.accounts.map((account) => [account.id, account]));
  const events: { eventId: string; payload: Uint8Array }[] = [];
  for (let start = 0; start < changed.length; start += feedTransfersPerEventMax) {
    const chunk = changed.slice(start, start + feedTransfersPerEventMax);
    const eventId = newId("led");
    const writer = new BinaryWriter();
    writer.tag(1, WireType.LengthDelimited).string(eventId);
    writeTimestamp(writer, 2, committed.timeUs);
    const touched = new Set<string>();
    for (const transfer of chunk) {
      writeTransfer(writer, transfer);
      touched.add(transfer.debitAccountId);
      touched.add(transfer.creditAccountId);
    }
    for (const id of touched) {
      const account = accounts.get(id);
      if (account) writeAccountBalances(writer, account);
    }
    events.push({ eventId, payload: writer.finish() });
  }
  return events;
}

/**
 * The ledger's change feed: every committed transaction adds TransfersCommitted events
 * (`<prefix>.ledger.v1.transfers_committed`) to the outbox inside that transaction
 * (encodeTransfersCommitted). Expired holds appear as the holds themselves in state
 * PENDING_EXPIRED.
 *
 * The hook offers `sqlOf`, so the engine appends one multi-row outbox INSERT to the batch's write
 * round trip (no NOTIFY: the relay polls, see services/shared/outbox.ts). Called as a
 * function with a client it does the same with its own statements. The rows are the ones
 * services/shared/outbox.ts enqueueEvent writes (schema_name, Payments-Schema header source,
 * x-request-id header).
 */
export function transfersFeed(subjectPrefix: string): OnCommit<CommittedTransfers> {
  const subject = subjectOf(subjectPrefix, "ledger", "transfers_committed");
  const sqlOf = (committed: CommittedTransfers): string => {
    const events = encodeTransfersCommitted(committed);
    if (events.length === 0) return "";
    const requestId = currentRequestId();
    const headers = literal(JSON.stringify(requestId ? { [requestIdHeader]: requestId } : {}));
    const rows = events.map(
      (event) => `(${literal(event.eventId)}, ${literal(subject)}, ${literal(TransfersCommittedSchema.typeName)}, ${byteaLiteral(event.payload)}, ${headers}::jsonb)`,
    );
    return `insert into ledger.outbox (${outboxColumns}) values ${rows.join(", ")};`;
  };
  const hook = async (client: PoolClient, committed: CommittedTransfers): Promise<void> => {
    const sql = sqlOf(committed);
    if (sql !== "") await client.query(sql);
  };
  return Object.assign(hook, { sqlOf });
}

/** AccountsCreated events (`<prefix>.ledger.v1.accounts_created`), one per commit. */
export function accountsFeed(subjectPrefix: string) {
  const subject = subjectOf(subjectPrefix, "ledger", "accounts_created");
  return async (client: PoolClient, committed: CommittedAccounts): Promise<void> => {
    if (committed.accounts.length === 0) return;
    const eventId = newId("led");
    await enqueueEvent(
      client,
      "ledger",
      subject,
      eventId,
      AccountsCreatedSchema,
      create(AccountsCreatedSchema, { eventId, occurTime: timestampOfMicros(committed.timeUs), accounts: committed.accounts.map(accountMessage) }),
    );
  };
}
