/**
 * Business dates: `YYYY-MM-DD`, a real calendar date, years 1970..9999. A business date is a
 * UTC calendar day; it ends (cut-off) at 24:00 UTC, i.e. the next day's 00:00 UTC.
 */
const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Returns undefined when `text` is a valid business date, otherwise the problem (for an
 * INVALID_ARGUMENT message).
 */
export function businessDateProblem(text: string): string | undefined {
  const match = datePattern.exec(text);
  if (!match) return "must be YYYY-MM-DD";
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1970) return "year must be 1970..9999";
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return "is not a real calendar date";
  }
  return undefined;
}

/** Milliseconds since the epoch of the cut-off of `businessDate` (next day 00:00 UTC). */
export function cutoffMsOf(businessDate: string): number {
  const match = datePattern.exec(businessDate);
  if (!match) throw new Error(`not a business date: ${businessDate}`);
  return Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + 1);
}
