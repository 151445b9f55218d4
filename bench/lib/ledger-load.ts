/**
 * The closed-loop CreateTransfers load of one bench:ledger case, runnable in the main thread or
 * in load threads (./ledger-load-thread.ts): `concurrency` loops, each sending a batch of
 * `batch` transfers and sending the next as soon as the answer arrives. Transfers debit a
 * uniform account u:<i> and credit another uniform account (or the hot account); ids are
 * unique and time-ordered ("<tag><counter>", TigerBeetle's advice). Only calls completed
 * between measure() and stop() are counted; latency goes to an HDR histogram (µs).
 */
import { create } from "@bufbuild/protobuf";
import * as hdr from "hdr-histogram-js";
import { TransferSchema, type Transfer } from "../../gen/payments/ledger/v1/ledger_pb.js";
import { CreateTransferResult } from "../../gen/payments/ledger/v1/ledger_results_pb.js";
import type { CreateTransfersCall } from "./ledger-client.ts";

export interface LoadSpec {
  batch: number;
  concurrency: number;
  hot: boolean;
  /** Uniform accounts are u:0 .. u:<accountCount - 1>. */
  accountCount: number;
  hotId: string;
  /** Prefix of this load's transfer ids (unique per case and thread). */
  tag: string;
}

export interface LoadTally {
  calls: number;
  transfers: number;
  nonOk: number;
  failedCalls: number;
  nonOkSeen: Record<string, number>;
  firstFailures: string[];
  histogram: hdr.Histogram;
}

export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/** Starts the loops at once; measure() starts counting, stop() ends the loops and returns the tally. */
export function startLoad(call: CreateTransfersCall, spec: LoadSpec): { measure(): void; stop(): Promise<LoadTally> } {
  let counter = 0;
  const nextId = () => `${spec.tag}${(++counter).toString().padStart(10, "0")}`;
  const pick = () => Math.floor(Math.random() * spec.accountCount);
  const transferOf = (): Transfer => {
    const debit = pick();
    const credit = (debit + 1 + Math.floor(Math.random() * (spec.accountCount - 1))) % spec.accountCount;
    return create(TransferSchema, {
      id: nextId(),
      debitAccountId: `u:${debit}`,
      creditAccountId: spec.hot ? spec.hotId : `u:${credit}`,
      amount: 1n,
      ledger: 840,
      code: 1,
    });
  };
  const tally: LoadTally = { calls: 0, transfers: 0, nonOk: 0, failedCalls: 0, nonOkSeen: {}, firstFailures: [], histogram: newLatencyHistogram() };
  let measuring = false;
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const batch = Array.from({ length: spec.batch }, transferOf);
      const started = performance.now();
      try {
        const results = await call(batch);
        const elapsedUs = Math.max(1, Math.round((performance.now() - started) * 1000));
        let bad = 0;
        for (const result of results) {
          if (result !== CreateTransferResult.OK) {
            bad++;
            const name = CreateTransferResult[result] ?? String(result);
            tally.nonOkSeen[name] = (tally.nonOkSeen[name] ?? 0) + 1;
          }
        }
        tally.nonOk += bad; // counted in warm-up too: any non-OK result is a failure of the run
        if (measuring) {
          tally.histogram.recordValue(elapsedUs);
          tally.calls++;
          tally.transfers += results.length;
        }
      } catch (error) {
        tally.failedCalls++;
        if (tally.firstFailures.length < 3) tally.firstFailures.push((error as Error).message);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const loops = Array.from({ length: spec.concurrency }, loop);
  return {
    measure() {
      measuring = true;
    },
    async stop() {
      measuring = false;
      stopped = true;
      await Promise.all(loops);
      return tally;
    },
  };
}
