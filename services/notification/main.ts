/** Notification process: webhook endpoints, the event consumer, the webhook dispatcher. */
import { fileURLToPath } from "node:url";
import { runService } from "../shared/process.ts";
import { loadNotificationConfig } from "./config.ts";
import { buildNotification } from "./service.ts";

await runService({
  name: "notification",
  schema: "notification",
  migrationsFolder: fileURLToPath(new URL("./store/migrations", import.meta.url)),
  build: ({ config, env, pool, nc, logger }) =>
    buildNotification({
      pool,
      nc,
      logger,
      stream: config.NATS_STREAM,
      subjectPrefix: config.NATS_SUBJECT_PREFIX,
      settings: loadNotificationConfig(env),
    }),
});
