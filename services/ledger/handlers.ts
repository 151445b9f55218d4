import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { LedgerService, TransferDirection } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { invalidArgument, notFound } from "../shared/errors.ts";
import { batchAccountsMax, batchTransfersMax } from "./domain/model.ts";
import type { CommittedAccounts, LedgerEngine, OnCommit } from "./store/engine.ts";
import { LedgerInputError, historyLimitMax, pageSizeMax } from "./store/engine.ts";
import { GroupCommitOverloadError, type GroupCommitter } from "./store/group-commit.ts";
import { accountBalanceMessage, accountMessage, microsOfTimestamp, transferMessage } from "./store/proto.ts";

/** Ids a lookup may name at once (the batch limit). */
export const lookupIdsMax = batchTransfersMax;

export interface LedgerHandlerDeps {
  readonly engine: LedgerEngine;
  /** Group commit of CreateTransfers (shared database transactions for concurrent callers). */
  readonly committer: GroupCommitter;
  /** Runs inside each CreateAccounts transaction (change feed). */
  readonly onAccountsCommit?: OnCommit<CommittedAccounts>;
}

/** PostgreSQL text cannot hold a NUL character: such a value is bad input, named by its field. */
function requireNoNul(field: string, value: string): void {
  if (value.includes("\0")) throw invalidArgument(field, "must not contain a NUL character");
}

function requireBatch(field: string, length: number, max: number): void {
  if (length === 0) throw invalidArgument(field, "must hold at least one item");
  if (length > max) throw invalidArgument(field, `holds ${length} items; the limit is ${max}`);
}

/**
 * LedgerService handlers (proto/payments/ledger/v1/ledger_service.proto). Per-item business
 * outcomes are result codes (CreateAccountResult / CreateTransferResult, TigerBeetle's model,
 * docs/ledger.md); only malformed requests fail the RPC (INVALID_ARGUMENT naming the field).
 * CreateTransfers goes through group commit; a full queue is RESOURCE_EXHAUSTED.
 */
export function createLedgerHandlers(deps: LedgerHandlerDeps): ServiceImpl<typeof LedgerService> {
  const { engine, committer } = deps;
  return {
    async createAccounts(request) {
      requireBatch("accounts", request.accounts.length, batchAccountsMax);
      request.accounts.forEach((account, index) => {
        for (const field of ["debitsPending", "debitsPosted", "creditsPending", "creditsPosted"] as const) {
          if (account[field] !== 0n) throw invalidArgument(`accounts[${index}].${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, "must be zero: balances are set by transfers");
        }
        if (account.createTime) throw invalidArgument(`accounts[${index}].create_time`, "must be unset: the ledger sets it");
        requireNoNul(`accounts[${index}].id`, account.id);
        requireNoNul(`accounts[${index}].user_data`, account.userData);
      });
      const results = await engine.createAccounts(request.accounts, { onCommit: deps.onAccountsCommit });
      return { results };
    },

    async createTransfers(request) {
      requireBatch("transfers", request.transfers.length, batchTransfersMax);
      request.transfers.forEach((transfer, index) => {
        if (transfer.createTime) throw invalidArgument(`transfers[${index}].create_time`, "must be unset: the ledger sets it");
        if (transfer.state !== 0) throw invalidArgument(`transfers[${index}].state`, "must be unset: the ledger sets it");
        requireNoNul(`transfers[${index}].id`, transfer.id);
        requireNoNul(`transfers[${index}].debit_account_id`, transfer.debitAccountId);
        requireNoNul(`transfers[${index}].credit_account_id`, transfer.creditAccountId);
        requireNoNul(`transfers[${index}].pending_id`, transfer.pendingId);
        requireNoNul(`transfers[${index}].user_data`, transfer.userData);
      });
      try {
        return { results: await committer.submit(request.transfers) };
      } catch (error) {
        if (error instanceof GroupCommitOverloadError) {
          throw new ConnectError("ledger overloaded: too many transfers queued; retry with backoff", Code.ResourceExhausted);
        }
        throw error;
      }
    },

    async lookupAccounts(request) {
      if (request.ids.length > lookupIdsMax) throw invalidArgument("ids", `at most ${lookupIdsMax} ids`);
      request.ids.forEach((id, index) => requireNoNul(`ids[${index}]`, id));
      return { accounts: (await engine.lookupAccounts(request.ids)).map(accountMessage) };
    },

    async lookupTransfers(request) {
      if (request.ids.length > lookupIdsMax) throw invalidArgument("ids", `at most ${lookupIdsMax} ids`);
      request.ids.forEach((id, index) => requireNoNul(`ids[${index}]`, id));
      return { transfers: (await engine.lookupTransfers(request.ids)).map(transferMessage) };
    },

    async listAccountTransfers(request) {
      if (request.accountId === "") throw invalidArgument("account_id", "is required");
      requireNoNul("account_id", request.accountId);
      if (request.pageSize < 0 || request.pageSize > pageSizeMax) throw invalidArgument("page_size", `must be 0..${pageSizeMax}`);
      const direction =
        request.direction === TransferDirection.DEBITS ? "debits" : request.direction === TransferDirection.CREDITS ? "credits" : "any";
      try {
        const page = await engine.listAccountTransfers({
          accountId: request.accountId,
          startTimeUs: request.startTime ? microsOfTimestamp(request.startTime) : undefined,
          endTimeUs: request.endTime ? microsOfTimestamp(request.endTime) : undefined,
          code: request.code,
          direction,
          pageSize: request.pageSize,
          pageToken: request.pageToken,
        });
        return { transfers: page.transfers.map(transferMessage), nextPageToken: page.nextPageToken };
      } catch (error) {
        if (error instanceof LedgerInputError) throw invalidArgument(error.field, error.message);
        throw error;
      }
    },

    async getAccountBalances(request) {
      if (request.accountId === "") throw invalidArgument("account_id", "is required");
      requireNoNul("account_id", request.accountId);
      if (request.historyLimit < 0 || request.historyLimit > historyLimitMax) throw invalidArgument("history_limit", `must be 0..${historyLimitMax}`);
      const found = await engine.getAccountBalances(
        request.accountId,
        request.asOfTime ? microsOfTimestamp(request.asOfTime) : undefined,
        request.historyLimit,
      );
      if (!found) throw notFound("account_id", request.accountId);
      return { asOf: accountBalanceMessage(found.asOf), history: found.history.map(accountBalanceMessage) };
    },

    async audit(request) {
      const report = await engine.audit(request.ledger);
      return {
        ok: report.ok,
        totals: report.totals,
        violations: report.violations,
        overduePendingCount: report.overduePendingCount,
      };
    },
  };
}
