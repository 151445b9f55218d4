/**
 * A stand-in service process for launcher tests. argv[2] = service name; DUMMY_MODE:
 *   ready (default)  prints a log line on stderr, the ready line on stdout, exits 0 on SIGTERM
 *   crash-after-ready  ready, then exits 3 after 300 ms
 *   fail             writes "boom: cannot start" on stderr and exits 1 before ready
 *   silent           never prints the ready line
 *   stubborn         ready, ignores SIGTERM (needs SIGKILL)
 */
const name = process.argv[2] ?? "dummy";
const mode = process.env.DUMMY_MODE ?? "ready";
const upper = name.toUpperCase();
process.stderr.write(`${JSON.stringify({ level: "info", service: name, message: "starting" })}\n`);
if (mode === "fail") {
  process.stderr.write("boom: cannot start\n");
  process.exit(1);
}
const keepAlive = setInterval(() => {}, 1_000);
// Handler before the ready line: a launcher may send SIGTERM as soon as it reads it.
process.on("SIGTERM", () => {
  if (mode === "stubborn") return;
  clearInterval(keepAlive);
  process.exit(0);
});
if (mode !== "silent") {
  const grpc = process.env[`${upper}_GRPC_PORT`] ?? "1";
  const http = process.env[`${upper}_HTTP_PORT`] ?? "2";
  process.stdout.write(`${JSON.stringify({ ready: name, grpc: `127.0.0.1:${grpc}`, http: `http://127.0.0.1:${http}` })}\n`);
}
if (mode === "crash-after-ready" && name === (process.env.DUMMY_CRASH ?? name)) setTimeout(() => process.exit(3), 300);
