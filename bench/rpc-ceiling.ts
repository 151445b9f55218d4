/**
 * `node bench/rpc-ceiling.ts [--concurrency 64] [--duration 5] [--delays 0,5,10] [--repeat 1]`:
 * what the gRPC path alone allows for single-transfer CreateTransfers calls on this machine,
 * with no database and no engine.
 *
 * It starts bench/lib/stub-ledger-server.ts (the real server stack of every service: grpc-js
 * h2c, the instrumented handler wrapper, metrics) whose CreateTransfers waits `delay` ms and
 * answers OK, and drives it exactly as `npm run bench:ledger` drives the ledger: the lean
 * HTTP/2 gRPC client (bench/lib/h2-grpc-transport.ts), one transfer per call, `--concurrency`
 * calls in flight, closed loop, 1 s warm-up. Per delay it prints calls/s, latency p50/p99 (HDR
 * histogram), the latency beyond the handler's delay (what the RPC path adds per call, queueing
 * included), and CPU per call of the server and of the load generator. A delay near the ledger's
 * measured handler time (bench:ledger prints "handler ms/call") tells how many calls/s the RPC
 * path would carry even if the ledger and PostgreSQL cost no CPU at all.
 */
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { ledgerClient } from "./lib/ledger-client.ts";
import { startLoad } from "./lib/ledger-load.ts";
import { cpuSecondsOf, median } from "./lib/measure.ts";

const { values } = parseArgs({
  options: {
    concurrency: { type: "string", default: "64" },
    duration: { type: "string", default: "5" },
    delays: { type: "string", default: "0,5,10" },
    repeat: { type: "string", default: "1" },
  },
});
const concurrency = Number(values.concurrency);
const durationSeconds = Number(values.duration);
const delays = values.delays.split(",").map(Number);
const repeat = Number(values.repeat);
if (![concurrency, durationSeconds, repeat].every((n) => Number.isInteger(n) && n >= 1) || delays.some((d) => !(d >= 0))) {
  process.stderr.write("rpc-ceiling: --concurrency, --duration and --repeat are integers >= 1; --delays are ms >= 0\n");
  process.exit(2);
}

async function runOnce(delayMs: number) {
  const child = spawn(process.execPath, [`${import.meta.dirname}/lib/stub-ledger-server.ts`], {
    env: { ...process.env, STUB_DELAY_MS: String(delayMs) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const target = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /"grpc":"([^"]+)"/.exec(out);
        if (match) resolve(match[1]);
      });
      child.once("exit", (code) => reject(new Error(`stub server exited with ${code}`)));
    });
    const client = ledgerClient(target, "h2");
    // The same closed loop as bench:ledger (one transfer per call; the stub ignores accounts).
    const load = startLoad(client.createTransfers, { batch: 1, concurrency, hot: false, accountCount: 10_000, hotId: "hot", tag: "r." });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    load.measure();
    const server0 = cpuSecondsOf(child.pid as number);
    const load0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, durationSeconds * 1000));
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = cpuSecondsOf(child.pid as number) - server0;
    const loadCpu = process.cpuUsage(load0);
    const { calls, failedCalls, nonOk, histogram } = await load.stop();
    client.close();
    if (failedCalls + nonOk > 0) throw new Error(`stub calls failed: ${failedCalls} failed calls, ${nonOk} non-OK results`);
    return {
      callsPerSecond: calls / seconds,
      p50Ms: histogram.getValueAtPercentile(50) / 1000,
      p99Ms: histogram.getValueAtPercentile(99) / 1000,
      meanMs: histogram.mean / 1000,
      serverUsPerCall: (1e6 * serverCpu) / calls,
      loadUsPerCall: (loadCpu.user + loadCpu.system) / calls,
    };
  } finally {
    child.kill("SIGTERM");
  }
}

process.stderr.write(`rpc-ceiling: ${concurrency} single-transfer calls in flight, ${durationSeconds} s per run, ${repeat} run(s) per delay (medians)\n`);
process.stderr.write("| handler delay ms | calls/s | p50 ms | p99 ms | mean ms beyond the delay | server CPU us/call | load CPU us/call |\n|---:|---:|---:|---:|---:|---:|---:|\n");
for (const delayMs of delays) {
  const runs: Awaited<ReturnType<typeof runOnce>>[] = [];
  for (let i = 0; i < repeat; i++) runs.push(await runOnce(delayMs));
  const m = (key: keyof (typeof runs)[number]) => median(runs.map((run) => run[key]));
  process.stderr.write(
    `| ${delayMs} | ${m("callsPerSecond").toFixed(0)} | ${m("p50Ms").toFixed(1)} | ${m("p99Ms").toFixed(1)} | ${(m("meanMs") - delayMs).toFixed(1)} | ${m("serverUsPerCall").toFixed(0)} | ${m("loadUsPerCall").toFixed(0)} |\n`,
  );
}
process.exit(0);
