import * as grpc from "@grpc/grpc-js";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FraudDecision, FraudService } from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import { ReportingService } from "../../gen/payments/reporting/v1/reporting_service_pb.js";
import { currentRequestId, requestContext } from "../../services/shared/context.ts";
import { errorReasonHeader, notFound } from "../../services/shared/errors.ts";
import { createGrpcJsTransport } from "../../services/shared/grpc-transport.ts";
import { createLogger } from "../../services/shared/log.ts";
import { registration, startServer, type RunningServer } from "../../services/shared/server.ts";

// A small service implementation exercising the transport layer only (the real services are
// tested in their own folders).
let aborted = 0;
const fraudImpl: ServiceImpl<typeof FraudService> = {
  async assess(request, context) {
    if (request.authorizationId === "slow") {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        context.signal.addEventListener("abort", () => {
          aborted += 1;
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return { assessment: { authorizationId: request.authorizationId, decision: FraudDecision.ALLOW, reasons: [currentRequestId() ?? ""] } };
  },
  async getAssessment(request) {
    throw notFound("authorization_id", request.authorizationId);
  },
};
const reportingImpl: Partial<ServiceImpl<typeof ReportingService>> = {
  async *streamTransactions(request) {
    for (let index = 0; index < 3; index += 1) yield { transaction: { authorizationId: `a${index}`, merchantId: request.merchantId } };
  },
};

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({
    name: "test",
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    services: [registration(FraudService, fraudImpl), { service: ReportingService, impl: reportingImpl as never }],
    corsOrigins: ["http://allowed.example"],
    logger: createLogger("test", "silent"),
  });
  server.setReady(true);
});

afterAll(async () => {
  await server.close(1_000);
});

describe("one set of handlers served two ways", () => {
  it("answers over gRPC (grpc-js transport) and carries the request id", async () => {
    const client = createClient(FraudService, createGrpcJsTransport({ baseUrl: `127.0.0.1:${server.grpcPort}` }));
    const response = await requestContext.run({ requestId: "req_test_1" }, () => client.assess({ authorizationId: "a1" }));
    expect(response.assessment?.authorizationId).toBe("a1");
    expect(response.assessment?.reasons).toEqual(["req_test_1"]);
  });

  it("keeps the error code and the stable reason across the gRPC hop", async () => {
    const client = createClient(FraudService, createGrpcJsTransport({ baseUrl: `127.0.0.1:${server.grpcPort}` }));
    const error = await client.getAssessment({ authorizationId: "nope" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
    expect((error as ConnectError).metadata.get(errorReasonHeader)).toBe("NOT_FOUND");
  });

  it("enforces deadlines and aborts the handler's signal", async () => {
    const client = createClient(FraudService, createGrpcJsTransport({ baseUrl: `127.0.0.1:${server.grpcPort}` }));
    const before = aborted;
    const error = await client.assess({ authorizationId: "slow" }, { timeoutMs: 100 }).catch((caught: unknown) => caught);
    expect((error as ConnectError).code).toBe(Code.DeadlineExceeded);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(aborted).toBe(before + 1);
  });

  it("streams over gRPC", async () => {
    const client = createClient(ReportingService, createGrpcJsTransport({ baseUrl: `127.0.0.1:${server.grpcPort}` }));
    const ids: string[] = [];
    for await (const item of client.streamTransactions({ merchantId: "m" })) ids.push(item.transaction!.authorizationId);
    expect(ids).toEqual(["a0", "a1", "a2"]);
  });

  it("answers gRPC from connect-node's client too (h2c)", async () => {
    const client = createClient(FraudService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.grpcPort}` }));
    const response = await client.assess({ authorizationId: "a2" });
    expect(response.assessment?.decision).toBe(FraudDecision.ALLOW);
  });

  it("answers the Connect protocol over HTTP/1.1 with the same handlers", async () => {
    const client = createClient(FraudService, createConnectTransport({ baseUrl: `http://127.0.0.1:${server.httpPort}`, httpVersion: "1.1" }));
    const response = await client.assess({ authorizationId: "a3" });
    expect(response.assessment?.authorizationId).toBe("a3");
    const error = await client.getAssessment({ authorizationId: "nope" }).catch((caught: unknown) => caught);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("answers CORS preflights for configured origins only", async () => {
    const preflight = (origin: string) =>
      fetch(`http://127.0.0.1:${server.httpPort}/payments.fraud.v1.FraudService/Assess`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type,connect-protocol-version" },
      });
    const allowed = await preflight("http://allowed.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://allowed.example");
    const refused = await preflight("http://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("serves grpc.health.v1 and server reflection", async () => {
    const client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    const status = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest("/grpc.health.v1.Health/Check", (value: Buffer) => value, (value: Buffer) => value, Buffer.alloc(0), (error, value) =>
        error ? reject(error) : resolve(value!),
      ),
    );
    expect(status.toString("hex")).toBe("0801"); // status: SERVING
    // Reflection: ListServices (field 7 list_services = "*").
    const request = Buffer.from([0x3a, 0x01, 0x2a]);
    const call = client.makeBidiStreamRequest("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", (value: Buffer) => value, (value: Buffer) => value);
    const reply = new Promise<Buffer>((resolve, reject) => {
      call.on("data", resolve);
      call.on("error", reject);
    });
    call.write(request);
    call.end();
    const text = (await reply).toString("latin1");
    expect(text).toContain("payments.fraud.v1.FraudService");
    expect(text).toContain("payments.reporting.v1.ReportingService");
    expect(text).toContain("grpc.health.v1.Health");
    client.close();
  });
});
