import { AuthorizationService } from "../../gen/payments/authorization/v1/authorization_service_pb.js";
import { FraudService } from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { createServiceClient } from "../shared/clients.ts";
import { intFromEnv } from "../shared/config.ts";
import { startOutboxRelay, type OutboxRelay } from "../shared/outbox.ts";
import { runService } from "../shared/process.ts";
import { registration } from "../shared/server.ts";
import { startExpiryLoop } from "./expiry.ts";
import { createAuthorizationHandlers } from "./handlers.ts";
import { schema } from "./messages.ts";

const devCardTokenKey = "dev-only-card-token-key-change-me";

await runService({
  name: "authorization",
  schema,
  migrationsFolder: `${import.meta.dirname}/store/migrations`,
  async build({ config, env, pool, nc, logger }) {
    const cardTokenKey = env.CARD_TOKEN_KEY || devCardTokenKey;
    if (cardTokenKey === devCardTokenKey) logger.warn("CARD_TOKEN_KEY is not set: using the development key");
    const handlers = createAuthorizationHandlers({
      pool,
      logger,
      ledger: createServiceClient(LedgerService, config.urls.ledger, { defaultTimeoutMs: 5_000 }),
      fraud: createServiceClient(FraudService, config.urls.fraud, { defaultTimeoutMs: 1_000 }),
      settings: {
        cardTokenKey,
        fraudTimeoutMs: intFromEnv(env, "FRAUD_TIMEOUT_MS", 300, 1, 60_000),
        ledgerTimeoutMs: intFromEnv(env, "LEDGER_TIMEOUT_MS", 3_000, 1, 60_000),
        fraudFallbackAllowMaxMinor: BigInt(intFromEnv(env, "FRAUD_FALLBACK_ALLOW_MAX_MINOR", 10_000, 0)),
        validityMs: intFromEnv(env, "AUTHORIZATION_VALIDITY_SECONDS", 7 * 24 * 3600, 1) * 1000,
        subjectPrefix: config.NATS_SUBJECT_PREFIX,
      },
    });
    let relay: OutboxRelay | undefined;
    let expiry: { stop(): Promise<void> } | undefined;
    return {
      services: [registration(AuthorizationService, handlers)],
      async start() {
        relay = await startOutboxRelay({ pool, schema, nc, logger });
        expiry = startExpiryLoop(pool, config.NATS_SUBJECT_PREFIX, logger, intFromEnv(env, "AUTHORIZATION_EXPIRY_INTERVAL_MS", 60_000, 100));
      },
      async stop() {
        await expiry?.stop();
        await relay?.stop();
      },
    };
  },
});
