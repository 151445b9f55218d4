/**
 * LedgerService clients for the load generators (bench/ledger-bench.ts and its load threads):
 * - "h2": connect's createClient over the lean HTTP/2 gRPC transport (./h2-grpc-transport.ts),
 *   the default;
 * - "connect": createClient over the @grpc/grpc-js transport the services use;
 * - "raw": a raw @grpc/grpc-js Client (makeUnaryRequest with protobuf-es toBinary/fromBinary).
 */
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import type { AccountSchema, Transfer } from "../../gen/payments/ledger/v1/ledger_pb.js";
import type { CreateTransferResult } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import {
  AuditRequestSchema,
  AuditResponseSchema,
  CreateAccountsRequestSchema,
  CreateAccountsResponseSchema,
  CreateTransfersRequestSchema,
  CreateTransfersResponseSchema,
  LedgerService,
} from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { createGrpcJsTransport } from "../../services/shared/grpc-transport.ts";
import { createH2GrpcTransport } from "./h2-grpc-transport.ts";

export type ClientKind = "h2" | "raw" | "connect";
export type CreateTransfersCall = (transfers: Transfer[]) => Promise<CreateTransferResult[]>;

/** Deadline of every benchmark call. */
export const callDeadlineMs = 60_000;

function rawMethod<I extends DescMessage, O extends DescMessage>(client: grpc.Client, path: string, input: I, output: O) {
  const serialize = (value: unknown) => Buffer.from(toBinary(input, value as never));
  const deserialize = (bytes: Buffer) => fromBinary(output, bytes);
  return (request: unknown): Promise<ReturnType<typeof deserialize>> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(path, serialize, deserialize, request, new grpc.Metadata(), { deadline: Date.now() + callDeadlineMs }, (error, response) =>
        error ? reject(error) : resolve(response as ReturnType<typeof deserialize>),
      );
    });
}

/** A client of the ledger at `target` (host:port, h2c). */
export function ledgerClient(target: string, clientKind: ClientKind) {
  const options = { "grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.max_send_message_length": 16 * 1024 * 1024 };
  if (clientKind === "connect" || clientKind === "h2") {
    const transport =
      clientKind === "h2"
        ? createH2GrpcTransport({ baseUrl: target, defaultTimeoutMs: callDeadlineMs })
        : createGrpcJsTransport({ baseUrl: target, defaultTimeoutMs: callDeadlineMs });
    const client = createClient(LedgerService, transport);
    return {
      createTransfers: (async (transfers) => (await client.createTransfers({ transfers })).results) as CreateTransfersCall,
      createAccounts: async (accounts: ReturnType<typeof create<typeof AccountSchema>>[]) => (await client.createAccounts({ accounts })).results,
      audit: () => client.audit({}),
      close: () => transport.close(),
    };
  }
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), options);
  const prefix = `/${LedgerService.typeName}`;
  const createTransfers = rawMethod(client, `${prefix}/CreateTransfers`, CreateTransfersRequestSchema, CreateTransfersResponseSchema);
  const createAccounts = rawMethod(client, `${prefix}/CreateAccounts`, CreateAccountsRequestSchema, CreateAccountsResponseSchema);
  const audit = rawMethod(client, `${prefix}/Audit`, AuditRequestSchema, AuditResponseSchema);
  return {
    createTransfers: (async (transfers) =>
      (await createTransfers(create(CreateTransfersRequestSchema, { transfers }))).results) as CreateTransfersCall,
    createAccounts: async (accounts: ReturnType<typeof create<typeof AccountSchema>>[]) =>
      (await createAccounts(create(CreateAccountsRequestSchema, { accounts }))).results,
    audit: () => audit(create(AuditRequestSchema, {})),
    close: () => client.close(),
  };
}
