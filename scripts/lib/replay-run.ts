import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { AuthorizationService } from "../../gen/payments/authorization/v1/authorization_service_pb.js";
import { AuthorizationState } from "../../gen/payments/authorization/v1/authorization_pb.js";
import { MoneySchema, GeoPointSchema } from "../../gen/payments/common/v1/money_pb.js";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { NotificationService } from "../../gen/payments/notification/v1/notification_service_pb.js";
import { ReportingService } from "../../gen/payments/reporting/v1/reporting_service_pb.js";
import { SettlementService } from "../../gen/payments/settlement/v1/settlement_service_pb.js";
import { createServiceClient, retryWithBackoff } from "../../services/shared/clients.ts";
import type { ServiceName } from "../../services/shared/config.ts";
import { connectNats } from "../../services/shared/nats.ts";
import {
  consumerFilters,
  durableLag,
  lastSequence,
  merchantEventFilters,
  readPublished,
  subjectMatches,
  type PublishedEvent,
} from "./events-watch.ts";
import { refundPlanFor, refundShare, refundFullShare } from "./prng.ts";
import { buildChecks, type ReplayReport } from "./report.ts";
import { bump, confusionOf, latencyRecorder } from "./stats.ts";
import { readTransactions, type TransactionRow } from "./transactions.ts";
import { loadVerifier, startWebhookReceiver } from "./webhook-receiver.ts";

/** Options of one replay run. */
export interface ReplayOptions {
  /** CSV or CSV.gz in the Sparkov layout (data/README.md). */
  readonly file: string;
  /** At most this many rows (default: all). */
  readonly limit?: number;
  /** Rows in flight at once (default 16); rows of one card still run in file order. */
  readonly concurrency?: number;
  /** Seed of the derived refunds (default 42). */
  readonly seed?: number;
  /** gRPC (h2c) base URLs of the services, e.g. loadCommonConfig(...).urls. */
  readonly urls: Readonly<Record<ServiceName, string>>;
  readonly natsUrl: string;
  readonly stream: string;
  readonly subjectPrefix: string;
  /** Partner of every merchant of the replay (default "partner_sparkov"). */
  readonly partnerId?: string;
  /** Credit limit per card, USD cents (default 500000 = USD 5,000.00). */
  readonly creditLimitMinor?: bigint;
  /** Bound on waiting for consumers and webhooks after the last close (default 60 s). */
  readonly drainTimeoutMs?: number;
  /** Deadline of each RPC (default 15 s). */
  readonly rpcTimeoutMs?: number;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

/** A replay's report plus what tests need to check exactly-once delivery. */
export interface ReplayOutcome {
  readonly report: ReplayReport;
  /** Event ids this run published for the replay's partner (authorization + settlement). */
  readonly expectedWebhookEventIds: ReadonlySet<string>;
  /** Event ids the receiver verified. */
  readonly verifiedWebhookEventIds: ReadonlySet<string>;
  /** Merchant ids the replay used. */
  readonly merchantIds: readonly string[];
  /** Business dates closed. */
  readonly businessDates: readonly string[];
}

export const defaultPartnerId = "partner_sparkov";
export const defaultCreditLimitMinor = 500_000n;
const currency = "USD";
/** PAN lengths CreateCardAccount accepts (proto/payments/authorization/v1: 8..19 digits, ISO/IEC 7812-1). */
export const panLengthMin = 8;
export const panLengthMax = 19;

/** Merchant id derived from the data's merchant name: "m_" + first 16 hex of sha256(name). */
export function merchantIdOf(name: string): string {
  return `m_${createHash("sha256").update(name).digest("hex").slice(0, 16)}`;
}

/** Retryable transport/overload failures: every replay call is idempotent (keys), so safe. */
function isTransient(error: unknown): boolean {
  const code = ConnectError.from(error).code;
  return code === Code.Unavailable || code === Code.Aborted || code === Code.ResourceExhausted || code === Code.DeadlineExceeded;
}

const retry = <T>(fn: () => Promise<T>) =>
  retryWithBackoff(fn, { attemptsMax: 4, baseDelayMs: 100, maxDelayMs: 2_000, isRetryable: isTransient });

/**
 * Replays the Sparkov rows against a running mesh and returns the report (see
 * scripts/replay.ts for the steps and docs/operations.md for the rules). Throws only when the
 * mesh cannot be reached at all (NATS, or the setup RPCs); RPC failures of single rows are
 * counted in the report, which then fails its "no unexpected RPC errors" check.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplayOutcome> {
  const log = options.log ?? (() => {});
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const seed = options.seed ?? 42;
  const partnerId = options.partnerId ?? defaultPartnerId;
  const creditLimitMinor = options.creditLimitMinor ?? defaultCreditLimitMinor;
  const drainTimeoutMs = options.drainTimeoutMs ?? 60_000;
  const timeout = { defaultTimeoutMs: options.rpcTimeoutMs ?? 15_000 };
  const authorization = createServiceClient(AuthorizationService, options.urls.authorization, timeout);
  const settlement = createServiceClient(SettlementService, options.urls.settlement, timeout);
  const reporting = createServiceClient(ReportingService, options.urls.reporting, timeout);
  const notification = createServiceClient(NotificationService, options.urls.notification, timeout);
  const ledger = createServiceClient(LedgerService, options.urls.ledger, { defaultTimeoutMs: 60_000 });

  const nc = await connectNats(options.natsUrl, "replay");
  const { verify, source: verifierSource } = await loadVerifier();
  const receiver = await startWebhookReceiver({ verify });
  const rpcErrors: Record<string, number> = {};
  const noteError = (method: string, error: unknown) => {
    const connectError = ConnectError.from(error);
    bump(rpcErrors, `${method}:${Code[connectError.code]}`);
    if ((rpcErrors[`${method}:${Code[connectError.code]}`] ?? 0) <= 3) log(`replay: ${method} failed: ${Code[connectError.code]} ${connectError.rawMessage}`);
  };
  try {
    // --- Baselines, so the report counts only this run. ---
    const notificationDurable = `${options.stream}_notification`;
    const reportingDurable = `${options.stream}_reporting`;
    await waitForQuiet(nc, options.stream, [notificationDurable, reportingDurable], 10_000);
    const baselineSeq = await lastSequence(nc, options.stream);
    const reportingBefore = await reporting.getTotals({}).then((r) => r.eventsProcessed, (error) => (noteError("GetTotals", error), 0n));
    const notificationBefore = await notification.getDeliveryStats({}).then((r) => r.eventsProcessed, (error) => (noteError("GetDeliveryStats", error), 0n));

    const endpoint = await notification.createWebhookEndpoint({ partnerId, url: receiver.url });
    receiver.setSecret(endpoint.secret);
    log(`replay: webhook receiver ${receiver.url} registered as ${endpoint.endpoint?.id} for ${partnerId} (verifier: ${verifierSource})`);

    // --- Rows. ---
    const merchants = new Map<string, Promise<string>>();
    const cards = new Map<string, Promise<string>>();
    const ensureMerchant = (name: string): Promise<string> => {
      let pending = merchants.get(name);
      if (!pending) {
        const merchantId = merchantIdOf(name);
        pending = retry(() => authorization.createMerchant({ merchantId, partnerId, name, currencyCode: currency })).then(() => merchantId);
        merchants.set(name, pending);
      }
      return pending;
    };
    const ensureCard = (pan: string): Promise<string> => {
      const key = createHash("sha256").update(pan).digest("hex"); // the map never holds a PAN
      let pending = cards.get(key);
      if (!pending) {
        pending = retry(() =>
          authorization.createCardAccount({ pan, creditLimit: create(MoneySchema, { currencyCode: currency, amountMinor: creditLimitMinor }) }),
        ).then((response) => response.cardAccount?.cardToken ?? "");
        cards.set(key, pending);
      }
      return pending;
    };

    const authorizeLatency = latencyRecorder();
    const captureLatency = latencyRecorder();
    const declinesByCode: Record<string, number> = {};
    const decisions: { predicted: boolean; actual: boolean }[] = [];
    let rows = 0;
    let approved = 0;
    let declined = 0;
    let fraudRows = 0;
    let captures = 0;
    let capturedMinor = 0n;
    let refundsFull = 0;
    let refundsPartial = 0;
    let refundedMinor = 0n;
    let rowsFailed = 0;
    const rowsRejected: Record<string, number> = {};

    const processRow = async (row: TransactionRow): Promise<void> => {
      let merchantId: string;
      let cardToken: string;
      try {
        merchantId = await ensureMerchant(row.merchantName);
      } catch (error) {
        noteError("CreateMerchant", error);
        rowsFailed += 1;
        return;
      }
      try {
        cardToken = await ensureCard(row.pan);
      } catch (error) {
        // A PAN outside the contract's 8..19 digits is refused by contract validation, counted
        // apart; any other failure is an error.
        if (ConnectError.from(error).code === Code.InvalidArgument && (row.pan.length < panLengthMin || row.pan.length > panLengthMax)) {
          bump(rowsRejected, `pan_length_${row.pan.length}`);
          return;
        }
        noteError("CreateCardAccount", error);
        rowsFailed += 1;
        return;
      }
      const eventTime = timestampFromDate(row.eventTime);
      const amount = create(MoneySchema, { currencyCode: currency, amountMinor: row.amountMinor });
      const started = process.hrtime.bigint();
      let result;
      try {
        result = await retry(() =>
          authorization.authorize({
            idempotencyKey: row.transNum,
            merchantId,
            card: { case: "cardToken", value: cardToken },
            amount,
            merchantCategory: row.category,
            cardPresent: row.category.endsWith("_pos"),
            cardholderLocation: create(GeoPointSchema, { latitude: row.cardholderLatitude, longitude: row.cardholderLongitude }),
            merchantLocation: create(GeoPointSchema, { latitude: row.merchantLatitude, longitude: row.merchantLongitude }),
            eventTime,
          }),
        );
      } catch (error) {
        noteError("Authorize", error);
        rowsFailed += 1;
        return;
      }
      authorizeLatency.record(started);
      const auth = result.authorization;
      const code = auth?.responseCodeIso ?? "";
      decisions.push({ predicted: code === "59", actual: row.isFraud });
      if (auth && auth.state !== AuthorizationState.DECLINED && code === "00") {
        approved += 1;
      } else {
        declined += 1;
        bump(declinesByCode, code || "??");
        return;
      }
      // Derived: capture the full amount at the row's time.
      const captureStarted = process.hrtime.bigint();
      try {
        await retry(() =>
          authorization.capture({ idempotencyKey: `${row.transNum}:capture`, authorizationId: auth.id, amount, finalCapture: true, eventTime }),
        );
        captureLatency.record(captureStarted);
        captures += 1;
        capturedMinor += row.amountMinor;
      } catch (error) {
        noteError("Capture", error);
        return;
      }
      // Derived: a seeded ~2 % of captures refunded (full or partial) at the row's time.
      const refundMinor = refundPlanFor(seed, row.transNum, row.amountMinor);
      if (refundMinor === undefined) return;
      try {
        await retry(() =>
          authorization.refund({
            idempotencyKey: `${row.transNum}:refund`,
            authorizationId: auth.id,
            amount: create(MoneySchema, { currencyCode: currency, amountMinor: refundMinor }),
            eventTime,
          }),
        );
        if (refundMinor === row.amountMinor) refundsFull += 1;
        else refundsPartial += 1;
        refundedMinor += refundMinor;
      } catch (error) {
        noteError("Refund", error);
      }
    };

    // --- Business days: closed in date order once every row of the day is done. ---
    const dayOrder: string[] = [];
    const dayOutstanding = new Map<string, number>();
    let readingDay = "";
    let readingDone = false;
    let nextDayToClose = 0;
    let closeChain: Promise<void> = Promise.resolve();
    const closes: ReplayReport["derived"]["closes"] = [];
    const batches: { grossMinor: bigint; refundsMinor: bigint; feesMinor: bigint; netMinor: bigint }[] = [];
    const closeReadyDays = () => {
      while (nextDayToClose < dayOrder.length) {
        const day = dayOrder[nextDayToClose];
        const finishedReading = readingDone || day !== readingDay;
        if (!finishedReading || (dayOutstanding.get(day) ?? 0) > 0) return;
        nextDayToClose += 1;
        closeChain = closeChain.then(() => closeDay(day));
      }
    };
    const closeDay = async (day: string): Promise<void> => {
      const started = Date.now();
      try {
        const response = await retryWithBackoff(
          () => settlement.closeBusinessDay({ businessDate: day, currencyCode: currency }, { timeoutMs: 45_000 }),
          {
            attemptsMax: 5,
            baseDelayMs: 500,
            maxDelayMs: 5_000,
            isRetryable: (error) => isTransient(error) || ConnectError.from(error).code === Code.FailedPrecondition,
          },
        );
        for (const batch of response.batches) {
          batches.push({
            grossMinor: batch.gross?.amountMinor ?? 0n,
            refundsMinor: batch.refunds?.amountMinor ?? 0n,
            feesMinor: batch.fees?.amountMinor ?? 0n,
            netMinor: batch.net?.amountMinor ?? 0n,
          });
        }
        closes.push({ businessDate: day, batches: response.batches.length, alreadyClosed: response.alreadyClosed, ok: true, ms: Date.now() - started });
        log(`replay: closed ${day}: ${response.batches.length} batches${response.alreadyClosed ? " (already closed)" : ""}`);
      } catch (error) {
        noteError("CloseBusinessDay", error);
        closes.push({ businessDate: day, batches: 0, alreadyClosed: false, ok: false, ms: Date.now() - started });
      }
    };

    const cardTails = new Map<string, Promise<void>>();
    const inFlight = new Set<Promise<void>>();
    let running = 0;
    const waiters: (() => void)[] = [];
    const acquire = async () => {
      while (running >= concurrency) await new Promise<void>((resolve) => waiters.push(resolve));
      running += 1;
    };
    const release = () => {
      running -= 1;
      waiters.shift()?.();
    };
    const queuedMax = concurrency * 8;
    const startedAt = process.hrtime.bigint();
    let lastProgress = Date.now();
    for await (const row of readTransactions(options.file, options.limit)) {
      rows += 1;
      if (row.isFraud) fraudRows += 1;
      if (row.businessDate !== readingDay) {
        if (!dayOutstanding.has(row.businessDate)) dayOrder.push(row.businessDate);
        readingDay = row.businessDate;
        closeReadyDays();
      }
      dayOutstanding.set(row.businessDate, (dayOutstanding.get(row.businessDate) ?? 0) + 1);
      const cardKey = createHash("sha256").update(row.pan).digest("hex");
      const previous = cardTails.get(cardKey) ?? Promise.resolve();
      const task: Promise<void> = previous.then(async () => {
        await acquire();
        try {
          await processRow(row);
        } finally {
          release();
        }
      });
      const tracked = task.finally(() => {
        inFlight.delete(tracked);
        if (cardTails.get(cardKey) === task) cardTails.delete(cardKey);
        dayOutstanding.set(row.businessDate, (dayOutstanding.get(row.businessDate) ?? 1) - 1);
        closeReadyDays();
      });
      cardTails.set(cardKey, task);
      inFlight.add(tracked);
      while (inFlight.size >= queuedMax) await Promise.race(inFlight);
      if (Date.now() - lastProgress > 5_000) {
        lastProgress = Date.now();
        log(`replay: ${rows} rows read, ${approved + declined} decided`);
      }
    }
    readingDone = true;
    await Promise.all(inFlight);
    closeReadyDays();
    await closeChain;
    const elapsedSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    log(`replay: ${rows} rows in ${elapsedSeconds.toFixed(1)} s; waiting for consumers and webhooks`);

    // --- Drain: consumers and webhooks catch up with what this run published. ---
    const reportingFilters = await consumerFilters(nc, options.stream, reportingDurable, merchantEventFilters(options.subjectPrefix));
    const notificationFilters = await consumerFilters(nc, options.stream, notificationDurable, merchantEventFilters(options.subjectPrefix));
    const published: PublishedEvent[] = [];
    let readSeq = baselineSeq;
    let reportingProcessed = 0n;
    let notificationProcessed = 0n;
    let reportingLag: number | undefined;
    let notificationLag: number | undefined;
    const expectedWebhookEventIds = new Set<string>();
    const drainDeadline = Date.now() + drainTimeoutMs;
    let drained = false;
    let stablePolls = 0;
    for (;;) {
      const upto = await lastSequence(nc, options.stream);
      if (upto > readSeq) {
        const fresh = await readPublished(nc, options.stream, readSeq, upto);
        published.push(...fresh);
        for (const event of fresh) {
          if (event.partnerId === partnerId && notificationFilters.some((filter) => subjectMatches(filter, event.subject))) {
            expectedWebhookEventIds.add(event.eventId);
          }
        }
        readSeq = upto;
        stablePolls = 0;
      } else {
        stablePolls += 1;
      }
      const [reportingTotals, deliveryStats] = await Promise.all([
        reporting.getTotals({}).catch(() => undefined),
        notification.getDeliveryStats({}).catch(() => undefined),
      ]);
      reportingProcessed = (reportingTotals?.eventsProcessed ?? reportingBefore) - reportingBefore;
      notificationProcessed = (deliveryStats?.eventsProcessed ?? notificationBefore) - notificationBefore;
      reportingLag = await durableLag(nc, options.stream, reportingDurable);
      notificationLag = await durableLag(nc, options.stream, notificationDurable);
      const reportingPublished = countMatching(published, reportingFilters);
      const notificationPublished = countMatching(published, notificationFilters);
      const verified = receiver.verifiedEventIds();
      const webhooksDone = [...expectedWebhookEventIds].every((id) => verified.has(id));
      if (
        stablePolls >= 1 &&
        BigInt(reportingPublished) <= reportingProcessed &&
        BigInt(notificationPublished) <= notificationProcessed &&
        reportingLag === 0 &&
        notificationLag === 0 &&
        webhooksDone
      ) {
        drained = true;
        break;
      }
      if (Date.now() > drainDeadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    // --- Read the results. ---
    let audit;
    try {
      audit = await ledger.audit({});
    } catch (error) {
      noteError("Audit", error);
    }
    const totals = await reporting.getTotals({}).catch((error) => (noteError("GetTotals", error), undefined));
    const usd = totals?.totals.find((summary) => summary.currencyCode === currency);
    const webhookCounts = receiver.counts();
    const verified = receiver.verifiedEventIds();
    const sum = (pick: (batch: (typeof batches)[number]) => bigint) => batches.reduce((total, batch) => total + pick(batch), 0n);

    const report: Omit<ReplayReport, "checks" | "pass"> = {
      input: {
        file: options.file,
        rows,
        limit: options.limit ?? null,
        concurrency,
        seed,
        partnerId,
        creditLimitMinor,
        currency,
        businessDates: dayOrder,
        merchants: merchants.size,
        cards: cards.size,
      },
      authorizations: { rows, decided: approved + declined, approved, declined, declinesByCode, rowsFailed, rowsRejected },
      fraud: { ...confusionOf(decisions), fraudRows, note: "positive = declined with ISO 8583 code 59; label = is_fraud" },
      derived: {
        note: "captures, refunds and day closes are derived by the replay (the data has purchases only)",
        captures: { count: captures, amountMinor: capturedMinor },
        refunds: { count: refundsFull + refundsPartial, full: refundsFull, partial: refundsPartial, amountMinor: refundedMinor, share: refundShare, fullShare: refundFullShare },
        closes,
      },
      settlement: {
        batches: batches.length,
        grossMinor: sum((batch) => batch.grossMinor),
        refundsMinor: sum((batch) => batch.refundsMinor),
        feesMinor: sum((batch) => batch.feesMinor),
        netMinor: sum((batch) => batch.netMinor),
      },
      ledger: {
        reachable: audit !== undefined,
        ok: audit?.ok ?? false,
        violations: audit?.violations.slice(0, 20) ?? [],
        overduePendingCount: audit?.overduePendingCount ?? 0n,
        totals: (audit?.totals ?? []).map((ledgerTotals) => ({
          ledger: ledgerTotals.ledger,
          debitsPending: BigInt(ledgerTotals.debitsPending || "0"),
          creditsPending: BigInt(ledgerTotals.creditsPending || "0"),
          debitsPosted: BigInt(ledgerTotals.debitsPosted || "0"),
          creditsPosted: BigInt(ledgerTotals.creditsPosted || "0"),
          accountCount: ledgerTotals.accountCount,
          transferCount: ledgerTotals.transferCount,
        })),
      },
      events: {
        drained,
        streamSequences: { from: baselineSeq + 1, to: readSeq },
        published: {
          all: published.length,
          reporting: countMatching(published, reportingFilters),
          notification: countMatching(published, notificationFilters),
        },
        processed: { reporting: reportingProcessed, notification: notificationProcessed },
        lag: { reporting: reportingLag ?? null, notification: notificationLag ?? null },
        filters: { reporting: reportingFilters, notification: notificationFilters },
      },
      webhooks: {
        verifier: verifierSource,
        expected: expectedWebhookEventIds.size,
        ...webhookCounts,
        expectedVerified: [...expectedWebhookEventIds].filter((id) => verified.has(id)).length,
      },
      reporting: usd
        ? {
            authorizationCount: usd.authorizationCount,
            approvedCount: usd.approvedCount,
            declinedCount: usd.declinedCount,
            fraudDeclinedCount: usd.fraudDeclinedCount,
            capturedAmountMinor: usd.capturedAmountMinor,
            refundedAmountMinor: usd.refundedAmountMinor,
            settledGrossMinor: usd.settledGrossMinor,
            settledFeesMinor: usd.settledFeesMinor,
            settledNetMinor: usd.settledNetMinor,
          }
        : null,
      performance: {
        elapsedSeconds: Math.round(elapsedSeconds * 1000) / 1000,
        rowsPerSecond: elapsedSeconds > 0 ? Math.round((rows / elapsedSeconds) * 10) / 10 : 0,
        authorize: authorizeLatency.summary(),
        capture: captureLatency.summary(),
      },
      rpcErrors,
    };
    const checks = buildChecks(report);
    return {
      report: { ...report, checks, pass: checks.every((check) => check.pass) },
      expectedWebhookEventIds,
      verifiedWebhookEventIds: new Set(verified),
      merchantIds: [...new Set([...merchants.keys()].map(merchantIdOf))],
      businessDates: dayOrder,
    };
  } finally {
    await receiver.close();
    await nc.close();
  }
}

function countMatching(events: readonly PublishedEvent[], filters: readonly string[]): number {
  return events.filter((event) => filters.some((filter) => subjectMatches(filter, event.subject))).length;
}

/** Waits (bounded) until the durable consumers have nothing pending, so baselines are stable. */
async function waitForQuiet(nc: Awaited<ReturnType<typeof connectNats>>, stream: string, durables: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const lags = await Promise.all(durables.map((durable) => durableLag(nc, stream, durable)));
    if (lags.every((lag) => !lag)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export type { Client };
