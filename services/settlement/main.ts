/**
 * Settlement service process: closes business days into per-merchant batches, moves the money in
 * the ledger, publishes SettlementBatchSettled through the outbox, and reconciles.
 * Wiring only; the logic is in routes.ts / handlers/ / domain/ / store/.
 */
import { fileURLToPath } from "node:url";
import { AuthorizationService } from "../../gen/payments/authorization/v1/authorization_service_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { createServiceClient } from "../shared/clients.ts";
import { startOutboxRelay, type OutboxRelay } from "../shared/outbox.ts";
import { runService } from "../shared/process.ts";
import { loadSettlementSettings } from "./config.ts";
import { ensureSettlementAccounts } from "./downstream.ts";
import { settlementRegistration } from "./routes.ts";
import { settlementDbSchema } from "./store/queries.ts";

await runService({
  name: "settlement",
  schema: settlementDbSchema,
  migrationsFolder: fileURLToPath(new URL("./store/migrations", import.meta.url)),
  async build({ config, env, pool, nc, logger }) {
    const settings = loadSettlementSettings(env);
    const authorization = createServiceClient(AuthorizationService, config.urls.authorization, {
      defaultTimeoutMs: settings.authorizationTimeoutMs,
    });
    const ledger = createServiceClient(LedgerService, config.urls.ledger, { defaultTimeoutMs: settings.ledgerTimeoutMs });
    let relay: OutboxRelay | undefined;
    const accountsReady = new AbortController();
    return {
      services: [settlementRegistration({ pool, authorization, ledger, subjectPrefix: config.NATS_SUBJECT_PREFIX, settings, logger })],
      async start() {
        relay = await startOutboxRelay({ pool, schema: settlementDbSchema, nc, logger });
        // Best effort, in the background: the ledger may start after us. CloseBusinessDay
        // ensures its currency's accounts again before moving money.
        void (async () => {
          for (const currency of settings.currencies) {
            for (let attempt = 1; attempt <= 30 && !accountsReady.signal.aborted; attempt += 1) {
              try {
                await ensureSettlementAccounts(ledger, settings, currency, accountsReady.signal);
                logger.info({ currency }, "settlement ledger accounts ready");
                break;
              } catch (error) {
                logger.warn({ err: error, currency, attempt }, "settlement ledger accounts not created yet; retrying");
                await new Promise((resolve) => setTimeout(resolve, 2_000).unref());
              }
            }
          }
        })();
      },
      async stop() {
        accountsReady.abort();
        await relay?.stop();
      },
    };
  },
});
