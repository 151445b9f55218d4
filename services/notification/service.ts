/**
 * Builds the notification service from its dependencies: the RPC handlers, the durable
 * JetStream consumer (inbox) that creates deliveries, and the dispatcher that sends them.
 * main.ts passes runService's deps; tests pass a test database, stream and settings.
 */
import type { NatsConnection } from "nats";
import type pg from "pg";
import { NotificationService } from "../../gen/payments/notification/v1/notification_service_pb.js";
import { startInboxConsumer, type RunningConsumer } from "../shared/inbox.ts";
import type { Logger } from "../shared/log.ts";
import type { BuiltService } from "../shared/process.ts";
import { registration } from "../shared/server.ts";
import type { NotificationConfig } from "./config.ts";
import { createNotificationHandler, notificationDurable } from "./consumer.ts";
import { startDispatcher, type RunningDispatcher } from "./dispatcher.ts";
import { ensureConsumer } from "../shared/nats.ts";
import { createNotificationRoutes } from "./routes.ts";

export interface NotificationDeps {
  readonly pool: pg.Pool;
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly settings: NotificationConfig;
  /** Injected for tests. */
  readonly fetch?: typeof fetch;
}

/**
 * Declares the durable consumer `<stream>_notification` on the merchant-event stream
 * (`<prefix>.authorization.>` and `<prefix>.settlement.>`, services/shared/nats.ts) and returns
 * the service; `start()` runs the consumer and the
 * dispatcher, `stop()` stops both (in-flight webhook attempts are aborted and re-queued).
 */
export async function buildNotification(deps: NotificationDeps): Promise<BuiltService & { readonly routes: ReturnType<typeof createNotificationRoutes> }> {
  const durable = notificationDurable(deps.stream);
  await ensureConsumer(deps.nc, deps.stream, durable);
  let dispatcher: RunningDispatcher | undefined;
  let consumer: RunningConsumer | undefined;
  const routes = createNotificationRoutes({ pool: deps.pool, wake: () => dispatcher?.wake() });
  const handle = createNotificationHandler({ subjectPrefix: deps.subjectPrefix });
  return {
    routes,
    services: [registration(NotificationService, routes)],
    async start() {
      dispatcher = await startDispatcher({ pool: deps.pool, logger: deps.logger, fetch: deps.fetch, ...deps.settings });
      consumer = await startInboxConsumer({
        nc: deps.nc,
        stream: deps.stream,
        durable,
        pool: deps.pool,
        schema: "notification",
        logger: deps.logger,
        handle: async (client, event) => {
          await handle(client, event);
        },
        // New deliveries committed: wake this process's dispatcher (no database NOTIFY).
        afterCommit: () => dispatcher?.wake(),
      });
    },
    async stop() {
      await consumer?.stop();
      await dispatcher?.stop();
    },
  };
}
