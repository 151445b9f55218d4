import { createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { AuthorizationService } from "../../gen/payments/authorization/v1/authorization_service_pb.js";
import { FraudService } from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { createAuthorizationHandlers, type AuthorizationSettings } from "../../services/authorization/handlers.ts";
import { createFraudService } from "../../services/fraud/routes.ts";
import { createLedgerHandlers } from "../../services/ledger/handlers.ts";
import { createLedgerEngine } from "../../services/ledger/store/engine.ts";
import { createGroupCommitter } from "../../services/ledger/store/group-commit.ts";
import { applyMigrations, type Pool } from "../../services/shared/db.ts";
import { createLogger } from "../../services/shared/log.ts";
import { registration, routesOf } from "../../services/shared/server.ts";

const root = new URL("../../", import.meta.url).pathname;

/** Applies the migrations of the named services to `pool`'s database. */
export async function migrate(pool: Pool, services: readonly ("authorization" | "fraud" | "ledger" | "settlement" | "notification" | "reporting")[]): Promise<void> {
  const schemaOf = { authorization: "authz", fraud: "fraud", ledger: "ledger", settlement: "settlement", notification: "notification", reporting: "reporting" };
  for (const service of services) await applyMigrations(pool, schemaOf[service], `${root}services/${service}/store/migrations`);
}

export const testSettings: AuthorizationSettings = {
  cardTokenKey: "test-key",
  fraudTimeoutMs: 2_000,
  ledgerTimeoutMs: 5_000,
  fraudFallbackAllowMaxMinor: 10_000n,
  validityMs: 7 * 24 * 3600 * 1000,
  subjectPrefix: "test",
};

/**
 * The money core wired in process: real ledger (engine + group commit) and fraud handlers on
 * a real database, reached through in-memory Connect transports (the production routes, no
 * sockets), and the authorization handlers on top. `fraud` / `ledger` can be overridden, e.g.
 * with a client of a closed port to test fallbacks.
 */
export function createCore(pool: Pool, overrides: { fraud?: Client<typeof FraudService>; ledger?: Client<typeof LedgerService>; settings?: Partial<AuthorizationSettings> } = {}) {
  const engine = createLedgerEngine(pool);
  const committer = createGroupCommitter(engine);
  const ledger = createClient(LedgerService, createRouterTransport(routesOf([registration(LedgerService, createLedgerHandlers({ engine, committer }))])));
  const fraud = createClient(FraudService, createRouterTransport(routesOf([registration(FraudService, createFraudService({ pool, declineScore: 550 }))])));
  const handlers = createAuthorizationHandlers({
    pool,
    ledger: overrides.ledger ?? ledger,
    fraud: overrides.fraud ?? fraud,
    logger: createLogger("test", "silent"),
    settings: { ...testSettings, ...overrides.settings },
  });
  const authorization = createClient(AuthorizationService, createRouterTransport(routesOf([registration(AuthorizationService, handlers)])));
  return { engine, committer, ledger, fraud, authorization, handlers };
}
