/**
 * `npm run demo [-- --limit N] [--concurrency C] [--keep] [--json]`: one command on a fresh
 * machine. Starts the whole mesh (startMesh) on a unique database and a unique JetStream
 * stream and subject prefix (so repeated demos never collide and each demo's counts are its
 * own), on free ports, with the services' logs in .runtime/logs/demo-<id>/; replays the
 * committed data (data/transactions.csv.gz, 5,039 real rows); prints the report; stops every
 * service; drops the database and deletes the stream unless --keep. Exit 0 when every check
 * passes, 1 otherwise, 2 when PostgreSQL or NATS is unreachable.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { dropDatabase, withDatabase } from "../services/shared/db.ts";
import { connectNats, deleteStreams } from "../services/shared/nats.ts";
import { endpointTable, PreflightError, repoRoot, startMesh, type RunningMesh } from "./lib/launcher.ts";
import { formatReport } from "./lib/report.ts";
import { runReplay } from "./lib/replay-run.ts";
import { toJson } from "./lib/stats.ts";

const { values } = parseArgs({
  options: {
    limit: { type: "string" },
    concurrency: { type: "string", default: "32" },
    keep: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const limit = values.limit === undefined ? undefined : Number(values.limit);
const concurrency = Number(values.concurrency);
if ((limit !== undefined && (!Number.isInteger(limit) || limit < 1)) || !Number.isInteger(concurrency) || concurrency < 1) {
  process.stderr.write("usage: npm run demo -- [--limit N] [--concurrency C] [--keep] [--json]\n");
  process.exit(2);
}

const id = randomBytes(4).toString("hex");
const baseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const databaseUrl = withDatabase(baseUrl, `payments_demo_${id}`);
const stream = `DEMO_${id}`;
const prefix = `demo${id}`;
const logDir = join(repoRoot, ".runtime", "logs", `demo-${id}`);
const say = (line: string) => process.stderr.write(`demo: ${line}\n`);

let mesh: RunningMesh | undefined;
let exitCode = 1;
const cleanup = async () => {
  await mesh?.stop();
  if (values.keep) {
    say(`kept database ${databaseUrl} and stream ${stream} (--keep)`);
    return;
  }
  await dropDatabase(databaseUrl).catch((error: Error) => say(`could not drop the database: ${error.message}`));
  const nc = await connectNats(natsUrl, "demo-cleanup").catch(() => undefined);
  if (nc) {
    await deleteStreams(nc, stream);
    await nc.close();
  }
};
process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));
process.on("SIGTERM", () => void cleanup().then(() => process.exit(143)));

try {
  say(`starting the mesh: database payments_demo_${id}, stream ${stream}, prefix ${prefix}, logs ${logDir}`);
  mesh = await startMesh({
    ports: "free",
    env: { DATABASE_URL: databaseUrl, NATS_URL: natsUrl, NATS_STREAM: stream, NATS_SUBJECT_PREFIX: prefix, LOG_LEVEL: process.env.LOG_LEVEL ?? "info" },
    logs: { dir: logDir },
  });
  process.stderr.write(`${endpointTable(mesh.endpoints)}\n`);
  const urls = Object.fromEntries(Object.entries(mesh.endpoints).map(([name, endpoint]) => [name, endpoint.grpcUrl])) as never;
  const replay = runReplay({
    file: join(repoRoot, "data", "transactions.csv.gz"),
    limit,
    concurrency,
    urls,
    natsUrl,
    stream,
    subjectPrefix: prefix,
    log: say,
  });
  const outcome = await Promise.race([
    replay,
    mesh.unexpectedExit.then((exit) => {
      throw new Error(`${exit.name} exited unexpectedly (code ${exit.code}); see ${logDir}/${exit.name}.log`);
    }),
  ]);
  process.stdout.write(values.json ? `${toJson(outcome.report)}\n` : `${formatReport(outcome.report)}\n`);
  exitCode = outcome.report.pass ? 0 : 1;
} catch (error) {
  say((error as Error).message);
  exitCode = error instanceof PreflightError ? 2 : 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
