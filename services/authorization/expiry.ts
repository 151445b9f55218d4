import { AuthorizationEventType } from "../../gen/payments/authorization/v1/authorization_events_pb.js";
import { inTransaction, type Pool } from "../shared/db.ts";
import type { Logger } from "../shared/log.ts";
import { emitAuthorizationEvent } from "./messages.ts";
import { businessDateOf } from "./domain/validation.ts";
import { lockExpiredAuthorizations, updateAuthorizationLifecycle } from "./store/repository.ts";

/** Authorizations expired per pass (bounded), and how often passes run. */
export const expiryBatchMax = 500;

/**
 * Expires authorizations whose 7-day validity passed (SEMANTICS.md "Card lifecycle"): state
 * EXPIRED (or CAPTURED when partly captured: the rest is released) and an `expired` event whose
 * amount is the released remainder. The ledger releases the hold itself through the hold's
 * timeout. Rows are claimed with FOR UPDATE SKIP LOCKED, so replicas can all run this.
 * Returns how many were expired.
 */
export async function expireAuthorizations(pool: Pool, subjectPrefix: string, now: Date): Promise<number> {
  return inTransaction(pool, async (client) => {
    const rows = await lockExpiredAuthorizations(client, now, expiryBatchMax);
    for (const row of rows) {
      const updated = await updateAuthorizationLifecycle(client, row.id, {
        capturedMinor: row.capturedMinor,
        refundedMinor: row.refundedMinor,
        state: row.capturedMinor > 0n ? "CAPTURED" : "EXPIRED",
        holdTransferId: row.holdTransferId,
        holdSequence: row.holdSequence,
      });
      await emitAuthorizationEvent(client, subjectPrefix, {
        type: AuthorizationEventType.EXPIRED,
        row: updated,
        amountMinor: row.amountMinor - row.capturedMinor,
        businessDate: businessDateOf(now),
        occurTime: now,
      });
    }
    return rows.length;
  });
}

/** Runs expireAuthorizations every `intervalMs` until stopped. */
export function startExpiryLoop(pool: Pool, subjectPrefix: string, logger: Logger, intervalMs: number): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = expireAuthorizations(pool, subjectPrefix, new Date())
      .then((count) => count > 0 && logger.info({ count }, "authorizations expired"))
      .catch((error) => logger.warn({ err: error }, "expiry pass failed"));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
