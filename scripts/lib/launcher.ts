import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { loadCommonConfig, serviceNames, type ServiceName } from "../../services/shared/config.ts";
import { assertPostgresReachable, ensureDatabase, redactUrl } from "../../services/shared/db.ts";
import { connectNats } from "../../services/shared/nats.ts";

/** Repository root, resolved from this file (never an absolute path). */
export const repoRoot = resolve(import.meta.dirname, "../..");

/**
 * Start order in tiers: a tier starts once every service of the previous tier printed its
 * ready line; services of one tier start together. Stop runs the tiers in reverse, so the
 * consumers and callers go before what they depend on.
 */
export const startTiers: readonly (readonly ServiceName[])[] = [
  ["ledger", "fraud"],
  ["authorization"],
  ["settlement", "notification", "reporting"],
];

/** Where one service listens, as printed in its ready line. */
export interface MeshEndpoint {
  readonly name: ServiceName;
  /** host:port of gRPC over HTTP/2 cleartext (h2c), e.g. "127.0.0.1:50051" (ghz, grpcurl). */
  readonly grpc: string;
  /** Base URL for typed clients over h2c (createServiceClient), e.g. "http://127.0.0.1:50051". */
  readonly grpcUrl: string;
  /** Base URL of Connect / gRPC-web / gRPC over HTTP/1.1, e.g. "http://127.0.0.1:8081". */
  readonly http: string;
  /** Prometheus metrics URL. */
  readonly metrics: string;
  /** Child process id. */
  readonly pid: number;
}

/** Why a child ended while the mesh was not stopping. */
export interface ChildExit {
  readonly name: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly lastStderr: readonly string[];
}

/** Options of startMesh. Every field is optional; the defaults run the standard mesh. */
export interface MeshOptions {
  /** Environment overrides on top of process.env (DATABASE_URL, NATS_STREAM, ...). */
  readonly env?: Record<string, string>;
  /**
   * Ports: undefined keeps each service's configured port (env or defaults 5005x/808x);
   * "free" picks free ports on 127.0.0.1; a number N gives service i (in serviceNames order)
   * gRPC N+2i and HTTP N+2i+1.
   */
  readonly ports?: number | "free";
  /** Subset of services to start (kept in tier order). Default: all six. */
  readonly services?: readonly ServiceName[];
  /** Where children's log lines go: "stderr" (default), "silent", or a directory for one
   * file per service (<dir>/<name>.log). */
  readonly logs?: "stderr" | "silent" | { readonly dir: string };
  /** How long one service may take to print its ready line (default 60 s). */
  readonly readyTimeoutMs?: number;
  /** Grace after SIGTERM before SIGKILL (default 20 s: above the services' 10 s drain). */
  readonly stopGraceMs?: number;
  /** Command for a service (tests run dummy children); default `node services/<name>/main.ts`. */
  readonly command?: (name: ServiceName) => { readonly file: string; readonly args: readonly string[] };
  /** Skip the PostgreSQL / NATS checks and database creation (dummy children only). */
  readonly skipPreflight?: boolean;
  /** Called once when a child ends while the mesh is not stopping (after it was ready). */
  readonly onUnexpectedExit?: (exit: ChildExit) => void;
}

/** A running mesh. */
export interface RunningMesh {
  readonly endpoints: Readonly<Partial<Record<ServiceName, MeshEndpoint>>>;
  /** The environment every child got (with the resolved ports and peer URLs). */
  readonly env: Readonly<Record<string, string>>;
  /** Resolves when a child ends unexpectedly (never resolves after stop() began). */
  readonly unexpectedExit: Promise<ChildExit>;
  /** SIGTERM to every child by PID (reverse tiers), SIGKILL after the grace; resolves with
   * true when every child exited 0 on its own. Safe to call twice. */
  stop(): Promise<boolean>;
}

/** A startup failure that is the environment's fault (PostgreSQL or NATS down): exit 2. */
export class PreflightError extends Error {}

const stderrLinesKept = 30;

interface Child {
  readonly name: ServiceName;
  readonly process: ChildProcess;
  readonly lastStderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedAlready: boolean;
  readonly logFile?: WriteStream;
}

/** Picks a free TCP port on 127.0.0.1 (the kernel's choice for port 0). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** The port and peer-URL variables for `ports` (see MeshOptions.ports). */
export async function portEnv(ports: number | "free"): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [index, name] of serviceNames.entries()) {
    const upper = name.toUpperCase();
    const grpc = ports === "free" ? await freePort() : ports + 2 * index;
    const http = ports === "free" ? await freePort() : ports + 2 * index + 1;
    env[`${upper}_GRPC_PORT`] = String(grpc);
    env[`${upper}_HTTP_PORT`] = String(http);
    env[`${upper}_URL`] = `http://127.0.0.1:${grpc}`;
  }
  return env;
}

/**
 * Checks PostgreSQL and NATS (throws PreflightError with one line naming the URL tried and
 * how to fix it) and creates the database named in DATABASE_URL if missing.
 */
export async function preflight(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadCommonConfig("authorization", env);
  try {
    await assertPostgresReachable(config.DATABASE_URL);
  } catch (error) {
    throw new PreflightError((error as Error).message);
  }
  try {
    const nc = await connectNats(config.NATS_URL, "launcher-preflight");
    await nc.close();
  } catch (error) {
    throw new PreflightError((error as Error).message);
  }
  try {
    await ensureDatabase(config.DATABASE_URL);
  } catch (error) {
    throw new PreflightError(`cannot create the database of ${redactUrl(config.DATABASE_URL)}: ${(error as Error).message}`);
  }
}

/**
 * Starts the mesh: preflight (PostgreSQL, NATS, database), then every service as its own
 * child process (`node services/<name>/main.ts`) tier by tier (ledger and fraud, then
 * authorization, then settlement, notification, reporting), waiting for each one's JSON ready
 * line on stdout (`{"ready":"<name>","grpc":"host:port","http":"http://host:port"}`).
 * Children's other stdout/stderr lines are forwarded per `options.logs`.
 * Errors: PreflightError when PostgreSQL/NATS are unreachable; Error naming the service, the
 * timeout and its last stderr lines when a child exits or stays silent before ready (every
 * child already started is stopped first).
 */
export async function startMesh(options: MeshOptions = {}): Promise<RunningMesh> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  Object.assign(env, options.env ?? {});
  if (options.ports !== undefined) Object.assign(env, await portEnv(options.ports), options.env ?? {});
  if (!options.skipPreflight) await preflight(env);

  const wanted = new Set(options.services ?? serviceNames);
  const tiers = startTiers.map((tier) => tier.filter((name) => wanted.has(name))).filter((tier) => tier.length > 0);
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const stopGraceMs = options.stopGraceMs ?? 20_000;
  const logs = options.logs ?? "stderr";
  if (typeof logs === "object") mkdirSync(logs.dir, { recursive: true });

  const children: Child[] = [];
  const endpoints: Partial<Record<ServiceName, MeshEndpoint>> = {};
  let stopping = false;
  let started = false;
  let reportExit: (exit: ChildExit) => void = () => {};
  const unexpectedExit = new Promise<ChildExit>((resolveExit) => (reportExit = resolveExit));
  let exitReported = false;

  const spawnChild = (name: ServiceName): { child: Child; ready: Promise<MeshEndpoint> } => {
    const command = options.command?.(name) ?? { file: process.execPath, args: [join(repoRoot, "services", name, "main.ts")] };
    const childProcess = spawn(command.file, [...command.args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    const logFile = typeof logs === "object" ? createWriteStream(join(logs.dir, `${name}.log`), { flags: "a" }) : undefined;
    const forward = (line: string) => {
      if (logs === "stderr") process.stderr.write(`${line}\n`);
      else if (logFile) logFile.write(`${line}\n`);
    };
    const lastStderr: string[] = [];
    let resolveReady: (endpoint: MeshEndpoint) => void = () => {};
    let rejectReady: (error: Error) => void = () => {};
    const ready = new Promise<MeshEndpoint>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    createInterface({ input: childProcess.stdout! }).on("line", (line) => {
      const endpoint = readyLineOf(name, line, childProcess.pid ?? 0);
      if (endpoint) resolveReady(endpoint);
      else forward(line);
    });
    createInterface({ input: childProcess.stderr! }).on("line", (line) => {
      lastStderr.push(line);
      if (lastStderr.length > stderrLinesKept) lastStderr.shift();
      forward(line);
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      childProcess.once("error", (error) => {
        lastStderr.push(`spawn failed: ${error.message}`);
        res({ code: null, signal: null });
      });
      childProcess.once("exit", (code, signal) => res({ code, signal }));
    });
    const child: Child = { name, process: childProcess, lastStderr, exited, exitedAlready: false, logFile };
    void exited.then(({ code, signal }) => {
      child.exitedAlready = true;
      logFile?.end();
      rejectReady(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready${tailOf(lastStderr)}`));
      if (!stopping && started && !exitReported) {
        exitReported = true;
        const exit = { name, code, signal, lastStderr: [...lastStderr] };
        options.onUnexpectedExit?.(exit);
        reportExit(exit);
      }
    });
    return { child, ready };
  };

  const stop = async (): Promise<boolean> => {
    if (stopping) return await stopResult;
    stopping = true;
    stopResult = stopChildren(children, stopGraceMs);
    return await stopResult;
  };
  let stopResult: Promise<boolean> = Promise.resolve(true);

  try {
    for (const tier of tiers) {
      const spawned = tier.map((name) => spawnChild(name));
      for (const { child } of spawned) children.push(child);
      const endpointsOfTier = await Promise.all(
        spawned.map(({ child, ready }) => withTimeout(ready, readyTimeoutMs, () =>
          new Error(`${child.name} printed no ready line within ${readyTimeoutMs} ms${tailOf(child.lastStderr)}`),
        )),
      );
      for (const endpoint of endpointsOfTier) endpoints[endpoint.name] = endpoint;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  started = true;
  return { endpoints, env, unexpectedExit, stop };
}

/** Parses a child's ready line; undefined for any other line. */
export function readyLineOf(name: string, line: string, pid: number): MeshEndpoint | undefined {
  if (!line.startsWith("{") || !line.includes('"ready"')) return undefined;
  let parsed: { ready?: unknown; grpc?: unknown; http?: unknown };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    return undefined;
  }
  if (parsed.ready !== name || typeof parsed.grpc !== "string" || typeof parsed.http !== "string") return undefined;
  const http = parsed.http.replace(/\/$/, "");
  return { name: name as ServiceName, grpc: parsed.grpc, grpcUrl: `http://${parsed.grpc}`, http, metrics: `${http}/metrics`, pid };
}

async function stopChildren(children: readonly Child[], graceMs: number): Promise<boolean> {
  let clean = true;
  const byTier = [...startTiers].reverse().map((tier) => children.filter((child) => tier.includes(child.name)));
  const others = children.filter((child) => !startTiers.some((tier) => tier.includes(child.name)));
  for (const group of [others, ...byTier]) {
    const results = await Promise.all(group.map((child) => stopChild(child, graceMs)));
    if (results.includes(false)) clean = false;
  }
  return clean;
}

/** SIGTERM by PID, SIGKILL after `graceMs`; true when it exited 0 by itself. */
async function stopChild(child: Child, graceMs: number): Promise<boolean> {
  if (!child.exitedAlready && child.process.pid !== undefined) {
    try {
      process.kill(child.process.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  const timer = new Promise<"timeout">((res) => setTimeout(() => res("timeout"), graceMs).unref());
  const outcome = await Promise.race([child.exited, timer]);
  if (outcome === "timeout") {
    process.stderr.write(`launcher: ${child.name} (pid ${child.process.pid}) did not exit within ${graceMs} ms; SIGKILL\n`);
    if (child.process.pid !== undefined) {
      try {
        process.kill(child.process.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await child.exited;
    return false;
  }
  if (outcome.code !== 0) {
    process.stderr.write(`launcher: ${child.name} (pid ${child.process.pid}) exited with code ${outcome.code}, signal ${outcome.signal}\n`);
  }
  return outcome.code === 0;
}

function tailOf(lines: readonly string[]): string {
  return lines.length === 0 ? " (no stderr output)" : `; last stderr lines:\n  ${lines.slice(-10).join("\n  ")}`;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(error()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A fixed-width table of where each endpoint listens. */
export function endpointTable(endpoints: Readonly<Partial<Record<ServiceName, MeshEndpoint>>>): string {
  const header = ["service", "gRPC (h2c)", "Connect / gRPC-web (HTTP/1.1)", "metrics", "pid"];
  const rows = serviceNames
    .map((name) => endpoints[name])
    .filter((endpoint): endpoint is MeshEndpoint => endpoint !== undefined)
    .map((endpoint) => [endpoint.name, endpoint.grpc, endpoint.http, endpoint.metrics, String(endpoint.pid)]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const format = (row: readonly string[]) => row.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd();
  return [format(header), format(widths.map((width) => "-".repeat(width))), ...rows.map(format)].join("\n");
}
