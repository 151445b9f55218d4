/**
 * `npm start`: runs the whole mesh on this machine, one child process per service.
 *
 * Checks PostgreSQL and NATS first (one line naming the URL tried and the fix; exit 2), creates
 * the database, starts ledger and fraud, then authorization, then settlement, notification and
 * reporting, each as `node services/<name>/main.ts`, waits for every ready line, prints where
 * each endpoint listens, and forwards the children's JSON log lines to stderr (or, with
 * `--log-dir <dir>`, to <dir>/<service>.log). Ctrl-C / SIGTERM stops every child by PID with
 * SIGTERM (SIGKILL after 20 s) and exits 0; a child dying unexpectedly stops the rest and exits 1.
 *
 * Flags: --log-dir <dir>, --ports <base|free>, --services a,b,c. Configuration: the services'
 * environment variables (docs/configuration.md); see docs/operations.md.
 */
import { parseArgs } from "node:util";
import { serviceNames, type ServiceName } from "../services/shared/config.ts";
import { endpointTable, PreflightError, startMesh, type RunningMesh } from "./lib/launcher.ts";

const { values } = parseArgs({
  options: {
    "log-dir": { type: "string" },
    ports: { type: "string" },
    services: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  process.stdout.write("usage: npm start -- [--log-dir DIR] [--ports BASE|free] [--services ledger,fraud,...]\n");
  process.exit(0);
}
const services = values.services?.split(",").map((name) => name.trim()) as ServiceName[] | undefined;
for (const name of services ?? []) {
  if (!(serviceNames as readonly string[]).includes(name)) {
    process.stderr.write(`start: unknown service ${JSON.stringify(name)}; known: ${serviceNames.join(", ")}\n`);
    process.exit(2);
  }
}
const ports = values.ports === undefined ? undefined : values.ports === "free" ? ("free" as const) : Number(values.ports);
if (typeof ports === "number" && (!Number.isInteger(ports) || ports < 1024 || ports > 65000)) {
  process.stderr.write("start: --ports must be 'free' or an integer base port in 1024..65000\n");
  process.exit(2);
}

let mesh: RunningMesh | undefined;
let shuttingDown = false;
const shutdown = async (reason: string, exitCode: number) => {
  if (shuttingDown) return;
  shuttingDown = true;
  // Still starting: startMesh's return (below) sees the flag and stops what it started.
  if (!mesh) return;
  process.stderr.write(`start: ${reason}; stopping every service\n`);
  const clean = (await mesh?.stop()) ?? true;
  process.stderr.write(`start: all services stopped${clean ? "" : " (some did not exit cleanly)"}\n`);
  process.exit(exitCode);
};
process.on("SIGINT", () => void shutdown("SIGINT", 0));
process.on("SIGTERM", () => void shutdown("SIGTERM", 0));

try {
  mesh = await startMesh({
    ports,
    services,
    logs: values["log-dir"] ? { dir: values["log-dir"] } : "stderr",
  });
} catch (error) {
  if (error instanceof PreflightError) {
    process.stderr.write(`start: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`start: ${(error as Error).message}\n`);
  process.exit(1);
}
if (shuttingDown) {
  process.stderr.write("start: stop requested while starting; stopping every service\n");
  await mesh.stop();
  process.exit(0);
}
process.stdout.write(`\n${endpointTable(mesh.endpoints)}\n\nmesh ready; Ctrl-C stops it\n`);
const exit = await mesh.unexpectedExit;
await shutdown(`${exit.name} exited unexpectedly (code ${exit.code}, signal ${exit.signal})`, 1);
