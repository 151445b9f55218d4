import { intFromEnv } from "../shared/config.ts";
import { isCurrency } from "../shared/money.ts";
import type { DownstreamSettings } from "./downstream.ts";

/** Settlement's own settings (docs/settlement.md and docs/configuration.md list them). */
export interface SettlementSettings extends DownstreamSettings {
  /** Currencies whose fees/clearing/bank ledger accounts are created at start. */
  readonly currencies: readonly string[];
  /** A day may close once now >= its cut-off (next 00:00 UTC) + this many ms. */
  readonly cutoffDelayMs: number;
}

/**
 * Reads SETTLEMENT_CURRENCIES (default "USD"), SETTLEMENT_AUTHORIZATION_TIMEOUT_MS (5000),
 * SETTLEMENT_LEDGER_TIMEOUT_MS (10000), SETTLEMENT_OPERATIONS_PAGE_SIZE (1000, 1..5000) and
 * SETTLEMENT_CUTOFF_DELAY_MS (0). Throws one line naming a bad variable.
 */
export function loadSettlementSettings(env: NodeJS.ProcessEnv): SettlementSettings {
  const currencies = (env.SETTLEMENT_CURRENCIES ?? "USD").split(",").map((code) => code.trim()).filter(Boolean);
  for (const code of currencies) {
    if (!isCurrency(code)) throw new Error(`bad configuration: SETTLEMENT_CURRENCIES has unknown currency ${JSON.stringify(code)}`);
  }
  return {
    currencies,
    authorizationTimeoutMs: intFromEnv(env, "SETTLEMENT_AUTHORIZATION_TIMEOUT_MS", 5_000, 1, 120_000),
    ledgerTimeoutMs: intFromEnv(env, "SETTLEMENT_LEDGER_TIMEOUT_MS", 10_000, 1, 120_000),
    operationsPageSize: intFromEnv(env, "SETTLEMENT_OPERATIONS_PAGE_SIZE", 1_000, 1, 5_000),
    cutoffDelayMs: intFromEnv(env, "SETTLEMENT_CUTOFF_DELAY_MS", 0, 0, 7 * 24 * 3600 * 1000),
  };
}
