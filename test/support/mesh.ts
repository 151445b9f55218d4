import { join } from "node:path";
import type { ServiceName } from "../../services/shared/config.ts";
import { dropDatabase, withDatabase } from "../../services/shared/db.ts";
import { connectNats, deleteStreams } from "../../services/shared/nats.ts";
import { repoRoot, startMesh, type RunningMesh } from "../../scripts/lib/launcher.ts";
import { natsUrl, postgresBaseUrl, uniqueSuffix } from "./env.ts";

/** A mesh of real service processes for one test file, isolated from any other mesh. */
export interface TestMesh {
  readonly mesh: RunningMesh;
  /** gRPC (h2c) base URLs by service (http://127.0.0.1:<port>). */
  readonly urls: Record<ServiceName, string>;
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly stream: string;
  readonly prefix: string;
  readonly logDir: string;
  /** Stops every child, drops the database and deletes the stream. */
  stop(): Promise<void>;
}

/**
 * Starts `services` (default all) with startMesh on a unique database (`mesh_<random>`), a
 * unique JetStream stream (`M_<random>`) and subject prefix (`m<random>`) and free ports; logs
 * go to .runtime/logs/test-<random>/<service>.log. `env` adds variables (e.g. CORS_ORIGINS).
 */
export async function startTestMesh(options: { services?: readonly ServiceName[]; env?: Record<string, string> } = {}): Promise<TestMesh> {
  const suffix = uniqueSuffix();
  const databaseUrl = withDatabase(postgresBaseUrl, `mesh_${suffix}`);
  const stream = `M_${suffix}`;
  const prefix = `m${suffix}`;
  const logDir = join(repoRoot, ".runtime", "logs", `test-${suffix}`);
  const mesh = await startMesh({
    ports: "free",
    services: options.services,
    // DB_POOL_MAX 4: six services stay well inside PostgreSQL's 100 connections while other
    // test files run beside this one.
    env: { DATABASE_URL: databaseUrl, NATS_URL: natsUrl, NATS_STREAM: stream, NATS_SUBJECT_PREFIX: prefix, LOG_LEVEL: "info", DB_POOL_MAX: "4", ...options.env },
    logs: { dir: logDir },
    readyTimeoutMs: 90_000,
  });
  const urls = {} as Record<ServiceName, string>;
  for (const [name, endpoint] of Object.entries(mesh.endpoints)) urls[name as ServiceName] = endpoint.grpcUrl;
  return {
    mesh,
    urls,
    databaseUrl,
    natsUrl,
    stream,
    prefix,
    logDir,
    async stop() {
      await mesh.stop();
      await dropDatabase(databaseUrl).catch(() => {});
      const nc = await connectNats(natsUrl, "test-mesh-cleanup");
      await deleteStreams(nc, stream);
      await nc.close();
    },
  };
}
