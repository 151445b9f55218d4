/**
 * Fakes of the two downstream services settlement calls, served through connect's in-memory
 * router transport so the handlers use real typed clients. Unit tests only: the real
 * authorization and ledger services are exercised by the lead's end-to-end test.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import {
  AuthorizationService,
  OperationSchema,
  OperationType,
  type Operation,
} from "../../gen/payments/authorization/v1/authorization_service_pb.js";
import { MoneySchema } from "../../gen/payments/common/v1/money_pb.js";
import { TransferSchema, TransferState, type Account, type Transfer } from "../../gen/payments/ledger/v1/ledger_pb.js";
import { CreateAccountResult, CreateTransferResult } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import type { ServiceRegistration } from "../../services/shared/server.ts";
import { routesOf } from "../../services/shared/server.ts";

export interface FakeLedger {
  accounts: Map<string, Account>;
  transfers: Map<string, Transfer>;
  /** Every CreateTransfers call's ids, in order. */
  createTransferCalls: string[][];
  /** When set, CreateTransfers applies this many more transfers and then fails UNAVAILABLE. */
  failAfterTransfers?: number;
  /** When set, LookupTransfers returns each found transfer this many times. */
  lookupRepeat?: number;
}

export function fakeLedgerRegistration(ledger: FakeLedger): ServiceRegistration {
  const impl: Partial<ServiceImpl<typeof LedgerService>> = {
      createAccounts(request: { accounts: Account[] }) {
        return {
          results: request.accounts.map((account) => {
            if (ledger.accounts.has(account.id)) return CreateAccountResult.EXISTS;
            ledger.accounts.set(account.id, account);
            return CreateAccountResult.OK;
          }),
        };
      },
      createTransfers(request: { transfers: Transfer[] }) {
        ledger.createTransferCalls.push(request.transfers.map((transfer) => transfer.id));
        const results = request.transfers.map((transfer) => {
          if (ledger.failAfterTransfers !== undefined) {
            if (ledger.failAfterTransfers === 0) throw new ConnectError("ledger went away", Code.Unavailable);
            ledger.failAfterTransfers -= 1;
          }
          const existing = ledger.transfers.get(transfer.id);
          if (existing) {
            if (existing.amount !== transfer.amount) return CreateTransferResult.EXISTS_WITH_DIFFERENT_AMOUNT;
            if (existing.debitAccountId !== transfer.debitAccountId) return CreateTransferResult.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID;
            if (existing.creditAccountId !== transfer.creditAccountId) return CreateTransferResult.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID;
            return CreateTransferResult.EXISTS;
          }
          if (!ledger.accounts.has(transfer.debitAccountId)) return CreateTransferResult.DEBIT_ACCOUNT_NOT_FOUND;
          if (!ledger.accounts.has(transfer.creditAccountId)) return CreateTransferResult.CREDIT_ACCOUNT_NOT_FOUND;
          ledger.transfers.set(transfer.id, create(TransferSchema, { ...transfer, state: TransferState.POSTED, createTime: timestampFromDate(new Date()) }));
          return CreateTransferResult.OK;
        });
        return { results };
      },
      lookupTransfers(request: { ids: string[] }) {
        const found = request.ids.flatMap((id) => {
          const transfer = ledger.transfers.get(id);
          return transfer ? Array.from({ length: ledger.lookupRepeat ?? 1 }, () => transfer) : [];
        });
        return { transfers: found };
      },
  };
  return { service: LedgerService, impl: impl as ServiceRegistration["impl"] };
}

export interface FakeAuthorization {
  operations: Operation[];
  /** Every ListOperations request (date, currency, page size). */
  calls: Array<{ businessDate: string; currencyCode: string; pageSize: number }>;
  /** When set, ListOperations fails with this code. */
  failWith?: Code;
}

export function fakeAuthorizationRegistration(authorization: FakeAuthorization): ServiceRegistration {
  const impl: Partial<ServiceImpl<typeof AuthorizationService>> = {
      listOperations(request: { businessDate: string; currencyCode: string; pageSize: number; pageToken: string }) {
        authorization.calls.push({ businessDate: request.businessDate, currencyCode: request.currencyCode, pageSize: request.pageSize });
        if (authorization.failWith !== undefined) throw new ConnectError("authorization says no", authorization.failWith);
        const matching = authorization.operations
          .filter((operation) => operation.businessDate === request.businessDate)
          .filter((operation) => request.currencyCode === "" || operation.amount?.currencyCode === request.currencyCode)
          .sort((left, right) => (left.id < right.id ? -1 : 1));
        const start = request.pageToken === "" ? 0 : Number(request.pageToken);
        const size = request.pageSize || 1000;
        const page = matching.slice(start, start + size);
        return { operations: page, nextPageToken: start + size < matching.length ? String(start + size) : "" };
      },
  };
  return { service: AuthorizationService, impl: impl as ServiceRegistration["impl"] };
}

let sequence = 0;

/** A capture or refund of the clearing file. */
export function operation(init: {
  kind: "capture" | "refund";
  merchantId: string;
  amountMinor: bigint;
  businessDate: string;
  currencyCode?: string;
  cardPresent?: boolean;
  partnerId?: string;
}): Operation {
  sequence += 1;
  const prefix = init.kind === "capture" ? "cap" : "rfd";
  return create(OperationSchema, {
    id: `${prefix}_${String(sequence).padStart(8, "0")}`,
    type: init.kind === "capture" ? OperationType.CAPTURE : OperationType.REFUND,
    authorizationId: `auth_${sequence}`,
    merchantId: init.merchantId,
    partnerId: init.partnerId ?? "p1",
    amount: create(MoneySchema, { currencyCode: init.currencyCode ?? "USD", amountMinor: init.amountMinor }),
    businessDate: init.businessDate,
    eventTime: timestampFromDate(new Date(`${init.businessDate}T12:00:00Z`)),
    merchantCategory: "grocery_pos",
    cardPresent: init.cardPresent ?? true,
    ledgerTransferId: `${prefix}:${sequence}`,
  });
}

/** Typed clients over the fakes' in-memory transport. */
export function fakeClients(ledger: FakeLedger, authorization: FakeAuthorization) {
  const transport = createRouterTransport(routesOf([fakeLedgerRegistration(ledger), fakeAuthorizationRegistration(authorization)]));
  return { ledger: createClient(LedgerService, transport), authorization: createClient(AuthorizationService, transport) };
}
