/**
 * Builds the reporting service from its dependencies: the RPC handlers, the durable JetStream
 * consumer (inbox) that maintains the read models, and the change feed for streams. main.ts
 * passes runService's deps; tests pass a test database and stream.
 */
import type { NatsConnection } from "nats";
import type pg from "pg";
import { ReportingService } from "../../gen/payments/reporting/v1/reporting_service_pb.js";
import { startInboxConsumer, type ConsumedEvent, type RunningConsumer } from "../shared/inbox.ts";
import type { Logger } from "../shared/log.ts";
import type { BuiltService } from "../shared/process.ts";
import { registration } from "../shared/server.ts";
import { createReportingHandler, reportingDurable } from "./consumer.ts";
import { ensureConsumer } from "../shared/nats.ts";
import { createChangeFeed } from "./feed.ts";
import { createReportingRoutes } from "./routes.ts";

export interface ReportingDeps {
  readonly pool: pg.Pool;
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly stream: string;
  readonly subjectPrefix: string;
  /** Longest wait of a stream between polls, ms (default 1000). */
  readonly streamPollMs?: number;
  /** Wraps the handler (tests inject failures). */
  readonly wrapHandler?: (
    handle: (client: pg.PoolClient, event: ConsumedEvent) => Promise<void>,
  ) => (client: pg.PoolClient, event: ConsumedEvent) => Promise<void>;
}

/**
 * Declares the durable consumer `<stream>_reporting` on the merchant-event stream
 * (`<prefix>.authorization.>` and `<prefix>.settlement.>`, services/shared/nats.ts) and returns
 * the service; `start()` runs the consumer and the change feed, `stop()` both.
 */
export async function buildReporting(deps: ReportingDeps): Promise<BuiltService> {
  const durable = reportingDurable(deps.stream);
  await ensureConsumer(deps.nc, deps.stream, durable);
  let consumer: RunningConsumer | undefined;
  const feed = createChangeFeed();
  const routes = createReportingRoutes({ pool: deps.pool, feed, streamPollMs: deps.streamPollMs });
  const base = createReportingHandler({ logger: deps.logger });
  const handle = deps.wrapHandler ? deps.wrapHandler(base) : base;
  return {
    services: [registration(ReportingService, routes)],
    async start() {
      consumer = await startInboxConsumer({
        nc: deps.nc,
        stream: deps.stream,
        durable,
        pool: deps.pool,
        schema: "reporting",
        logger: deps.logger,
        handle,
        afterCommit: () => feed.notify(),
      });
    },
    async stop() {
      await consumer?.stop();
      await feed.stop();
    },
  };
}
