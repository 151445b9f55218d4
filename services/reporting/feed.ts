/** Wakes StreamTransactions when the consumer records a change (see createChangeFeed). */

export interface ChangeFeed {
  /** Resolves at the next change, after `timeoutMs`, or when `signal` aborts. */
  wait(signal: AbortSignal, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** A feed that only sleeps: for tests. */
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

/**
 * The in-process feed: the consumer calls `notify()` after each committed event, waking every
 * open stream of this process at once (no database NOTIFY, whose cluster-wide commit lock would
 * throttle the consumer). Streams also poll, so a change committed by another replica reaches
 * them within the poll interval.
 */
export function createChangeFeed(): ChangeFeed & { notify(): void } {
  const waiters = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of [...waiters]) wake();
  };
  return {
    wait: (signal, timeoutMs) => sleep(signal, timeoutMs, waiters),
    notify: wakeAll,
    async stop() {
      wakeAll();
    },
  };
}
