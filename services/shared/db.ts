import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";

// int8 (bigint) columns come back as bigint, never as a JS number or a string a caller
// might parseFloat: money stays exact from PostgreSQL to Protobuf.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => BigInt(value));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** Creates a pg pool for `url` with a bounded size and statement timeout. */
export function createPool(url: string, options: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName,
    statement_timeout: 30_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client whose connection dies (server restart, admin kill) makes the pool emit
  // "error"; pg already removed the client, and the next query opens a new connection. Without
  // a listener the process would crash.
  pool.on("error", () => {});
  return pool;
}

/**
 * Checks that PostgreSQL answers; throws one clear line naming the URL tried (password hidden)
 * and how to fix it.
 */
export async function assertPostgresReachable(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: withDatabase(url, "postgres"), connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query("select 1");
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${redactUrl(url)} (${(error as Error).message}); start it ` +
        "(e.g. pg_ctlcluster 15 main start) or set DATABASE_URL",
    );
  } finally {
    await admin.end().catch(() => {});
  }
}

/** Creates the database named in `url` if it does not exist (safe when raced). */
export async function ensureDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} is not [a-z0-9_]{1,63}`);
  const admin = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await admin.connect();
  try {
    const found = await admin.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount === 0) {
      try {
        await admin.query(`create database ${name}`);
      } catch (error) {
        // 42P04 duplicate_database, 23505 unique_violation: another process won the race.
        const code = (error as { code?: string }).code;
        if (code !== "42P04" && code !== "23505") throw error;
      }
    }
  } finally {
    await admin.end();
  }
}

/** Drops a database (tests only). */
export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

/**
 * Applies a service's drizzle-kit migrations from `folder`. Each service has its own migrations
 * table (drizzle.<schema>_migrations). One advisory lock serializes the migrations of every
 * service and replica starting together.
 */
export async function applyMigrations(pool: pg.Pool, schema: string, folder: string): Promise<void> {
  const client = await pool.connect();
  try {
    // One lock for every service's migrations: drizzle creates the shared "drizzle" schema
    // with CREATE SCHEMA IF NOT EXISTS, which races between services starting together.
    await client.query("select pg_advisory_lock(hashtext('payments:migrate'))");
    await migrate(drizzle(client), { migrationsFolder: folder, migrationsSchema: "drizzle", migrationsTable: `${schema}_migrations` });
  } finally {
    await client.query("select pg_advisory_unlock(hashtext('payments:migrate'))").catch(() => {});
    client.release();
  }
}

/** Returns `url` with its database replaced. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** `url` with any password replaced by ***. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/** Runs `fn` in a transaction on a pooled client; rolls back on any throw. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
