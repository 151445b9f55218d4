/**
 * A LedgerService served by the real server stack (services/shared/server.ts: grpc-js h2c,
 * the instrumented handler wrapper, metrics), whose CreateTransfers answers OK for every
 * transfer after STUB_DELAY_MS (default 0) without touching a database. Used by
 * bench/rpc-ceiling.ts to measure what the RPC path alone costs; not a service.
 * Prints one JSON line {"ready":"stub","grpc":"127.0.0.1:<port>"} on stdout.
 */
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { CreateTransferResult } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import { createLogger } from "../../services/shared/log.ts";
import { startServer, type ServiceRegistration } from "../../services/shared/server.ts";

const delayMs = Number(process.env.STUB_DELAY_MS ?? "0");
const createTransfers = async (request: { transfers: unknown[] }) => {
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  return { results: request.transfers.map(() => CreateTransferResult.OK) };
};
const stub: ServiceRegistration = { service: LedgerService, impl: { createTransfers } as unknown as ServiceRegistration["impl"] };
const server = await startServer({
  name: "ledger",
  host: "127.0.0.1",
  grpcPort: 0,
  httpPort: 0,
  services: [stub],
  corsOrigins: [],
  logger: createLogger("stub-ledger", "warn"),
});
server.setReady(true);
process.stdout.write(`${JSON.stringify({ ready: "stub", grpc: `127.0.0.1:${server.grpcPort}` })}\n`);
process.on("SIGTERM", () => void server.close(1000).then(() => process.exit(0)));
