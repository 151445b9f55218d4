import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { Histogram } from "prom-client";
import { intFromEnv } from "../shared/config.ts";
import { metricsRegistry } from "../shared/telemetry.ts";
import { startOutboxRelay, type OutboxRelay } from "../shared/outbox.ts";
import { runService } from "../shared/process.ts";
import { registration } from "../shared/server.ts";
import { accountsFeed, transfersFeed } from "./change-feed.ts";
import { expiryIntervalMsFromEnv } from "./config.ts";
import { createLedgerHandlers } from "./handlers.ts";
import { overdueGraceFor } from "./store/audit.ts";
import { createLedgerEngine } from "./store/engine.ts";
import { createGroupCommitter } from "./store/group-commit.ts";

/** Group commit, on /metrics: how many transfers each shared transaction carried, and how long
 * it took (lock, evaluate, write, commit). */
const groupCommitTransfers = new Histogram({
  name: "ledger_group_commit_transfers",
  help: "Transfers per shared CreateTransfers database transaction (group commit)",
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 8190],
  registers: [metricsRegistry],
});
const groupCommitSeconds = new Histogram({
  name: "ledger_group_commit_transaction_seconds",
  help: "Duration of a shared CreateTransfers database transaction in seconds",
  buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
  registers: [metricsRegistry],
});

await runService({
  name: "ledger",
  schema: "ledger",
  migrationsFolder: `${import.meta.dirname}/store/migrations`,
  async build({ config, env, pool, nc, logger }) {
    const expiryIntervalMs = expiryIntervalMsFromEnv(env);
    const engine = createLedgerEngine(pool, { auditOverdueGraceUs: overdueGraceFor(expiryIntervalMs) });
    const feedEnabled = (env.LEDGER_CHANGE_FEED ?? "on") !== "off";
    // One feed for group commit and expiry.
    const feed = feedEnabled ? transfersFeed(config.NATS_SUBJECT_PREFIX) : undefined;
    const committer = createGroupCommitter(engine, {
      inFlightMax: intFromEnv(env, "LEDGER_GROUP_COMMIT_IN_FLIGHT", 2, 1, 64),
      onCommit: feed,
      observe: (transfers, seconds) => {
        groupCommitTransfers.observe(transfers);
        groupCommitSeconds.observe(seconds);
      },
    });
    const handlers = createLedgerHandlers({
      engine,
      committer,
      onAccountsCommit: feedEnabled ? accountsFeed(config.NATS_SUBJECT_PREFIX) : undefined,
    });
    let relay: OutboxRelay | undefined;
    let timer: NodeJS.Timeout | undefined;
    let expiring: Promise<unknown> = Promise.resolve();
    return {
      services: [registration(LedgerService, handlers)],
      async start() {
        relay = await startOutboxRelay({ pool, schema: "ledger", nc, logger });
        // Holds past their timeout are released (TigerBeetle expires pending transfers itself).
        timer = setInterval(() => {
          expiring = engine
            .expirePendingTransfers(undefined, undefined, { onCommit: feed })
            .then((ids) => ids.length > 0 && logger.info({ count: ids.length }, "holds expired"))
            .catch((error) => logger.warn({ err: error }, "hold expiry failed"));
        }, expiryIntervalMs);
      },
      async stop() {
        clearInterval(timer);
        await expiring;
        await committer.drain();
        await relay?.stop();
      },
    };
  },
});
