import * as hdr from "hdr-histogram-js";

/** Confusion matrix of the fraud decision (declined with 59) against the is_fraud label. */
export interface Confusion {
  readonly truePositive: number;
  readonly falsePositive: number;
  readonly falseNegative: number;
  readonly trueNegative: number;
  /** TP / (TP + FP); null when nothing was declined for fraud. */
  readonly precision: number | null;
  /** TP / (TP + FN); null when there is no fraud row. */
  readonly recall: number | null;
}

/** Builds the confusion matrix from (predicted fraud, labelled fraud) pairs. */
export function confusionOf(pairs: Iterable<{ predicted: boolean; actual: boolean }>): Confusion {
  let truePositive = 0;
  let falsePositive = 0;
  let falseNegative = 0;
  let trueNegative = 0;
  for (const { predicted, actual } of pairs) {
    if (predicted && actual) truePositive += 1;
    else if (predicted) falsePositive += 1;
    else if (actual) falseNegative += 1;
    else trueNegative += 1;
  }
  return {
    truePositive,
    falsePositive,
    falseNegative,
    trueNegative,
    precision: truePositive + falsePositive === 0 ? null : truePositive / (truePositive + falsePositive),
    recall: truePositive + falseNegative === 0 ? null : truePositive / (truePositive + falseNegative),
  };
}

/** Latency summary in milliseconds (recorded in microseconds, 3 significant digits). */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** A latency recorder over an HDR histogram (1 µs .. 120 s). */
export function latencyRecorder(): { record(startedNs: bigint): void; recordMicros(micros: number): void; summary(): LatencySummary } {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const recordMicros = (micros: number) => histogram.recordValue(Math.min(120_000_000, Math.max(1, Math.round(micros))));
  return {
    recordMicros,
    record(startedNs) {
      recordMicros(Number(process.hrtime.bigint() - startedNs) / 1000);
    },
    summary() {
      const ms = (percentile: number) => Math.round(histogram.getValueAtPercentile(percentile)) / 1000;
      return {
        count: histogram.totalCount,
        p50Ms: ms(50),
        p95Ms: ms(95),
        p99Ms: ms(99),
        maxMs: Math.round(histogram.maxValue) / 1000,
      };
    },
  };
}

/** Increments `map[key]`. */
export function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/** JSON.stringify with bigints as decimal strings (STYLE: never JSON.stringify a message). */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? item.toString() : item), space);
}
