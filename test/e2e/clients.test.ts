/**
 * The clients our users bring, against real service processes (ledger, fraud, authorization
 * started with startMesh on a unique database, stream and free ports):
 *  - a plain @grpc/grpc-js client loaded from bench/payments.protoset with @grpc/proto-loader
 *    (what an internal Node team does), over h2c;
 *  - Connect over HTTP/1.1 with @connectrpc/connect-web's createConnectTransport (fetch);
 *  - a CORS preflight from a configured origin (allowed) and from another one (refused);
 *  - grpc.health.v1.Health/Check SERVING and server reflection listing the services.
 * The same from a real browser: test/browser/partner-cors.test.ts (headless Chromium).
 */
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer, loadSync } from "@grpc/proto-loader";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthorizationService } from "../../gen/payments/authorization/v1/authorization_service_pb.js";
import { AuthorizationState } from "../../gen/payments/authorization/v1/authorization_pb.js";
import { repoRoot } from "../../scripts/lib/launcher.ts";
import { luhnPan } from "../../scripts/lib/grpc-generic.ts";
import { startTestMesh, type TestMesh } from "../support/mesh.ts";

const allowedOrigin = "http://partner.example";
let testMesh: TestMesh | undefined;
let grpcTarget = "";
let httpBase = "";
const merchantId = "m_clients_test";
let cardToken = "";

type Callback = (error: grpc.ServiceError | null, response: Record<string, unknown>) => void;
type GrpcClient = grpc.Client & Record<string, (request: unknown, callback: Callback) => void>;
const call = (client: GrpcClient, method: string, body: unknown) =>
  new Promise<Record<string, unknown>>((resolve, reject) => client[method](body, (error, response) => (error ? reject(error) : resolve(response))));

beforeAll(async () => {
  testMesh = await startTestMesh({ services: ["ledger", "fraud", "authorization"], env: { CORS_ORIGINS: allowedOrigin } });
  const endpoint = testMesh.mesh.endpoints.authorization!;
  grpcTarget = endpoint.grpc;
  httpBase = endpoint.http;
  const transport = createConnectTransport({ baseUrl: httpBase });
  const client = createClient(AuthorizationService, transport);
  await client.createMerchant({ merchantId, partnerId: "partner_clients", name: "Clients test merchant", currencyCode: "USD" });
  const card = await client.createCardAccount({ pan: luhnPan("411111000000123"), creditLimit: { currencyCode: "USD", amountMinor: 100_000n } });
  cardToken = card.cardAccount!.cardToken;
}, 180_000);

afterAll(async () => {
  await testMesh?.stop();
}, 120_000);

describe("clients", () => {
  it("a plain grpc-js client loaded from the protoset authorizes", async () => {
    const definition = loadFileDescriptorSetFromBuffer(readFileSync(join(repoRoot, "bench", "payments.protoset")), {
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      payments: { authorization: { v1: { AuthorizationService: new (target: string, credentials: grpc.ChannelCredentials) => GrpcClient } } };
    };
    const client = new loaded.payments.authorization.v1.AuthorizationService(grpcTarget, grpc.credentials.createInsecure());
    try {
      const response = await call(client, "Authorize", {
        idempotency_key: `grpcjs-${Date.now()}`,
        merchant_id: merchantId,
        card_token: cardToken,
        amount: { currency_code: "USD", amount_minor: "1234" },
        merchant_category: "grocery_pos",
        card_present: true,
      });
      const authorization = response.authorization as Record<string, unknown>;
      expect(authorization.id).toMatch(/^auth_/);
      expect(authorization.response_code_iso).toMatch(/^\d\d$/);
      expect((authorization.amount as Record<string, unknown>).amount_minor).toBe("1234");
      const invalid = await call(client, "Authorize", { idempotency_key: "", merchant_id: merchantId }).catch((error: grpc.ServiceError) => error);
      expect((invalid as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      client.close();
    }
  });

  it("connect-web over HTTP/1.1 authorizes and reads the authorization back", async () => {
    const client = createClient(AuthorizationService, createConnectTransport({ baseUrl: httpBase }));
    const key = `connect-web-${Date.now()}`;
    const request = { idempotencyKey: key, merchantId, card: { case: "cardToken" as const, value: cardToken }, amount: { currencyCode: "USD", amountMinor: 2_500n }, merchantCategory: "misc_net" };
    const first = await client.authorize(request);
    expect(first.authorization?.amount?.amountMinor).toBe(2_500n);
    expect(first.replayed).toBe(false);
    expect([AuthorizationState.AUTHORIZED, AuthorizationState.DECLINED]).toContain(first.authorization?.state);
    const again = await client.authorize(request);
    expect(again.replayed).toBe(true);
    expect(again.authorization?.id).toBe(first.authorization?.id);
    const read = await client.getAuthorization({ authorizationId: first.authorization!.id });
    expect(read.authorization?.id).toBe(first.authorization!.id);
  });

  it("answers a CORS preflight for a configured origin and refuses another", async () => {
    const preflight = (origin: string) =>
      new Promise<{ status: number; allowOrigin: string | undefined }>((resolve, reject) => {
        const req = request(
          `${httpBase}/payments.authorization.v1.AuthorizationService/Authorize`,
          {
            method: "OPTIONS",
            headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,connect-protocol-version" },
          },
          (response) => {
            response.resume();
            resolve({ status: response.statusCode ?? 0, allowOrigin: response.headers["access-control-allow-origin"] as string | undefined });
          },
        );
        req.once("error", reject);
        req.end();
      });
    const allowed = await preflight(allowedOrigin);
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.allowOrigin).toBe(allowedOrigin);
    const refused = await preflight("http://evil.example");
    expect(refused.allowOrigin).toBeUndefined();
  });

  it("serves grpc.health.v1 SERVING and reflection listing the services", async () => {
    const healthDefinition = loadSync(join(repoRoot, "node_modules", "grpc-health-check", "proto", "health", "v1", "health.proto"), { enums: String });
    const health = grpc.loadPackageDefinition(healthDefinition) as unknown as {
      grpc: { health: { v1: { Health: new (target: string, credentials: grpc.ChannelCredentials) => GrpcClient } } };
    };
    const healthClient = new health.grpc.health.v1.Health(grpcTarget, grpc.credentials.createInsecure());
    try {
      expect((await call(healthClient, "Check", { service: "" })).status).toBe("SERVING");
      expect((await call(healthClient, "Check", { service: "payments.authorization.v1.AuthorizationService" })).status).toBe("SERVING");
    } finally {
      healthClient.close();
    }

    const reflectionDefinition = loadSync(join(repoRoot, "node_modules", "@grpc", "reflection", "build", "proto", "grpc", "reflection", "v1", "reflection.proto"), { keepCase: true });
    const reflection = grpc.loadPackageDefinition(reflectionDefinition) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (target: string, credentials: grpc.ChannelCredentials) => grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Record<string, unknown>> } } } };
    };
    const reflectionClient = new reflection.grpc.reflection.v1.ServerReflection(grpcTarget, grpc.credentials.createInsecure());
    try {
      const names = await new Promise<string[]>((resolve, reject) => {
        const stream = reflectionClient.ServerReflectionInfo();
        stream.once("data", (response) => {
          const list = response.list_services_response as { service: { name: string }[] } | undefined;
          resolve((list?.service ?? []).map((service) => service.name));
          stream.end();
        });
        stream.once("error", reject);
        stream.write({ list_services: "*" });
      });
      expect(names).toContain("payments.authorization.v1.AuthorizationService");
    } finally {
      reflectionClient.close();
    }
  });
});
