/**
 * `npm run replay -- --file <csv[.gz]> [--limit N] [--concurrency C] [--json] [--seed S]`
 *
 * Replays the Sparkov card transactions (data/README.md) against a running mesh whose
 * endpoints come from the services' environment variables (<SERVICE>_URL / <SERVICE>_GRPC_PORT,
 * NATS_URL, NATS_STREAM, NATS_SUBJECT_PREFIX; defaults as in services/shared/config.ts):
 * registers a signature-verifying webhook receiver, creates merchants and card accounts
 * (USD 5,000.00 credit each), authorizes every row in event time (per-card order kept, up to C
 * rows at once), captures approved ones, refunds a seeded 2 %, closes each business day, waits
 * for the consumers and webhooks, and prints the report (text, or one JSON object with
 * --json). `--ports BASE` matches a mesh started with `npm start -- --ports BASE`. Exit 0 when every check passes, 1 when one fails, 2 on bad arguments or an
 * unreachable mesh. PANs are never printed.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { loadCommonConfig } from "../services/shared/config.ts";
import { portEnv } from "./lib/launcher.ts";
import { formatReport } from "./lib/report.ts";
import { runReplay } from "./lib/replay-run.ts";
import { toJson } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    file: { type: "string" },
    limit: { type: "string" },
    concurrency: { type: "string", default: "16" },
    seed: { type: "string", default: "42" },
    json: { type: "boolean", default: false },
    "drain-timeout": { type: "string", default: "60" },
    ports: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const usage = "usage: npm run replay -- --file <csv[.gz]> [--limit N] [--concurrency C] [--seed S] [--json] [--drain-timeout SECONDS] [--ports BASE]\n";
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const positiveInt = (name: string, text: string | undefined, min: number): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`replay: --${name} must be an integer >= ${min}\n${usage}`);
    process.exit(2);
  }
  return value;
};
if (!values.file) {
  process.stderr.write(`replay: --file is required\n${usage}`);
  process.exit(2);
}
const file = resolve(values.file);
if (!existsSync(file)) {
  process.stderr.write(`replay: ${file} does not exist\n`);
  process.exit(2);
}
// --ports BASE: the mesh was started with `npm start -- --ports BASE` (same port layout).
const portBase = positiveInt("ports", values.ports, 1024);
const config = loadCommonConfig("authorization", portBase === undefined ? process.env : { ...process.env, ...(await portEnv(portBase)) });
try {
  const outcome = await runReplay({
    file,
    limit: positiveInt("limit", values.limit, 1),
    concurrency: positiveInt("concurrency", values.concurrency, 1),
    seed: positiveInt("seed", values.seed, 0),
    drainTimeoutMs: (positiveInt("drain-timeout", values["drain-timeout"], 1) ?? 60) * 1000,
    urls: config.urls,
    natsUrl: config.NATS_URL,
    stream: config.NATS_STREAM,
    subjectPrefix: config.NATS_SUBJECT_PREFIX,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(values.json ? `${toJson(outcome.report)}\n` : `${formatReport(outcome.report)}\n`);
  process.exit(outcome.report.pass ? 0 : 1);
} catch (error) {
  process.stderr.write(`replay: ${(error as Error).message}\n`);
  process.exit(2);
}
