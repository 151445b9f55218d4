import type { NatsConnection } from "nats";
import type pg from "pg";
import { loadCommonConfig, type CommonConfig, type ServiceName } from "./config.ts";
import { applyMigrations, assertPostgresReachable, createPool, ensureDatabase } from "./db.ts";
import { createLogger, type Logger } from "./log.ts";
import { connectNats, ensureStream } from "./nats.ts";
import { startServer, type RunningServer, type ServiceRegistration } from "./server.ts";

/** What a service's main gets to build itself. */
export interface ServiceDeps {
  readonly config: CommonConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly pool: pg.Pool;
  readonly nc: NatsConnection;
  readonly logger: Logger;
}

/** What a service hands back: its RPC services and its background work. */
export interface BuiltService {
  readonly services: readonly ServiceRegistration[];
  /** Starts background loops (outbox relay, consumers, expiry); called before ready. */
  start?(): Promise<void>;
  /** Stops background loops and flushes (outbox); called after the servers drained. */
  stop?(): Promise<void>;
}

/**
 * Runs one service process: checks PostgreSQL and NATS (one clear line each when
 * unreachable), creates the database if missing, applies the service's migrations in its own
 * schema, declares the JetStream stream, builds the service, serves gRPC (h2c) and
 * Connect/gRPC-web (HTTP/1.1), flips readiness, and prints one JSON "ready" line on stdout
 * with its ports. SIGINT/SIGTERM: not ready, drain in-flight calls (SHUTDOWN_GRACE_MS), stop
 * background work (flushing the outbox), drain NATS, close the pool, exit 0.
 */
export async function runService(options: {
  name: ServiceName;
  schema: string;
  migrationsFolder: string;
  build: (deps: ServiceDeps) => Promise<BuiltService>;
  env?: NodeJS.ProcessEnv;
}): Promise<void> {
  const env = options.env ?? process.env;
  const logger = createLogger(options.name);
  let config: CommonConfig;
  try {
    config = loadCommonConfig(options.name, env);
    await assertPostgresReachable(config.DATABASE_URL);
  } catch (error) {
    process.stderr.write(`${options.name}: ${(error as Error).message}\n`);
    process.exit(2);
  }
  let nc: NatsConnection;
  try {
    nc = await connectNats(config.NATS_URL, options.name);
  } catch (error) {
    process.stderr.write(`${options.name}: ${(error as Error).message}\n`);
    process.exit(2);
  }
  await ensureDatabase(config.DATABASE_URL);
  const pool = createPool(config.DATABASE_URL, { max: config.DB_POOL_MAX, applicationName: options.name });
  await applyMigrations(pool, options.schema, options.migrationsFolder);
  await ensureStream(nc, config.NATS_STREAM, config.NATS_SUBJECT_PREFIX);

  const built = await options.build({ config, env, pool, nc, logger });
  let server: RunningServer | undefined;
  server = await startServer({
    name: options.name,
    host: config.HOST,
    grpcPort: config.grpcPort,
    httpPort: config.httpPort,
    services: built.services,
    corsOrigins: config.corsOrigins,
    logger,
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: draining in-flight calls");
    try {
      await server?.close(config.SHUTDOWN_GRACE_MS);
      await built.stop?.();
      await nc.drain();
      await pool.end();
      logger.info("stopped cleanly");
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, "unclean shutdown");
      process.exit(1);
    }
  };
  // Handlers first, then the ready line: a SIGTERM sent right after it must drain, not kill.
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  await built.start?.();
  server.setReady(true);
  logger.info({ grpc_port: server.grpcPort, http_port: server.httpPort }, "ready");
  process.stdout.write(
    `${JSON.stringify({ ready: options.name, grpc: `${config.HOST}:${server.grpcPort}`, http: `http://${config.HOST}:${server.httpPort}` })}\n`,
  );
}
