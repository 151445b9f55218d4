/**
 * `npm run ledger:audit [-- --ledger N] [--direct] [--json]`: proves the books.
 *
 * Default: calls LedgerService.Audit on the running ledger (LEDGER_URL, default
 * http://127.0.0.1:$LEDGER_GRPC_PORT or 50053). `--direct` runs the same audit straight on
 * PostgreSQL (DATABASE_URL) without the service, e.g. while the ledger is down. Checks (docs/ledger.md
 * "Invariants"): per ledger total debits = total credits, pending and posted; each account's
 * balances = the sum of its transfers recomputed from scratch; no account breaks its flags;
 * every hold resolved at most once; no hold left pending longer than the grace after its
 * expires_at (max(10 s, 5 x LEDGER_EXPIRY_INTERVAL_MS): the expiry loop's cadence). Prints the per-ledger totals
 * and every violation; exits 0 when the books are clean, 1 when not, 2 when it cannot run.
 */
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { LedgerService } from "../gen/payments/ledger/v1/ledger_service_pb.js";
import { createLedgerEngine } from "../services/ledger/store/engine.ts";
import { expiryIntervalMsFromEnv } from "../services/ledger/config.ts";
import { overdueGraceFor } from "../services/ledger/store/audit.ts";
import { loadCommonConfig } from "../services/shared/config.ts";
import { createPool } from "../services/shared/db.ts";
import { createGrpcJsTransport } from "../services/shared/grpc-transport.ts";

const { values } = parseArgs({
  options: {
    ledger: { type: "string", default: "0" },
    direct: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const ledger = Number(values.ledger);
if (!Number.isInteger(ledger) || ledger < 0) {
  process.stderr.write("ledger:audit: --ledger must be a ledger number (0 = all)\n");
  process.exit(2);
}

interface Report {
  ok: boolean;
  totals: { ledger: number; debitsPending: string; creditsPending: string; debitsPosted: string; creditsPosted: string; accountCount: bigint; transferCount: bigint }[];
  violations: string[];
  overduePendingCount: bigint;
}

async function audit(): Promise<Report> {
  const config = loadCommonConfig("ledger");
  if (values.direct) {
    const pool = createPool(config.DATABASE_URL, { max: 2, applicationName: "ledger-audit" });
    try {
      // Same grace for overdue holds as the service (from LEDGER_EXPIRY_INTERVAL_MS).
      const auditOverdueGraceUs = overdueGraceFor(expiryIntervalMsFromEnv());
      return await createLedgerEngine(pool, { auditOverdueGraceUs }).audit(ledger);
    } finally {
      await pool.end();
    }
  }
  const transport = createGrpcJsTransport({ baseUrl: config.urls.ledger, defaultTimeoutMs: 120_000 });
  try {
    return await createClient(LedgerService, transport).audit({ ledger });
  } finally {
    transport.close();
  }
}

let report: Report;
try {
  report = await audit();
} catch (error) {
  process.stderr.write(`ledger:audit: ${(error as Error).message}\n`);
  process.exit(2);
}
if (values.json) {
  process.stdout.write(`${JSON.stringify(report, (_key, value) => (typeof value === "bigint" ? value.toString() : value))}\n`);
} else {
  for (const totals of report.totals) {
    const balanced = totals.debitsPending === totals.creditsPending && totals.debitsPosted === totals.creditsPosted;
    process.stdout.write(
      `ledger ${totals.ledger}: ${totals.accountCount} accounts, ${totals.transferCount} transfers; ` +
        `pending debits ${totals.debitsPending} / credits ${totals.creditsPending}; ` +
        `posted debits ${totals.debitsPosted} / credits ${totals.creditsPosted} (minor units) ${balanced ? "balanced" : "UNBALANCED"}\n`,
    );
  }
  process.stdout.write(`overdue holds still pending: ${report.overduePendingCount}\n`);
  for (const violation of report.violations) process.stdout.write(`VIOLATION ${violation}\n`);
  process.stdout.write(report.ok ? "books are clean\n" : `books are NOT clean: ${report.violations.length} violation(s)\n`);
}
process.exit(report.ok ? 0 : 1);
