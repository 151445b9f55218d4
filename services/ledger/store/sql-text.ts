/**
 * SQL text literals for the engine's batch statements.
 *
 * Why literals and not bind parameters: a batch transaction is sent as two multi-statement
 * simple-protocol queries (engine.ts), because on this platform every round trip to PostgreSQL
 * costs far more CPU than the statements themselves (measured: node-postgres socket writes
 * were a third of the ledger's CPU with one round trip per statement). The simple protocol has
 * no parameters, so values travel as literals built here. Every function escapes its input
 * completely, whatever it contains, independent of `standard_conforming_strings`:
 * - strings become E'...' with every backslash doubled and every quote doubled (an E-string
 *   means the same thing under either setting);
 * - arrays become the text form of a PostgreSQL array (elements double-quoted with `\` and `"`
 *   escaped, except elements made only of [A-Za-z0-9_.:-] that are not the word NULL), then a
 *   string literal as above, with an explicit cast;
 * - numbers are decimal digits of a bigint or a safe integer (checked), booleans t / f.
 * A NUL character cannot be stored in PostgreSQL text, so it throws (as a bind parameter would).
 */

const bareElement = /^[A-Za-z0-9_.:-]+$/;
const nullWord = /^null$/i;

/** Throws when `text` holds a NUL character (PostgreSQL text cannot store it). */
function assertNoNul(text: string): void {
  if (text.includes("\0")) throw new Error("ledger: a NUL character cannot be stored in PostgreSQL text");
}

/** A string literal: E'...' (or '...' when there is nothing to escape). */
export function literal(text: string): string {
  assertNoNul(text);
  if (!text.includes("\\") && !text.includes("'")) return `'${text}'`;
  return `E'${text.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

/** One element of an array's text form. */
function arrayElement(text: string): string {
  if (text.length > 0 && bareElement.test(text) && !nullWord.test(text)) return text;
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** `E'{...}'::text[]` from strings (null -> NULL element). */
export function textArray(values: readonly (string | null)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    parts[i] = value === null ? "NULL" : arrayElement(value);
  }
  return `${literal(`{${parts.join(",")}}`)}::text[]`;
}

/** `'{...}'::<type>[]` from bigints or safe integers (null -> NULL); type is int2, int4 or int8. */
export function integerArray(values: readonly (bigint | number | null)[], type: "int2" | "int4" | "int8"): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null) parts[i] = "NULL";
    else if (typeof value === "bigint") parts[i] = value.toString();
    else if (Number.isSafeInteger(value)) parts[i] = String(value);
    else throw new Error(`ledger bug: ${value} is not an integer`);
  }
  return `'{${parts.join(",")}}'::${type}[]`;
}

/** An integer literal from a bigint or a safe integer. */
export function integer(value: bigint | number): string {
  if (typeof value === "bigint") return value.toString();
  if (!Number.isSafeInteger(value)) throw new Error(`ledger bug: ${value} is not an integer`);
  return String(value);
}

/** `'{t,f,...}'::bool[]`. */
export function boolArray(values: readonly boolean[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) parts[i] = values[i] ? "t" : "f";
  return `'{${parts.join(",")}}'::bool[]`;
}

/** `E'\\x...'::bytea` (hex format). */
export function byteaLiteral(bytes: Uint8Array): string {
  return `E'\\\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}'::bytea`;
}
