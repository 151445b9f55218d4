/**
 * Helpers for real-browser tests: bundle a browser entry with esbuild into memory, serve a page
 * with it from 127.0.0.1 (port 0), and launch Debian's headless Chromium with playwright-core
 * on a fresh user data dir, fenced so it can reach nothing but 127.0.0.1.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium, type BrowserContext } from "playwright-core";

/** Debian's chromium package (apt-get install chromium); .ci/run installs it when missing. */
export const chromiumPath = "/usr/bin/chromium";

/** True when Chromium is installed at chromiumPath. */
export function chromiumInstalled(): boolean {
  return existsSync(chromiumPath);
}

/**
 * Bundles `entryFile` (TypeScript, bare imports resolved from node_modules) into one ES module
 * for browsers, in memory. Throws esbuild's error when the entry does not build.
 */
export async function bundleForBrowser(entryFile: string): Promise<string> {
  const result = await build({
    entryPoints: [entryFile],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: "inline",
    logLevel: "silent",
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced no output for ${entryFile}`);
  return output.text;
}

/** A page server on 127.0.0.1: `origin` is http://127.0.0.1:<port>. */
export interface PageServer {
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /` (and any path with a query) as `html` and `GET /app.js` as `script` from
 * 127.0.0.1 on a free port; anything else is 404. The page's origin is what CORS_ORIGINS lists.
 */
export async function servePage(html: string, script: string): Promise<PageServer> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    if (request.method === "GET" && path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      response.end(html);
    } else if (request.method === "GET" && path === "/app.js") {
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
      response.end(script);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The minimal page loading /app.js as a module, with the elements partner-page.ts fills. */
export const partnerPageHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>Partner page</title></head>
<body data-state="running"><h1>Partner page</h1><ul id="checks"></ul><pre id="results"></pre>
<script type="module" src="/app.js"></script></body></html>`;

/** A launched headless Chromium: one persistent context on a fresh, temporary profile. */
export interface TestBrowser {
  readonly context: BrowserContext;
  /** Every request the pages made to a host other than 127.0.0.1 (the fence failed them). */
  readonly foreignUrls: readonly string[];
  /** Closes Chromium and removes the profile directory. */
  close(): Promise<void>;
}

/**
 * Launches /usr/bin/chromium headless with a fresh user data dir, fenced to 127.0.0.1 by two
 * switches: a host resolver rule that makes every host name unresolvable, and a proxy on
 * 127.0.0.1:9 (nothing listens) for everything but 127.0.0.1, so even an IP literal elsewhere
 * fails. Requests are only observed (foreignUrls), never intercepted: with interception on
 * (context.route), Playwright answers CORS preflights itself with permissive headers
 * (microsoft/playwright#12929), which would hide the service's real CORS answers.
 */
export async function launchChromium(): Promise<TestBrowser> {
  const userDataDir = await mkdtemp(join(tmpdir(), "payments-chromium-"));
  const foreignUrls: string[] = [];
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
      ],
      timeout: 20_000,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  context.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol.startsWith("http") && url.hostname !== "127.0.0.1") foreignUrls.push(url.href);
  });
  return {
    context,
    foreignUrls,
    async close() {
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
