import type pg from "pg";
import type { Logger } from "../../shared/log.ts";
import type { SettlementSettings } from "../config.ts";
import type { AuthorizationClient, LedgerClient } from "../downstream.ts";
import type { FeeSchedule } from "../domain/fees.ts";

/** What the settlement handlers need; everything is injected so tests can substitute. */
export interface SettlementDeps {
  readonly pool: pg.Pool;
  /** AuthorizationService client (ListOperations: the clearing file). */
  readonly authorization: AuthorizationClient;
  /** LedgerService client (CreateAccounts, CreateTransfers, LookupTransfers). */
  readonly ledger: LedgerClient;
  /** NATS_SUBJECT_PREFIX: events go to `<prefix>.settlement.v1.batch_settled`. */
  readonly subjectPrefix: string;
  readonly settings: SettlementSettings;
  /** Fee schedule; defaults to domain/fees.ts defaultFeeSchedule. */
  readonly feeSchedule?: FeeSchedule;
  /** Wall clock; defaults to `() => new Date()`. */
  readonly clock?: () => Date;
  readonly logger?: Logger;
}
