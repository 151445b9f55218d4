/**
 * A partner's browser, for real: headless Chromium (/usr/bin/chromium, driven by playwright-core)
 * loads a page from a 127.0.0.1 origin; the page's script (partner-page.ts, bundled by esbuild
 * at test time) calls the authorization service's Connect-over-HTTP/1.1 port, another origin,
 * with @connectrpc/connect-web, so Chromium sends real CORS preflights and enforces the answers.
 *  - from an origin in CORS_ORIGINS: CreateMerchant succeeds; GetAuthorization of an unknown id
 *    is NOT_FOUND with `payments-error-reason` readable (Access-Control-Expose-Headers works);
 *    a bad currency is INVALID_ARGUMENT naming `currency_code`;
 *  - from an origin not in CORS_ORIGINS: the same calls fail in the browser as network errors
 *    ("Failed to fetch"), and Chromium reports the CORS block.
 * Only ledger, fraud and authorization run (startTestMesh). The browser reaches only 127.0.0.1.
 */
import { join } from "node:path";
import type { ConsoleMessage } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/launcher.ts";
import { newId } from "../../services/shared/ids.ts";
import {
  bundleForBrowser,
  chromiumInstalled,
  chromiumPath,
  launchChromium,
  partnerPageHtml,
  servePage,
  type PageServer,
  type TestBrowser,
} from "../support/browser.ts";
import { uniqueSuffix } from "../support/env.ts";
import { startTestMesh, type TestMesh } from "../support/mesh.ts";
import type { CheckResult } from "./partner-page.ts";

let testMesh: TestMesh | undefined;
let allowedPage: PageServer | undefined;
let foreignPage: PageServer | undefined;
let browser: TestBrowser | undefined;
let apiBase = "";

beforeAll(async () => {
  if (!chromiumInstalled()) {
    throw new Error(`${chromiumPath} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does it`);
  }
  const script = await bundleForBrowser(join(repoRoot, "test", "browser", "partner-page.ts"));
  allowedPage = await servePage(partnerPageHtml, script);
  foreignPage = await servePage(partnerPageHtml, script);
  [testMesh, browser] = await Promise.all([
    startTestMesh({ services: ["ledger", "fraud", "authorization"], env: { CORS_ORIGINS: allowedPage.origin } }),
    launchChromium(),
  ]);
  apiBase = testMesh.mesh.endpoints.authorization!.http;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([allowedPage?.close(), foreignPage?.close()]);
  await testMesh?.stop();
}, 120_000);

/** Opens the partner page from `origin`, waits for its checks and returns them with the console. */
async function runPartnerPage(origin: string, merchantId: string): Promise<{ results: Map<string, CheckResult>; console: string[] }> {
  const page = await browser!.context.newPage();
  const consoleLines: string[] = [];
  const pageErrors: string[] = [];
  page.on("console", (message: ConsoleMessage) => consoleLines.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  try {
    const query = new URLSearchParams({ api: apiBase, merchant: merchantId, unknown: newId("auth") });
    const url = `${origin}/?${query}`;
    await page.goto(url, { waitUntil: "load", timeout: 10_000 });
    await page.waitForSelector('body[data-state="done"]', { timeout: 15_000 });
    expect(pageErrors).toEqual([]);
    const listed = await page.locator("#checks li").count();
    const results = JSON.parse((await page.locator("#results").textContent()) ?? "[]") as CheckResult[];
    expect(listed).toBe(results.length);
    return { results: new Map(results.map((result) => [result.check, result])), console: consoleLines };
  } finally {
    await page.close();
  }
}

describe("a partner page in headless Chromium", () => {
  it("from a configured origin: calls succeed, error reason and field are readable", async () => {
    const merchantId = `m_browser_${uniqueSuffix()}`;
    const { results, console: consoleLines } = await runPartnerPage(allowedPage!.origin, merchantId);
    expect(results.get("create_merchant")).toEqual({ check: "create_merchant", ok: true, value: merchantId });
    expect(results.get("get_unknown_authorization")).toMatchObject({
      ok: false,
      code: "NotFound",
      reason: "NOT_FOUND",
      field: "authorization_id",
    });
    const invalid = results.get("create_merchant_bad_currency")!;
    expect(invalid).toMatchObject({ ok: false, code: "InvalidArgument", reason: "INVALID_FIELD", field: "currency_code" });
    expect(invalid.message).toMatch(/^currency_code: /);
    expect(consoleLines.filter((line) => /CORS/i.test(line))).toEqual([]);
    expect(browser!.foreignUrls).toEqual([]);
  });

  it("from an origin not in CORS_ORIGINS: the browser blocks every call as a network error", async () => {
    const { results, console: consoleLines } = await runPartnerPage(foreignPage!.origin, `m_browser_${uniqueSuffix()}`);
    expect([...results.keys()]).toEqual(["create_merchant", "get_unknown_authorization", "create_merchant_bad_currency"]);
    for (const result of results.values()) {
      expect(result).toMatchObject({ ok: false, code: "Unknown", message: "Failed to fetch", reason: null, field: null });
    }
    expect(consoleLines.some((line) => line.includes(`from origin '${foreignPage!.origin}' has been blocked by CORS policy`))).toBe(true);
    expect(browser!.foreignUrls).toEqual([]);
  });
});
