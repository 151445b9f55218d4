import type { ServiceImpl } from "@connectrpc/connect";
import { SettlementService } from "../../gen/payments/settlement/v1/settlement_service_pb.js";
import { registration, type ServiceRegistration } from "../shared/server.ts";
import { closeBusinessDayHandler } from "./handlers/close-business-day.ts";
import type { SettlementDeps } from "./handlers/deps.ts";
import { getSettlementBatchHandler, listSettlementBatchesHandler } from "./handlers/read-batches.ts";
import { reconcileHandler } from "./handlers/reconcile.ts";

export type { SettlementDeps } from "./handlers/deps.ts";

/**
 * The SettlementService implementation over injected dependencies (pool, authorization and
 * ledger clients, clock, fee schedule). See each handler for shapes, units and errors:
 * handlers/close-business-day.ts, handlers/read-batches.ts, handlers/reconcile.ts.
 */
export function createSettlementService(deps: SettlementDeps): ServiceImpl<typeof SettlementService> {
  const ensuredCurrencies = new Set<string>();
  return {
    closeBusinessDay: closeBusinessDayHandler(deps, ensuredCurrencies),
    getSettlementBatch: getSettlementBatchHandler(deps),
    listSettlementBatches: listSettlementBatchesHandler(deps),
    reconcile: reconcileHandler(deps),
  } satisfies ServiceImpl<typeof SettlementService>;
}

/** The registration runService serves (and tests route through createRouterTransport). */
export function settlementRegistration(deps: SettlementDeps): ServiceRegistration {
  return registration(SettlementService, createSettlementService(deps));
}
