/** Reporting process: read models from the event stream, served over RPC. */
import { fileURLToPath } from "node:url";
import { intFromEnv } from "../shared/config.ts";
import { runService } from "../shared/process.ts";
import { buildReporting } from "./service.ts";

await runService({
  name: "reporting",
  schema: "reporting",
  migrationsFolder: fileURLToPath(new URL("./store/migrations", import.meta.url)),
  build: ({ config, env, pool, nc, logger }) =>
    buildReporting({
      pool,
      nc,
      logger,
      stream: config.NATS_STREAM,
      subjectPrefix: config.NATS_SUBJECT_PREFIX,
      streamPollMs: intFromEnv(env, "REPORTING_STREAM_POLL_MS", 1_000, 10, 60_000),
    }),
});
