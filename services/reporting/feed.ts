/**
 * Wakes StreamTransactions when the consumer records a change: one LISTEN connection per
 * process on reporting_transactions (NOTIFY at commit), shared by every open stream. Streams
 * also poll, so a missed notification only delays them by the poll interval.
 */
import type pg from "pg";
import { transactionsChannel } from "./consumer.ts";

export interface ChangeFeed {
  /** Resolves at the next change, after `timeoutMs`, or when `signal` aborts. */
  wait(signal: AbortSignal, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** A feed that only sleeps (no LISTEN): for tests and as a fallback. */
export function pollingFeed(): ChangeFeed {
  return {
    wait: (signal, timeoutMs) => sleep(signal, timeoutMs, new Set()),
    async stop() {},
  };
}

function sleep(signal: AbortSignal, timeoutMs: number, waiters: Set<() => void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      waiters.delete(done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    signal.addEventListener("abort", done, { once: true });
    waiters.add(done);
    if (signal.aborted) done();
  });
}

/** LISTENs on a dedicated pooled connection until stop(). */
export async function startChangeFeed(pool: pg.Pool): Promise<ChangeFeed> {
  const waiters = new Set<() => void>();
  const listener = await pool.connect();
  listener.on("notification", () => {
    for (const wake of [...waiters]) wake();
  });
  await listener.query(`listen ${transactionsChannel}`);
  let stopped = false;
  return {
    wait: (signal, timeoutMs) => sleep(signal, timeoutMs, waiters),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const wake of [...waiters]) wake();
      await listener.query(`unlisten ${transactionsChannel}`).catch(() => {});
      listener.release();
    },
  };
}
