/**
 * Group commit for CreateTransfers: many callers' batches share one database transaction.
 *
 * While a transaction runs, new submissions queue up; the next transaction takes every queued
 * submission that fits (whole submissions, at most batchTransfersMax = 8190 transfers in all,
 * in arrival order) and evaluates them as ONE batch in which each submission is its own
 * linked-chain segment (a chain open at the end of a submission is LINKED_EVENT_CHAIN_OPEN; a
 * chain never links into another caller's transfers). Each caller gets its slice of results.
 *
 * Up to `inFlightMax` transactions run at once. They cannot deadlock on accounts: every
 * transaction locks holds then accounts, each set in one statement ordered by id (engine.ts);
 * transactions on a shared hot account simply serialize on its row lock.
 *
 * If a shared transaction fails with an error the engine did not absorb by retrying, each of
 * its submissions is retried alone, so one bad submission cannot fail the others.
 * Source: TigerBeetle's batching of client requests into one prepare (docs/about/performance.md).
 */
import type { CreateTransferResult } from "../domain/create-transfers.ts";
import { batchTransfersMax, type TransferRequest } from "../domain/model.ts";
import type { CommittedTransfers, LedgerEngine, OnCommit } from "./engine.ts";

export interface GroupCommitOptions {
  /** Transactions in flight at once; default 2 (see the report in docs / bench). */
  inFlightMax?: number;
  /** Queued transfers beyond which submit() rejects with GroupCommitOverloadError; default 8 * 8190. */
  queuedTransfersMax?: number;
  /** Runs inside every shared transaction before COMMIT (outbox hook). */
  onCommit?: OnCommit<CommittedTransfers>;
  /** Told about every committed transaction: transfers in it and its duration in seconds. */
  observe?: (transfers: number, seconds: number) => void;
}

/** The queue is full: map to RESOURCE_EXHAUSTED. */
export class GroupCommitOverloadError extends Error {}

interface Submission {
  transfers: readonly TransferRequest[];
  resolve: (results: CreateTransferResult[]) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitter {
  /**
   * Queues `transfers` (1..8190) and resolves with one CreateTransferResult per transfer, in
   * order, once the shared transaction committed. Rejects with RangeError on an empty or
   * oversize batch, GroupCommitOverloadError when the queue is full, or the database error.
   */
  submit(transfers: readonly TransferRequest[]): Promise<CreateTransferResult[]>;
  /** Resolves when the queue is empty and no transaction is in flight. */
  drain(): Promise<void>;
  /** Counters for metrics: transactions run, submissions and transfers committed. */
  stats(): { transactions: number; submissions: number; transfers: number; fallbacks: number };
}

/** Creates a group committer over `engine`. */
export function createGroupCommitter(engine: LedgerEngine, options: GroupCommitOptions = {}): GroupCommitter {
  const inFlightMax = options.inFlightMax ?? 2;
  const queuedTransfersMax = options.queuedTransfersMax ?? 8 * batchTransfersMax;
  if (!Number.isInteger(inFlightMax) || inFlightMax < 1) throw new RangeError("inFlightMax must be >= 1");
  const queue: Submission[] = [];
  let queuedTransfers = 0;
  let inFlight = 0;
  const counters = { transactions: 0, submissions: 0, transfers: 0, fallbacks: 0 };
  let idleWaiters: (() => void)[] = [];

  const run = async (group: Submission[]): Promise<void> => {
    const batch: TransferRequest[] = [];
    const segmentLengths: number[] = [];
    for (const submission of group) {
      batch.push(...submission.transfers);
      segmentLengths.push(submission.transfers.length);
    }
    try {
      const started = process.hrtime.bigint();
      const results = await engine.createTransfers(batch, { segmentLengths, onCommit: options.onCommit });
      options.observe?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9);
      counters.transactions++;
      counters.submissions += group.length;
      counters.transfers += batch.length;
      let offset = 0;
      for (const submission of group) {
        submission.resolve(results.slice(offset, offset + submission.transfers.length));
        offset += submission.transfers.length;
      }
    } catch (error) {
      if (group.length === 1) {
        group[0].reject(error);
        return;
      }
      // Isolate the failure: each submission alone, one after the other.
      counters.fallbacks++;
      for (const submission of group) {
        try {
          const results = await engine.createTransfers(submission.transfers, { onCommit: options.onCommit });
          counters.transactions++;
          counters.submissions++;
          counters.transfers += submission.transfers.length;
          submission.resolve(results);
        } catch (single) {
          submission.reject(single);
        }
      }
    }
  };

  const pump = (): void => {
    while (inFlight < inFlightMax && queue.length > 0) {
      const group: Submission[] = [];
      let count = 0;
      while (queue.length > 0 && count + queue[0].transfers.length <= batchTransfersMax) {
        const next = queue.shift() as Submission;
        count += next.transfers.length;
        group.push(next);
      }
      queuedTransfers -= count;
      inFlight++;
      void run(group).finally(() => {
        inFlight--;
        pump();
        if (inFlight === 0 && queue.length === 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const wake of waiters) wake();
        }
      });
    }
  };

  return {
    submit(transfers) {
      if (transfers.length === 0 || transfers.length > batchTransfersMax) {
        return Promise.reject(new RangeError(`a submission carries 1..${batchTransfersMax} transfers, got ${transfers.length}`));
      }
      if (queuedTransfers + transfers.length > queuedTransfersMax) {
        return Promise.reject(new GroupCommitOverloadError(`ledger queue full (${queuedTransfers} transfers queued)`));
      }
      return new Promise<CreateTransferResult[]>((resolve, reject) => {
        queue.push({ transfers, resolve, reject });
        queuedTransfers += transfers.length;
        // Defer to the end of this tick so concurrent callers of the same tick share a transaction.
        queueMicrotask(pump);
      });
    },
    drain() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    stats() {
      return { ...counters };
    },
  };
}
