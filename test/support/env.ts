import { randomBytes } from "node:crypto";
import type { NatsConnection } from "nats";
import { applyMigrations, createPool, dropDatabase, ensureDatabase, withDatabase, type Pool } from "../../services/shared/db.ts";
import { connectNats, deleteStreams, ensureStream } from "../../services/shared/nats.ts";

/** Base URLs of the real PostgreSQL and NATS the tests use. */
export const postgresBaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** A short random suffix so concurrent runs never share a database, stream or subject. */
export function uniqueSuffix(): string {
  return randomBytes(5).toString("hex");
}

/** A fresh database named `<prefix>_<random>`; `drop()` removes it. */
export async function createTestDatabase(prefix: string): Promise<{ url: string; pool: Pool; drop: () => Promise<void> }> {
  const url = withDatabase(postgresBaseUrl, `${prefix}_${uniqueSuffix()}`);
  await ensureDatabase(url);
  const pool = createPool(url, { max: 10, applicationName: `test-${prefix}` });
  // drop() force-drops the database: idle clients then get 57P01, which must not crash the run.
  pool.on("error", () => {});
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      await dropDatabase(url);
    },
  };
}

/** Unique JetStream names for one test: stream `T_<random>` on subjects `t<random>.>`. */
export function uniqueStreamNames(): { stream: string; prefix: string } {
  const suffix = uniqueSuffix();
  return { stream: `T_${suffix}`, prefix: `t${suffix}` };
}

/** Connects to the test NATS and deletes `stream` (and its `<stream>_LEDGER` twin) on cleanup. */
export async function connectTestNats(stream: string): Promise<{ nc: NatsConnection; cleanup: () => Promise<void> }> {
  const nc = await connectNats(natsUrl, "vitest");
  return {
    nc,
    async cleanup() {
      await deleteStreams(nc, stream);
      await nc.close();
    },
  };
}

/**
 * What the tests of a service that consumes the event stream start from: a fresh database
 * `<schema>_<random>` with the service's migrations (from `migrationsFolder`) applied, unique
 * stream names, a NATS connection and the stream itself. `cleanup()` deletes the stream, closes
 * the connection and drops the database.
 */
export async function createConsumerTestEnv(
  schema: string,
  migrationsFolder: string,
): Promise<{ pool: Pool; nc: NatsConnection; names: { stream: string; prefix: string }; cleanup: () => Promise<void> }> {
  const db = await createTestDatabase(schema);
  await applyMigrations(db.pool, schema, migrationsFolder);
  const names = uniqueStreamNames();
  const nats = await connectTestNats(names.stream);
  await ensureStream(nats.nc, names.stream, names.prefix);
  return {
    pool: db.pool,
    nc: nats.nc,
    names,
    async cleanup() {
      await nats.cleanup();
      await db.drop();
    },
  };
}
