import { createHash } from "node:crypto";
import type pg from "pg";
import { idempotencyKeyInFlight, idempotencyKeyReused } from "../../shared/errors.ts";

/**
 * Idempotency keys (SEMANTICS.md "Idempotency"; Stripe, AIP-155). Scope: (method, key).
 * - claim: the first request inserts the key as in_flight with a fresh resource id;
 * - an identical repeat of a completed request gets the stored response (replay);
 * - a repeat with a different request hash: ALREADY_EXISTS (IDEMPOTENCY_KEY_REUSED);
 * - a repeat while the first is in flight: ABORTED (retry later), unless the claim is stale
 *   (its process died) or was marked retryable (a dependency's outcome was unknown): then the
 *   repeat takes it over with the SAME resource id, so ledger transfer ids repeat and the
 *   ledger answers `exists` instead of moving money twice.
 * Business outcomes (approvals, declines) are stored; errors that wrote nothing release the key.
 */
export const inFlightStaleMs = 30_000;

export type Claim = { kind: "claimed"; resourceId: string } | { kind: "replay"; response: Uint8Array };

/** SHA-256 of method + canonical request bytes (protobuf-es binary is deterministic for a
 * given message; PANs are replaced by their token before hashing). */
export function requestHash(method: string, bytes: Uint8Array): Buffer {
  return createHash("sha256").update(method).update("\0").update(bytes).digest();
}

export async function claimKey(
  pool: pg.Pool,
  schema: string,
  method: string,
  key: string,
  hash: Buffer,
  newResourceId: string,
): Promise<Claim> {
  const inserted = await pool.query(
    `insert into ${schema}.idempotency_keys (method, key, request_hash, state, resource_id)
     values ($1, $2, $3, 'in_flight', $4) on conflict do nothing`,
    [method, key, hash, newResourceId],
  );
  if (inserted.rowCount === 1) return { kind: "claimed", resourceId: newResourceId };
  const found = await pool.query<{ request_hash: Buffer; state: string; resource_id: string; response: Buffer | null; stale: boolean }>(
    `select request_hash, state, resource_id, response,
            update_time < now() - ($3::int * interval '1 millisecond') as stale
       from ${schema}.idempotency_keys where method = $1 and key = $2`,
    [method, key, inFlightStaleMs],
  );
  const row = found.rows[0];
  if (!row) {
    // Released between our insert and select: try once more from the start.
    return claimKey(pool, schema, method, key, hash, newResourceId);
  }
  if (!row.request_hash.equals(hash)) throw idempotencyKeyReused();
  if (row.state === "completed" && row.response) return { kind: "replay", response: new Uint8Array(row.response) };
  if (row.state === "retryable" || row.stale) {
    const taken = await pool.query(
      `update ${schema}.idempotency_keys set state = 'in_flight', update_time = now()
        where method = $1 and key = $2 and state = $3 and resource_id = $4
          and (state = 'retryable' or update_time < now() - ($5::int * interval '1 millisecond'))`,
      [method, key, row.state, row.resource_id, inFlightStaleMs],
    );
    if (taken.rowCount === 1) return { kind: "claimed", resourceId: row.resource_id };
  }
  throw idempotencyKeyInFlight();
}

/** Stores the response with the effect, inside the effect's transaction. */
export async function completeKey(client: pg.PoolClient, schema: string, method: string, key: string, response: Uint8Array): Promise<void> {
  await client.query(
    `update ${schema}.idempotency_keys set state = 'completed', response = $3, update_time = now() where method = $1 and key = $2`,
    [method, key, Buffer.from(response)],
  );
}

/** Forgets a claim whose request failed without any effect (bad state, not found). */
export async function releaseKey(pool: pg.Pool, schema: string, method: string, key: string): Promise<void> {
  await pool.query(`delete from ${schema}.idempotency_keys where method = $1 and key = $2 and state <> 'completed'`, [method, key]);
}

/** Marks a claim whose dependency outcome is unknown, so an identical retry resumes it. */
export async function markRetryable(pool: pg.Pool, schema: string, method: string, key: string): Promise<void> {
  await pool.query(
    `update ${schema}.idempotency_keys set state = 'retryable', update_time = now() where method = $1 and key = $2 and state = 'in_flight'`,
    [method, key],
  );
}
