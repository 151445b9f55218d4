/**
 * The partner's browser script, bundled by esbuild at test time (test/support/browser.ts) and
 * run in headless Chromium by test/browser/partner-cors.test.ts. It is what a partner writes:
 * @connectrpc/connect-web's createConnectTransport (fetch, Connect over HTTP/1.1) plus
 * createClient with the generated AuthorizationService descriptor.
 *
 * The page URL carries `?api=<Connect base URL>&merchant=<merchant id>&unknown=<an authorization
 * id that does not exist>`; the API is another
 * origin (another port), so every call is a cross-origin fetch with a CORS preflight.
 * Each check becomes one CheckResult, listed in `<ul id="checks">` for humans and as JSON in
 * `<pre id="results">` for the test; `<body data-state="done">` marks the end.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AuthorizationService } from "../../gen/payments/authorization/v1/authorization_service_pb.js";

/** One call's outcome as the browser saw it: the value on success, else what the error exposed. */
export interface CheckResult {
  readonly check: string;
  readonly ok: boolean;
  /** Short text of the successful response (e.g. the merchant id created). */
  readonly value?: string;
  /** Connect code name of the error, e.g. "NotFound", "InvalidArgument", "Unknown". */
  readonly code?: string;
  /** ConnectError.rawMessage (a fetch failure says "Failed to fetch"). */
  readonly message?: string;
  /** `payments-error-reason` as readable by the page (null when not exposed by CORS). */
  readonly reason?: string | null;
  /** `payments-error-field` as readable by the page. */
  readonly field?: string | null;
}

async function check(name: string, call: () => Promise<string>): Promise<CheckResult> {
  try {
    return { check: name, ok: true, value: await call() };
  } catch (error) {
    const connectError = ConnectError.from(error);
    return {
      check: name,
      ok: false,
      code: Code[connectError.code],
      message: connectError.rawMessage,
      reason: connectError.metadata.get("payments-error-reason"),
      field: connectError.metadata.get("payments-error-field"),
    };
  }
}

function show(results: readonly CheckResult[]): void {
  const list = document.getElementById("checks")!;
  for (const result of results) {
    const item = document.createElement("li");
    item.dataset.check = result.check;
    item.dataset.ok = String(result.ok);
    item.textContent = result.ok
      ? `${result.check}: ok ${result.value ?? ""}`
      : `${result.check}: ${result.code} reason=${result.reason} field=${result.field} (${result.message})`;
    list.append(item);
  }
  document.getElementById("results")!.textContent = JSON.stringify(results);
  document.body.dataset.state = "done";
}

async function main(): Promise<void> {
  const parameters = new URLSearchParams(location.search);
  const baseUrl = parameters.get("api") ?? "";
  const merchantId = parameters.get("merchant") ?? "";
  const unknownAuthorizationId = parameters.get("unknown") ?? "";
  const client = createClient(AuthorizationService, createConnectTransport({ baseUrl }));
  const results: CheckResult[] = [];
  results.push(
    await check("create_merchant", async () => {
      const response = await client.createMerchant({ merchantId, partnerId: "partner_browser", name: "Browser partner merchant", currencyCode: "USD" });
      return response.merchant?.id ?? "";
    }),
  );
  results.push(
    await check("get_unknown_authorization", async () => {
      const response = await client.getAuthorization({ authorizationId: unknownAuthorizationId });
      return response.authorization?.id ?? "";
    }),
  );
  results.push(
    await check("create_merchant_bad_currency", async () => {
      const response = await client.createMerchant({ merchantId: `${merchantId}_bad`, partnerId: "partner_browser", name: "Bad currency", currencyCode: "ZZZ" });
      return response.merchant?.id ?? "";
    }),
  );
  show(results);
}

void main();
