import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { parse } from "csv-parse";
import { parseDecimalMinor } from "../../services/shared/money.ts";

/**
 * One row of the Sparkov card-transaction data (data/README.md), typed for the replay.
 * The PAN stays a string (up to 19 digits, above 2^53); the amount is integer cents (USD);
 * event time is `trans_date_trans_time` read as UTC.
 */
export interface TransactionRow {
  /** 1-based data row number in the file (header excluded). */
  readonly rowNumber: number;
  /** The original unnamed first column (row index in the Kaggle file). */
  readonly sourceIndex: string;
  /** Event time (UTC). */
  readonly eventTime: Date;
  /** UTC business date YYYY-MM-DD of eventTime. */
  readonly businessDate: string;
  /** Card number: digits only. Never log or print it. */
  readonly pan: string;
  readonly merchantName: string;
  readonly category: string;
  /** Amount in USD cents, parsed from the decimal string without floats. */
  readonly amountMinor: bigint;
  readonly cardholderLatitude: number;
  readonly cardholderLongitude: number;
  readonly merchantLatitude: number;
  readonly merchantLongitude: number;
  /** 32 hex chars; the replay's idempotency key. */
  readonly transNum: string;
  readonly isFraud: boolean;
}

const requiredColumns = [
  "trans_date_trans_time", "cc_num", "merchant", "category", "amt", "lat", "long", "trans_num",
  "merch_lat", "merch_long", "is_fraud",
] as const;

/** Parses "YYYY-MM-DD HH:MM:SS" (no zone) as UTC; throws on any other shape. */
export function parseEventTime(text: string): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) throw new Error(`trans_date_trans_time ${JSON.stringify(text)} is not YYYY-MM-DD HH:MM:SS`);
  const date = new Date(`${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}Z`);
  if (Number.isNaN(date.getTime())) throw new Error(`trans_date_trans_time ${JSON.stringify(text)} is not a valid time`);
  return date;
}

/** Converts one parsed CSV record (header -> value) to a TransactionRow; throws naming the
 * row and column on bad input. */
export function toTransactionRow(record: Record<string, string>, rowNumber: number): TransactionRow {
  for (const column of requiredColumns) {
    if (record[column] === undefined) throw new Error(`row ${rowNumber}: column ${column} is missing`);
  }
  const fail = (column: string, problem: string): never => {
    throw new Error(`row ${rowNumber}: ${column} ${problem}`);
  };
  const pan = record.cc_num.trim();
  if (!/^\d{11,19}$/.test(pan)) fail("cc_num", "is not 11..19 digits");
  const eventTime = parseEventTime(record.trans_date_trans_time.trim());
  let amountMinor = 0n;
  try {
    amountMinor = parseDecimalMinor(record.amt, "USD");
  } catch (error) {
    fail("amt", (error as Error).message);
  }
  if (amountMinor <= 0n) fail("amt", "must be positive");
  const coordinate = (column: string, limit: number): number => {
    const value = Number(record[column]);
    if (!Number.isFinite(value) || Math.abs(value) > limit) fail(column, `${JSON.stringify(record[column])} is not a coordinate`);
    return value;
  };
  const transNum = record.trans_num.trim();
  if (!/^[0-9a-f]{32}$/.test(transNum)) fail("trans_num", "is not 32 lowercase hex characters");
  const isFraud = record.is_fraud.trim();
  if (isFraud !== "0" && isFraud !== "1") fail("is_fraud", "is not 0 or 1");
  const category = record.category.trim();
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(category)) fail("category", "is not lower snake case");
  const merchantName = record.merchant.trim();
  if (merchantName.length === 0) fail("merchant", "is empty");
  return {
    rowNumber,
    sourceIndex: record[""] ?? String(rowNumber - 1),
    eventTime,
    businessDate: eventTime.toISOString().slice(0, 10),
    pan,
    merchantName,
    category,
    amountMinor,
    cardholderLatitude: coordinate("lat", 90),
    cardholderLongitude: coordinate("long", 180),
    merchantLatitude: coordinate("merch_lat", 90),
    merchantLongitude: coordinate("merch_long", 180),
    transNum,
    isFraud: isFraud === "1",
  };
}

/**
 * Streams the rows of a CSV file (gunzipped on the fly when the name ends in .gz), at most
 * `limit` rows. Bad rows throw (the data is expected clean: data/README.md).
 */
export async function* readTransactions(file: string, limit = Number.POSITIVE_INFINITY): AsyncGenerator<TransactionRow> {
  if (limit <= 0) return;
  const source = createReadStream(file);
  const input = file.endsWith(".gz") ? source.pipe(createGunzip()) : source;
  const parser = input.pipe(parse({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: false }));
  let rowNumber = 0;
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      rowNumber += 1;
      yield toTransactionRow(record, rowNumber);
      if (rowNumber >= limit) break;
    }
  } finally {
    parser.destroy();
    input.destroy();
    source.destroy();
  }
}
