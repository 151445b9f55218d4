import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FraudDecision, FraudService } from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import { createH2GrpcTransport } from "../../bench/lib/h2-grpc-transport.ts";
import { notFound } from "../../services/shared/errors.ts";
import { createLogger } from "../../services/shared/log.ts";
import { registration, startServer, type RunningServer } from "../../services/shared/server.ts";

// The load generator's lean gRPC client against the real grpc-js server path.
const impl: ServiceImpl<typeof FraudService> = {
  async assess(request, context) {
    if (request.authorizationId === "slow") await new Promise((resolve) => setTimeout(resolve, 1_000));
    return { assessment: { authorizationId: request.authorizationId, decision: FraudDecision.ALLOW, score: 7, reasons: [context.protocolName] } };
  },
  async getAssessment(request) {
    throw notFound("authorization_id", request.authorizationId);
  },
};

let server: RunningServer;
let transport: ReturnType<typeof createH2GrpcTransport>;

beforeAll(async () => {
  server = await startServer({
    name: "h2-test",
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    services: [registration(FraudService, impl)],
    corsOrigins: [],
    logger: createLogger("h2-test", "silent"),
  });
  transport = createH2GrpcTransport({ baseUrl: `127.0.0.1:${server.grpcPort}`, sessions: 2 });
});

afterAll(async () => {
  transport.close();
  await server.close(1_000);
});

describe("the load generator's HTTP/2 gRPC client", () => {
  it("frames requests and decodes answers", async () => {
    const client = createClient(FraudService, transport);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, index) => client.assess({ authorizationId: `a${index}` })));
    expect(answers.map((answer) => answer.assessment?.authorizationId)).toEqual(Array.from({ length: 20 }, (_, index) => `a${index}`));
    expect(answers[0].assessment?.score).toBe(7);
    expect(answers[0].assessment?.reasons).toEqual(["grpc"]);
  });

  it("reads the status and message of an error answer", async () => {
    const client = createClient(FraudService, transport);
    const error = await client.getAssessment({ authorizationId: "nope" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
    expect((error as ConnectError).rawMessage).toContain("authorization_id");
  });

  it("sends the deadline as grpc-timeout", async () => {
    const client = createClient(FraudService, transport);
    const error = await client.assess({ authorizationId: "slow" }, { timeoutMs: 100 }).catch((caught: unknown) => caught);
    expect((error as ConnectError).code).toBe(Code.DeadlineExceeded);
  });
});
