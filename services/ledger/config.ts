/**
 * The ledger's own settings read from the environment, in one place for the service and the
 * `ledger:audit --direct` command (both must agree on the expiry cadence: the Audit's grace for
 * overdue holds follows from it).
 */
import { intFromEnv } from "../shared/config.ts";

/**
 * LEDGER_EXPIRY_INTERVAL_MS: milliseconds between two runs of the hold-expiry loop (default
 * 1,000, at least 10). Throws naming the variable when it is not such an integer.
 */
export function expiryIntervalMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return intFromEnv(env, "LEDGER_EXPIRY_INTERVAL_MS", 1_000, 10);
}
