/**
 * End to end: the whole mesh as real processes (startMesh on a unique database, stream,
 * subject prefix and free ports), 600 real rows of data/transactions.csv.gz replayed through
 * runReplay, then the books, the consumers and the webhooks are checked against each other.
 *
 * Equalities (docs/operations.md "What the e2e test proves"):
 *  - ledger audit ok, and per ledger debits == credits, pending and posted;
 *  - each consumer processed exactly the events published (count per its filters), lag 0;
 *    the webhook receiver verified exactly the set of event ids published for the partner;
 *  - reporting == ledger: approved count == hold transfers into merchant accounts; captured ==
 *    sum of posted captures into merchant accounts; refunded == refund transfers out of them;
 *  - settlement == ledger == reporting: fees == settlement fee transfers, net == settlement net
 *    transfers, gross == captured (every day closed); afterwards every merchant payable is 0.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerService } from "../../gen/payments/ledger/v1/ledger_service_pb.js";
import { ReportingService } from "../../gen/payments/reporting/v1/reporting_service_pb.js";
import type { Transfer } from "../../gen/payments/ledger/v1/ledger_pb.js";
import { accountIds, transferCodes } from "../../services/shared/chart.ts";
import { createServiceClient } from "../../services/shared/clients.ts";
import { repoRoot } from "../../scripts/lib/launcher.ts";
import { runReplay, type ReplayOutcome } from "../../scripts/lib/replay-run.ts";
import { formatReport } from "../../scripts/lib/report.ts";
import { startTestMesh, type TestMesh } from "../support/mesh.ts";

const rowsReplayed = 600;
let testMesh: TestMesh | undefined;
let outcome: ReplayOutcome;

beforeAll(async () => {
  testMesh = await startTestMesh();
  outcome = await runReplay({
    file: join(repoRoot, "data", "transactions.csv.gz"),
    limit: rowsReplayed,
    concurrency: 16,
    urls: testMesh.urls,
    natsUrl: testMesh.natsUrl,
    stream: testMesh.stream,
    subjectPrefix: testMesh.prefix,
    drainTimeoutMs: 90_000,
  });
  if (!outcome.report.pass) process.stderr.write(`${formatReport(outcome.report)}\n(service logs: ${testMesh.logDir})\n`);
}, 600_000);

afterAll(async () => {
  await testMesh?.stop();
}, 120_000);

describe("the mesh replaying real rows", () => {
  it("decides every one of the 600 rows the contract accepts, most approved", () => {
    const { authorizations } = outcome.report;
    expect(authorizations.rows).toBe(rowsReplayed);
    // Every PAN of the slice is 11..19 digits, inside the contract's 8..19: none is refused.
    const rejected = Object.values(authorizations.rowsRejected).reduce((total, count) => total + count, 0);
    expect(rejected).toBe(0);
    expect(authorizations.rowsFailed).toBe(0);
    expect(authorizations.decided + rejected).toBe(rowsReplayed);
    expect(authorizations.decided).toBeGreaterThanOrEqual(500);
    expect(authorizations.approved).toBeGreaterThan(authorizations.decided / 2);
    expect(outcome.report.rpcErrors).toEqual({});
  });

  it("keeps the ledger balanced: audit ok, debits == credits per ledger, pending and posted", () => {
    const { ledger } = outcome.report;
    expect(ledger.violations).toEqual([]);
    expect(ledger.ok).toBe(true);
    expect(ledger.totals.length).toBeGreaterThan(0);
    for (const totals of ledger.totals) {
      expect(totals.debitsPending).toBe(totals.creditsPending);
      expect(totals.debitsPosted).toBe(totals.creditsPosted);
    }
  });

  it("delivers every event to both consumers exactly once", () => {
    const { events } = outcome.report;
    expect(events.drained).toBe(true);
    expect(events.published.reporting).toBeGreaterThan(0);
    expect(events.processed.reporting).toBe(BigInt(events.published.reporting));
    expect(events.processed.notification).toBe(BigInt(events.published.notification));
    expect(events.lag).toEqual({ reporting: 0, notification: 0 });
  });

  it("has the webhook receiver verify each published event id, and only those", () => {
    const { webhooks } = outcome.report;
    expect(webhooks.invalidSignatures).toBe(0);
    expect(outcome.expectedWebhookEventIds.size).toBeGreaterThan(0);
    expect([...outcome.verifiedWebhookEventIds].sort()).toEqual([...outcome.expectedWebhookEventIds].sort());
  });

  it("passes every check of the report", () => {
    expect(outcome.report.checks.filter((check) => !check.pass)).toEqual([]);
  });

  it("agrees three ways: reporting, settlement and the ledger", async () => {
    const ledger = createServiceClient(LedgerService, testMesh!.urls.ledger, { defaultTimeoutMs: 30_000 });
    const reporting = createServiceClient(ReportingService, testMesh!.urls.reporting);
    const merchantAccounts = outcome.merchantIds.map((id) => accountIds.merchant(id));
    let holds = 0;
    let capturedMinor = 0n;
    let refundedMinor = 0n;
    let feesMinor = 0n;
    let netMinor = 0n;
    const classify = (account: string, transfer: Transfer) => {
      const credit = transfer.creditAccountId === account;
      if (transfer.flags?.pending && transfer.code === transferCodes.hold && credit) holds += 1;
      else if (transfer.flags?.postPendingTransfer && credit) capturedMinor += transfer.amount;
      else if (transfer.code === transferCodes.refund && !credit) refundedMinor += transfer.amount;
      else if (transfer.code === transferCodes.settlementFee && !credit) feesMinor += transfer.amount;
      else if (transfer.code === transferCodes.settlementNet) netMinor += credit ? -transfer.amount : transfer.amount;
    };
    const queue = [...merchantAccounts];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let account = queue.shift(); account !== undefined; account = queue.shift()) {
          let pageToken = "";
          do {
            const page = await ledger.listAccountTransfers({ accountId: account, pageSize: 1000, pageToken });
            for (const transfer of page.transfers) classify(account, transfer);
            pageToken = page.nextPageToken;
          } while (pageToken !== "");
        }
      }),
    );
    const report = outcome.report;
    const totals = (await reporting.getTotals({})).totals.find((summary) => summary.currencyCode === "USD");
    expect(totals).toBeDefined();

    expect(BigInt(holds)).toBe(totals!.approvedCount);
    expect(holds).toBe(report.authorizations.approved);
    expect(capturedMinor).toBe(totals!.capturedAmountMinor);
    expect(capturedMinor).toBe(report.derived.captures.amountMinor);
    expect(refundedMinor).toBe(totals!.refundedAmountMinor);
    expect(refundedMinor).toBe(report.derived.refunds.amountMinor);

    expect(report.settlement.grossMinor).toBe(capturedMinor);
    expect(report.settlement.refundsMinor).toBe(refundedMinor);
    expect(report.settlement.feesMinor).toBe(feesMinor);
    expect(report.settlement.netMinor).toBe(netMinor);
    expect(totals!.settledGrossMinor).toBe(report.settlement.grossMinor);
    expect(totals!.settledFeesMinor).toBe(report.settlement.feesMinor);
    expect(totals!.settledNetMinor).toBe(report.settlement.netMinor);

    // Every day closed: each merchant payable has been settled out to zero.
    const accounts = (await ledger.lookupAccounts({ ids: merchantAccounts })).accounts;
    expect(accounts).toHaveLength(merchantAccounts.length);
    for (const account of accounts) {
      expect({ id: account.id, balance: account.creditsPosted - account.debitsPosted, pending: account.creditsPending }).toEqual({
        id: account.id,
        balance: 0n,
        pending: 0n,
      });
    }
  }, 120_000);
});
