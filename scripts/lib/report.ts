import { formatMinor } from "../../services/shared/money.ts";
import type { Confusion, LatencySummary } from "./stats.ts";
import type { WebhookCounts } from "./webhook-receiver.ts";

/** One pass/fail line of the report. */
export interface Check {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

/** The replay report (money in minor units as bigint; JSON prints them as strings). */
export interface ReplayReport {
  readonly input: {
    readonly file: string;
    readonly rows: number;
    readonly limit: number | null;
    readonly concurrency: number;
    readonly seed: number;
    readonly partnerId: string;
    readonly creditLimitMinor: bigint;
    readonly currency: string;
    readonly businessDates: readonly string[];
    readonly merchants: number;
    readonly cards: number;
  };
  readonly authorizations: {
    readonly rows: number;
    readonly decided: number;
    readonly approved: number;
    readonly declined: number;
    /** Declines by ISO 8583 response code (authorization.response_code_iso). */
    readonly declinesByCode: Readonly<Record<string, number>>;
    /** Rows with no decision (RPC failure after retries). */
    readonly rowsFailed: number;
    /** Rows refused by contract validation before Authorize, by reason (e.g. pan_length_7 for a
     * PAN outside ISO/IEC 7812-1's 8..19 digits). Expected, not errors. */
    readonly rowsRejected: Readonly<Record<string, number>>;
  };
  readonly fraud: Confusion & { readonly fraudRows: number; readonly note: string };
  readonly derived: {
    readonly note: string;
    readonly captures: { readonly count: number; readonly amountMinor: bigint };
    readonly refunds: {
      readonly count: number;
      readonly full: number;
      readonly partial: number;
      readonly amountMinor: bigint;
      readonly share: number;
      readonly fullShare: number;
    };
    readonly closes: { businessDate: string; batches: number; alreadyClosed: boolean; ok: boolean; ms: number }[];
  };
  readonly settlement: {
    readonly batches: number;
    readonly grossMinor: bigint;
    readonly refundsMinor: bigint;
    readonly feesMinor: bigint;
    readonly netMinor: bigint;
  };
  readonly ledger: {
    readonly reachable: boolean;
    readonly ok: boolean;
    readonly violations: readonly string[];
    readonly overduePendingCount: bigint;
    readonly totals: readonly {
      readonly ledger: number;
      readonly debitsPending: bigint;
      readonly creditsPending: bigint;
      readonly debitsPosted: bigint;
      readonly creditsPosted: bigint;
      readonly accountCount: bigint;
      readonly transferCount: bigint;
    }[];
  };
  readonly events: {
    readonly drained: boolean;
    readonly streamSequences: { readonly from: number; readonly to: number };
    readonly published: { readonly all: number; readonly reporting: number; readonly notification: number };
    readonly processed: { readonly reporting: bigint; readonly notification: bigint };
    readonly lag: { readonly reporting: number | null; readonly notification: number | null };
    readonly filters: { readonly reporting: readonly string[]; readonly notification: readonly string[] };
  };
  readonly webhooks: WebhookCounts & {
    readonly verifier: string;
    /** Events of this run for the replay's partner: each should arrive, verified. */
    readonly expected: number;
    readonly expectedVerified: number;
  };
  readonly reporting: {
    readonly authorizationCount: bigint;
    readonly approvedCount: bigint;
    readonly declinedCount: bigint;
    readonly fraudDeclinedCount: bigint;
    readonly capturedAmountMinor: bigint;
    readonly refundedAmountMinor: bigint;
    readonly settledGrossMinor: bigint;
    readonly settledFeesMinor: bigint;
    readonly settledNetMinor: bigint;
  } | null;
  readonly performance: {
    readonly elapsedSeconds: number;
    readonly rowsPerSecond: number;
    readonly authorize: LatencySummary;
    readonly capture: LatencySummary;
  };
  /** Failed RPCs by "<Method>:<Code>" (after retries of transient failures). */
  readonly rpcErrors: Readonly<Record<string, number>>;
  readonly checks: readonly Check[];
  readonly pass: boolean;
}

/**
 * The report's checks: ledger balanced and audit ok; every event processed by each consumer
 * exactly once (processed delta == published count for its filters, lag 0); every partner
 * event delivered and verified by the receiver (verified == received == expected, no bad
 * signature); no unexpected RPC errors; every day closed; settlement batches add up
 * (gross - refunds - fees == net).
 */
export function buildChecks(report: Omit<ReplayReport, "checks" | "pass">): Check[] {
  const checks: Check[] = [];
  const unbalanced = report.ledger.totals.filter(
    (totals) => totals.debitsPending !== totals.creditsPending || totals.debitsPosted !== totals.creditsPosted,
  );
  checks.push({
    name: "ledger balanced and audit ok",
    pass: report.ledger.reachable && report.ledger.ok && unbalanced.length === 0 && report.ledger.totals.length > 0,
    detail: !report.ledger.reachable
      ? "ledger audit unreachable"
      : `audit ok=${report.ledger.ok}, ${report.ledger.totals.length} ledger(s), unbalanced ${unbalanced.map((totals) => totals.ledger).join(",") || "none"}, violations ${report.ledger.violations.length}`,
  });
  for (const consumer of ["reporting", "notification"] as const) {
    const published = BigInt(report.events.published[consumer]);
    const processed = report.events.processed[consumer];
    checks.push({
      name: `${consumer} processed every event exactly once`,
      pass: processed === published && report.events.lag[consumer] === 0,
      detail: `published ${published}, processed ${processed}, lag ${report.events.lag[consumer] ?? "unknown (no durable)"}`,
    });
  }
  const webhooks = report.webhooks;
  checks.push({
    name: "webhooks delivered and verified",
    pass:
      webhooks.invalidSignatures === 0 &&
      webhooks.missingEventId === 0 &&
      webhooks.distinctVerified === webhooks.distinctReceived &&
      webhooks.expectedVerified === webhooks.expected &&
      webhooks.distinctVerified === webhooks.expected,
    detail: `expected ${webhooks.expected}, received ${webhooks.distinctReceived}, verified ${webhooks.distinctVerified}, bad signatures ${webhooks.invalidSignatures}, redelivered duplicates ${webhooks.duplicates}`,
  });
  const errorCount = Object.values(report.rpcErrors).reduce((total, count) => total + count, 0);
  checks.push({
    name: "no unexpected RPC errors",
    pass: errorCount === 0 && report.authorizations.rowsFailed === 0,
    // rowsRejected are expected refusals (documented input the contract does not accept).
    detail: errorCount === 0 ? "none" : Object.entries(report.rpcErrors).map(([key, count]) => `${key} x${count}`).join(", "),
  });
  const failedCloses = report.derived.closes.filter((close) => !close.ok);
  checks.push({
    name: "every business day closed",
    pass: failedCloses.length === 0 && report.derived.closes.length === report.input.businessDates.length,
    detail: `${report.derived.closes.length}/${report.input.businessDates.length} closed${failedCloses.length ? `; failed ${failedCloses.map((close) => close.businessDate).join(", ")}` : ""}`,
  });
  const settlement = report.settlement;
  checks.push({
    name: "settlement batches add up",
    pass: settlement.grossMinor - settlement.refundsMinor - settlement.feesMinor === settlement.netMinor,
    detail: `gross ${settlement.grossMinor} - refunds ${settlement.refundsMinor} - fees ${settlement.feesMinor} = net ${settlement.netMinor}`,
  });
  return checks;
}

const usd = (minor: bigint) => `USD ${formatMinor(minor, "USD")}`;
const rate = (value: number | null) => (value === null ? "n/a" : `${(value * 100).toFixed(1)} %`);

/** The report as text for a terminal. */
export function formatReport(report: ReplayReport): string {
  const lines: string[] = [];
  const a = report.authorizations;
  const f = report.fraud;
  const d = report.derived;
  const s = report.settlement;
  lines.push(`Replay of ${report.input.file}: ${report.input.rows} rows, ${report.input.merchants} merchants, ${report.input.cards} cards, days ${report.input.businessDates.join(", ")}`);
  lines.push(`  concurrency ${report.input.concurrency}, seed ${report.input.seed}, partner ${report.input.partnerId}, credit limit ${usd(report.input.creditLimitMinor)} per card`);
  lines.push("");
  lines.push(`Authorizations: ${a.decided} decided, ${a.approved} approved (00), ${a.declined} declined, ${a.rowsFailed} failed`);
  for (const [reason, count] of Object.entries(a.rowsRejected)) lines.push(`  rejected before Authorize (contract validation) ${reason}: ${count}`);
  for (const [code, count] of Object.entries(a.declinesByCode).sort()) lines.push(`  declined ${code}: ${count}`);
  lines.push(`Fraud (declined 59 vs is_fraud, ${f.fraudRows} fraud rows): TP ${f.truePositive}  FP ${f.falsePositive}  FN ${f.falseNegative}  TN ${f.trueNegative}  precision ${rate(f.precision)}  recall ${rate(f.recall)}`);
  lines.push(`Derived operations (${d.note}):`);
  lines.push(`  captures ${d.captures.count} (${usd(d.captures.amountMinor)}), refunds ${d.refunds.count} (${d.refunds.full} full, ${d.refunds.partial} partial, ${usd(d.refunds.amountMinor)})`);
  lines.push(`  day closes: ${d.closes.map((close) => `${close.businessDate} ${close.ok ? `${close.batches} batches${close.alreadyClosed ? " (already closed)" : ""}` : "FAILED"}`).join("; ")}`);
  lines.push(`Settlement: ${s.batches} batches, gross ${usd(s.grossMinor)}, refunds ${usd(s.refundsMinor)}, fees ${usd(s.feesMinor)}, net ${usd(s.netMinor)}`);
  lines.push(`Ledger audit: ok=${report.ledger.ok}, overdue holds ${report.ledger.overduePendingCount}`);
  for (const t of report.ledger.totals) {
    lines.push(`  ledger ${t.ledger}: pending debits ${t.debitsPending} / credits ${t.creditsPending}; posted debits ${t.debitsPosted} / credits ${t.creditsPosted}; ${t.accountCount} accounts, ${t.transferCount} transfers`);
  }
  const e = report.events;
  lines.push(`Events: ${e.published.all} published in this run (stream seq ${e.streamSequences.from}..${e.streamSequences.to}); reporting ${e.processed.reporting}/${e.published.reporting}, notification ${e.processed.notification}/${e.published.notification} processed/published`);
  const w = report.webhooks;
  lines.push(`Webhooks (${w.verifier} verifier): expected ${w.expected}, received ${w.distinctReceived}, verified ${w.distinctVerified}, bad signatures ${w.invalidSignatures}, redeliveries ${w.duplicates}`);
  if (report.reporting) {
    const r = report.reporting;
    lines.push(`Reporting totals (all time, USD): ${r.authorizationCount} authorizations, ${r.approvedCount} approved, captured ${usd(r.capturedAmountMinor)}, refunded ${usd(r.refundedAmountMinor)}, settled net ${usd(r.settledNetMinor)}`);
  }
  const p = report.performance;
  lines.push(`Throughput: ${p.rowsPerSecond} rows/s over ${p.elapsedSeconds} s`);
  lines.push(`Authorize latency ms: p50 ${p.authorize.p50Ms}  p95 ${p.authorize.p95Ms}  p99 ${p.authorize.p99Ms}  max ${p.authorize.maxMs}  (n=${p.authorize.count})`);
  lines.push(`Capture latency ms:   p50 ${p.capture.p50Ms}  p95 ${p.capture.p95Ms}  p99 ${p.capture.p99Ms}  max ${p.capture.maxMs}  (n=${p.capture.count})`);
  lines.push("");
  lines.push("Checks:");
  for (const check of report.checks) lines.push(`  [${check.pass ? "PASS" : "FAIL"}] ${check.name}: ${check.detail}`);
  lines.push(report.pass ? "ALL CHECKS PASSED" : "SOME CHECKS FAILED");
  return lines.join("\n");
}
