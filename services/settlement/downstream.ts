import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { OperationType, type AuthorizationService } from "../../gen/payments/authorization/v1/authorization_service_pb.js";
import { AccountSchema, TransferSchema, type Transfer } from "../../gen/payments/ledger/v1/ledger_pb.js";
import { CreateAccountResult, CreateTransferResult } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import type { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { accountCodes, accountIds } from "../shared/chart.ts";
import { retryWithBackoff } from "../shared/clients.ts";
import { errorReasonHeader, failedPrecondition, unavailable } from "../shared/errors.ts";
import { ledgerOf } from "../shared/money.ts";
import type { ClearingOperation } from "./domain/batches.ts";
import type { PlannedTransfer } from "./domain/transfers.ts";

/** The authorization calls settlement makes. */
export type AuthorizationClient = Pick<Client<typeof AuthorizationService>, "listOperations">;
/** The ledger calls settlement makes. */
export type LedgerClient = Pick<Client<typeof LedgerService>, "createAccounts" | "createTransfers" | "lookupTransfers">;

/** Per-call deadlines and limits of downstream calls. */
export interface DownstreamSettings {
  readonly authorizationTimeoutMs: number;
  readonly ledgerTimeoutMs: number;
  /** ListOperations page size, 1..5000. */
  readonly operationsPageSize: number;
}

/** The ledger's batch limit (TigerBeetle's 8190). */
export const ledgerBatchMax = 8190;
/** Upper bound on ListOperations pages per close (a loop bound, not a business rule). */
export const operationPagesMax = 100_000;
const attemptsMax = 3;

const transientCodes = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Aborted]);

/** True for downstream failures worth retrying (the calls retried are reads or idempotent by id). */
export function isTransient(error: unknown): boolean {
  return error instanceof ConnectError && transientCodes.has(error.code);
}

/**
 * Wraps a downstream failure so its code never leaks as ours (a ledger NOT_FOUND is not our
 * NOT_FOUND): transient codes become UNAVAILABLE with reason `<DEPENDENCY>_UNAVAILABLE`;
 * anything else INTERNAL with reason `<DEPENDENCY>_ERROR`. The cause is kept server-side.
 */
export function downstreamError(dependency: "authorization" | "ledger", method: string, error: unknown): ConnectError {
  const connectError = ConnectError.from(error);
  const label = `${dependency}.${method} failed: ${Code[connectError.code]} ${connectError.rawMessage}`;
  if (transientCodes.has(connectError.code)) return unavailable(`${dependency.toUpperCase()}_UNAVAILABLE`, label);
  const metadata = new Headers({ [errorReasonHeader]: `${dependency.toUpperCase()}_ERROR` });
  return new ConnectError(label, Code.Internal, metadata, undefined, error);
}

async function call<T>(dependency: "authorization" | "ledger", method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await retryWithBackoff(() => fn(), { attemptsMax, baseDelayMs: 100, maxDelayMs: 1_000, isRetryable: isTransient });
  } catch (error) {
    throw downstreamError(dependency, method, error);
  }
}

/** Raised when the authorization service's clearing file is inconsistent with the request. */
function clearingFileInvalid(message: string): ConnectError {
  return new ConnectError(`clearing file invalid: ${message}`, Code.Internal, new Headers({ [errorReasonHeader]: "CLEARING_FILE_INVALID" }));
}

/**
 * Reads a business date's clearing file (captures and refunds) from
 * AuthorizationService.ListOperations, every page, each call under its deadline. With a
 * `currencyCode` only that currency is read; with "" every currency (each operation keeps its
 * currency). Checks every operation (date, currency, kind, amount >= 1, unique id) and fails
 * INTERNAL CLEARING_FILE_INVALID otherwise.
 */
export async function fetchClearingFile(
  client: AuthorizationClient,
  settings: DownstreamSettings,
  businessDate: string,
  currencyCode: string,
  signal?: AbortSignal,
): Promise<Array<ClearingOperation & { currencyCode: string }>> {
  const operations: Array<ClearingOperation & { currencyCode: string }> = [];
  const seen = new Set<string>();
  let pageToken = "";
  for (let page = 0; page < operationPagesMax; page += 1) {
    const response = await call("authorization", "ListOperations", () =>
      client.listOperations(
        { businessDate, currencyCode, pageSize: settings.operationsPageSize, pageToken },
        { timeoutMs: settings.authorizationTimeoutMs, signal },
      ),
    );
    for (const operation of response.operations) {
      const amount = operation.amount;
      if (seen.has(operation.id)) throw clearingFileInvalid(`operation ${operation.id} listed twice`);
      seen.add(operation.id);
      if (operation.businessDate !== businessDate) throw clearingFileInvalid(`operation ${operation.id} is of ${operation.businessDate}`);
      if (!amount || (currencyCode !== "" && amount.currencyCode !== currencyCode)) {
        throw clearingFileInvalid(`operation ${operation.id} is in ${amount?.currencyCode ?? "no currency"}`);
      }
      if (amount.amountMinor < 1n) throw clearingFileInvalid(`operation ${operation.id} has amount ${amount.amountMinor}`);
      if (!operation.merchantId) throw clearingFileInvalid(`operation ${operation.id} has no merchant`);
      const kind = operation.type === OperationType.CAPTURE ? "capture" : operation.type === OperationType.REFUND ? "refund" : undefined;
      if (!kind) throw clearingFileInvalid(`operation ${operation.id} has type ${operation.type}`);
      operations.push({
        id: operation.id,
        kind,
        merchantId: operation.merchantId,
        partnerId: operation.partnerId,
        amountMinor: amount.amountMinor,
        cardPresent: operation.cardPresent,
        currencyCode: amount.currencyCode,
      });
    }
    if (response.nextPageToken === "") return operations;
    pageToken = response.nextPageToken;
  }
  throw clearingFileInvalid(`more than ${operationPagesMax} pages`);
}

/**
 * Creates the settlement accounts of a currency in the ledger (fees:<CUR> 400, clearing:<CUR>
 * 500, bank:<CUR> 600, no flags). OK and EXISTS are success; anything else fails
 * FAILED_PRECONDITION LEDGER_ACCOUNT_REJECTED.
 */
export async function ensureSettlementAccounts(client: LedgerClient, settings: DownstreamSettings, currencyCode: string, signal?: AbortSignal): Promise<void> {
  const ledger = ledgerOf(currencyCode);
  const accounts = [
    create(AccountSchema, { id: accountIds.fees(currencyCode), ledger, code: accountCodes.fees }),
    create(AccountSchema, { id: accountIds.clearing(currencyCode), ledger, code: accountCodes.clearing }),
    create(AccountSchema, { id: accountIds.bank(currencyCode), ledger, code: accountCodes.bank }),
  ];
  const response = await call("ledger", "CreateAccounts", () =>
    client.createAccounts({ accounts }, { timeoutMs: settings.ledgerTimeoutMs, signal }),
  );
  if (response.results.length !== accounts.length) throw downstreamError("ledger", "CreateAccounts", new Error("result count mismatch"));
  response.results.forEach((result, index) => {
    if (result !== CreateAccountResult.OK && result !== CreateAccountResult.EXISTS) {
      throw failedPrecondition("LEDGER_ACCOUNT_REJECTED", `ledger rejected account ${accounts[index].id}: ${CreateAccountResult[result]}`);
    }
  });
}

/**
 * Posts planned transfers in chunks of at most 8190, unlinked (each is idempotent on its id, so
 * a re-run re-sends them all). OK and EXISTS are success; the first other result fails
 * FAILED_PRECONDITION LEDGER_TRANSFER_REJECTED naming the transfer and the ledger's result.
 */
export async function postTransfers(client: LedgerClient, settings: DownstreamSettings, planned: readonly PlannedTransfer[], signal?: AbortSignal): Promise<void> {
  for (let start = 0; start < planned.length; start += ledgerBatchMax) {
    const chunk = planned.slice(start, start + ledgerBatchMax);
    const transfers = chunk.map((transfer) =>
      create(TransferSchema, {
        id: transfer.id,
        debitAccountId: transfer.debitAccountId,
        creditAccountId: transfer.creditAccountId,
        amount: transfer.amount,
        ledger: transfer.ledger,
        code: transfer.code,
        userData: transfer.userData,
      }),
    );
    const response = await call("ledger", "CreateTransfers", () =>
      client.createTransfers({ transfers }, { timeoutMs: settings.ledgerTimeoutMs, signal }),
    );
    if (response.results.length !== transfers.length) throw downstreamError("ledger", "CreateTransfers", new Error("result count mismatch"));
    response.results.forEach((result, index) => {
      if (result !== CreateTransferResult.OK && result !== CreateTransferResult.EXISTS) {
        throw failedPrecondition("LEDGER_TRANSFER_REJECTED", `ledger rejected transfer ${transfers[index].id}: ${CreateTransferResult[result]}`);
      }
    });
  }
}

/** Looks transfers up by id in chunks of 8190; unknown ids are simply absent from the result. */
export async function lookupTransfers(client: LedgerClient, settings: DownstreamSettings, ids: readonly string[], signal?: AbortSignal): Promise<Transfer[]> {
  const found: Transfer[] = [];
  for (let start = 0; start < ids.length; start += ledgerBatchMax) {
    const chunk = ids.slice(start, start + ledgerBatchMax);
    const response = await call("ledger", "LookupTransfers", () =>
      client.lookupTransfers({ ids: chunk }, { timeoutMs: settings.ledgerTimeoutMs, signal }),
    );
    found.push(...response.transfers);
  }
  return found;
}
