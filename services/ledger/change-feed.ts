import { create } from "@bufbuild/protobuf";
import { AccountsCreatedSchema, TransfersCommittedSchema } from "../../gen/payments/ledger/v1/ledger_events_pb.js";
import type { PoolClient } from "../shared/db.ts";
import { subjectOf } from "../shared/events.ts";
import { newId } from "../shared/ids.ts";
import { enqueueEvent } from "../shared/outbox.ts";
import type { CommittedAccounts, CommittedTransfers } from "./store/engine.ts";
import { accountMessage, timestampOfMicros, transferMessage } from "./store/proto.ts";

/** Transfers per change-feed event: keeps each message well under JetStream's 1 MiB payload. */
export const feedTransfersPerEventMax = 500;

/**
 * The ledger's change feed: every committed transaction adds TransfersCommitted events
 * (`<prefix>.ledger.v1.transfers_committed`) to the outbox inside that transaction, one per
 * chunk of at most 500 transfers, each with the balances after the commit of the accounts its
 * transfers touch. Expired holds appear as the holds themselves in state PENDING_EXPIRED.
 */
export function transfersFeed(subjectPrefix: string) {
  const subject = subjectOf(subjectPrefix, "ledger", "transfers_committed");
  return async (client: PoolClient, committed: CommittedTransfers): Promise<void> => {
    const changed = [...committed.transfers, ...committed.resolvedHolds];
    if (changed.length === 0) return;
    const accounts = new Map(committed.accounts.map((account) => [account.id, account]));
    for (let start = 0; start < changed.length; start += feedTransfersPerEventMax) {
      const chunk = changed.slice(start, start + feedTransfersPerEventMax);
      const touched = new Set(chunk.flatMap((transfer) => [transfer.debitAccountId, transfer.creditAccountId]));
      const eventId = newId("led");
      await enqueueEvent(
        client,
        "ledger",
        subject,
        eventId,
        TransfersCommittedSchema,
        create(TransfersCommittedSchema, {
          eventId,
          occurTime: timestampOfMicros(committed.timeUs),
          transfers: chunk.map(transferMessage),
          accounts: [...touched].flatMap((id) => {
            const account = accounts.get(id);
            return account ? [accountMessage(account)] : [];
          }),
        }),
      );
    }
  };
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
