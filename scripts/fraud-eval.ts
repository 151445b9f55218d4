/**
 * Offline evaluation of the fraud scorer (services/fraud/domain) on the labelled Sparkov slice.
 *
 * Streams the gzipped CSV (node:zlib + csv-parse), turns each row into the Transaction an
 * authorization would carry (amount parsed exactly into USD cents, event time =
 * trans_date_trans_time read as UTC, card present unless the category ends in "_net"), scores
 * it with the card's in-memory history in event order (the same summary the service computes
 * in SQL), and compares the decision with is_fraud. Cards are keyed in memory only; no PAN is
 * ever printed.
 *
 * Usage: node scripts/fraud-eval.ts [--file path.csv.gz] [--threshold 500] [--sweep] [--details] [--profiles]
 *   --sweep     the confusion matrix for a range of thresholds
 *   --details   every fraud row and every false positive (time, category, amount, score, reasons)
 *   --profiles  legitimate amount percentiles per category (the source of category-profiles.ts)
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { parse } from "csv-parse";
import { parseDecimalMinor, formatMinor } from "../services/shared/money.ts";
import { summarizeHistory, type HistoryEntry } from "../services/fraud/domain/history.ts";
import { declineScoreDefault, score, type ScoreResult, type Transaction } from "../services/fraud/domain/scorer.ts";

/** The committed copy of the real slice (data/README.md): the same bytes as the shared data set. */
export const defaultDataFile = new URL("../data/transactions.csv.gz", import.meta.url).pathname;

/** One scored row: the label and what the scorer said. */
export interface ScoredRow {
  readonly eventTime: string;
  readonly category: string;
  readonly amountMinor: bigint;
  readonly fraud: boolean;
  readonly result: ScoreResult;
}

/** Confusion matrix and rates at one threshold. */
export interface Evaluation {
  readonly threshold: number;
  readonly rows: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
  /** tp / (tp + fp), 0 when nothing was declined. */
  readonly precision: number;
  /** tp / (tp + fn), 0 when there is no fraud. */
  readonly recall: number;
}

/** Parses "YYYY-MM-DD HH:MM:SS" as UTC epoch milliseconds; throws on anything else. */
export function eventTimeMsOf(text: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) throw new Error(`bad trans_date_trans_time ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s] = match.map((part) => Number.parseInt(part, 10));
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/**
 * Scores every row of `file` in order with in-memory card history; the decline threshold is
 * `declineScore`. History rows record the score each attempt got, as the service stores them.
 */
export async function scoreFile(file: string, declineScore: number): Promise<ScoredRow[]> {
  const historyByCard = new Map<string, HistoryEntry[]>();
  const scored: ScoredRow[] = [];
  const parser = createReadStream(file).pipe(createGunzip()).pipe(parse({ columns: true }));
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    const transaction: Transaction = {
      amountMinor: parseDecimalMinor(row.amt, "USD"),
      currencyCode: "USD",
      merchantCategory: row.category,
      cardPresent: !row.category.endsWith("_net"),
      cardholderLocation: { latitude: Number.parseFloat(row.lat), longitude: Number.parseFloat(row.long) },
      merchantLocation: { latitude: Number.parseFloat(row.merch_lat), longitude: Number.parseFloat(row.merch_long) },
      eventTimeMs: eventTimeMsOf(row.trans_date_trans_time),
    };
    const entries = historyByCard.get(row.cc_num) ?? [];
    historyByCard.set(row.cc_num, entries);
    const history = summarizeHistory(entries, transaction.eventTimeMs, transaction.currencyCode, declineScore);
    const result = score(transaction, history, { declineScore });
    entries.push({
      eventTimeMs: transaction.eventTimeMs,
      amountMinor: transaction.amountMinor,
      currencyCode: transaction.currencyCode,
      score: result.score,
    });
    scored.push({
      eventTime: row.trans_date_trans_time,
      category: row.category,
      amountMinor: transaction.amountMinor,
      fraud: row.is_fraud === "1",
      result,
    });
  }
  return scored;
}

/** Confusion matrix of `scored` when declining at score >= threshold. */
export function confusion(scored: readonly ScoredRow[], threshold: number): Evaluation {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (const row of scored) {
    const declined = row.result.score >= threshold;
    if (declined && row.fraud) tp += 1;
    else if (declined) fp += 1;
    else if (row.fraud) fn += 1;
    else tn += 1;
  }
  return {
    threshold,
    rows: scored.length,
    tp,
    fp,
    fn,
    tn,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
  };
}

/** Scores `file` at `declineScore` and returns the confusion matrix. */
export async function evaluate(file = defaultDataFile, declineScore = declineScoreDefault): Promise<Evaluation> {
  return confusion(await scoreFile(file, declineScore), declineScore);
}

function formatEvaluation(e: Evaluation): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return `threshold ${e.threshold}: TP ${e.tp} FP ${e.fp} FN ${e.fn} TN ${e.tn}  precision ${pct(e.precision)} recall ${pct(e.recall)} (${e.rows} rows)`;
}

function describe(row: ScoredRow): string {
  const label = row.fraud ? "FRAUD" : "legit";
  return `${label} ${row.eventTime} ${row.category.padEnd(14)} ${formatMinor(row.amountMinor, "USD").padStart(9)} score ${String(row.result.score).padStart(4)} ${row.result.reasons.join(",")}`;
}

async function profiles(file: string): Promise<void> {
  const amounts = new Map<string, bigint[]>();
  const parser = createReadStream(file).pipe(createGunzip()).pipe(parse({ columns: true }));
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    if (row.is_fraud === "1") continue;
    const list = amounts.get(row.category) ?? [];
    list.push(parseDecimalMinor(row.amt, "USD"));
    amounts.set(row.category, list);
  }
  for (const [category, list] of [...amounts].sort(([a], [b]) => a.localeCompare(b))) {
    list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const at = (p: number) => formatMinor(list[Math.floor(p * (list.length - 1))], "USD");
    console.log(`${category.padEnd(15)} n ${String(list.length).padStart(4)}  p1 ${at(0.01)}  p50 ${at(0.5)}  p99 ${at(0.99)}  max ${at(1)}`);
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const option = (name: string) => {
    const index = argv.indexOf(name);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const file = option("--file") ?? defaultDataFile;
  const threshold = Number.parseInt(option("--threshold") ?? String(declineScoreDefault), 10);
  if (!Number.isInteger(threshold) || threshold < 0 || threshold > 1000) throw new Error("--threshold must be 0..1000");
  if (argv.includes("--profiles")) return profiles(file);
  const scored = await scoreFile(file, threshold);
  console.log(formatEvaluation(confusion(scored, threshold)));
  if (argv.includes("--sweep")) {
    // History flags high-risk attempts at the scoring threshold, so each threshold is re-scored.
    for (let t = 300; t <= 800; t += 50) console.log(formatEvaluation(confusion(await scoreFile(file, t), t)));
  }
  if (argv.includes("--details")) {
    for (const row of scored) {
      if (row.fraud || row.result.score >= threshold) console.log(describe(row));
    }
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
