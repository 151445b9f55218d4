import { assertPostgresReachable } from "../../services/shared/db.ts";
import { connectNats } from "../../services/shared/nats.ts";

/** Fails the whole run with one clear line when PostgreSQL or NATS is not reachable. */
export default async function setup(): Promise<void> {
  await assertPostgresReachable(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
  const nc = await connectNats(process.env.NATS_URL ?? "nats://127.0.0.1:4222", "vitest-global-setup");
  await nc.close();
}
