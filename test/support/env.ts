import { randomBytes } from "node:crypto";
import type { NatsConnection } from "nats";
import { createPool, dropDatabase, ensureDatabase, withDatabase, type Pool } from "../../services/shared/db.ts";
import { connectNats, deleteStreams } from "../../services/shared/nats.ts";

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
