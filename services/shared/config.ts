import { z } from "zod";

/**
 * Configuration from environment variables, validated with zod. The table of every variable,
 * with defaults, is in docs/configuration.md; keep the two in step.
 */
const port = z.coerce.number().int().min(0).max(65535);

export const serviceNames = ["authorization", "fraud", "ledger", "settlement", "notification", "reporting"] as const;
export type ServiceName = (typeof serviceNames)[number];

/** Default ports: gRPC (h2c) 5005x, Connect/gRPC-web over HTTP/1.1 808x. */
export const defaultPorts: Record<ServiceName, { grpc: number; http: number }> = {
  authorization: { grpc: 50051, http: 8081 },
  fraud: { grpc: 50052, http: 8082 },
  ledger: { grpc: 50053, http: 8083 },
  settlement: { grpc: 50054, http: 8084 },
  notification: { grpc: 50055, http: 8085 },
  reporting: { grpc: 50056, http: 8086 },
};

const commonSchema = z.object({
  DATABASE_URL: z.string().url().default("postgres://postgres@127.0.0.1:5432/payments"),
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  NATS_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/).default("PAYMENTS"),
  NATS_SUBJECT_PREFIX: z.string().regex(/^[a-z0-9_]+$/).default("payments"),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  HOST: z.string().default("127.0.0.1"),
  CORS_ORIGINS: z.string().default("http://localhost:3000,http://127.0.0.1:3000"),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
});

export type CommonConfig = z.infer<typeof commonSchema> & {
  grpcPort: number;
  httpPort: number;
  corsOrigins: string[];
  urls: Record<ServiceName, string>;
};

/**
 * Reads the common configuration for `service` from `env`. Ports come from
 * `<SERVICE>_GRPC_PORT` / `<SERVICE>_HTTP_PORT`; peers are reached at `<SERVICE>_URL`
 * (default http://127.0.0.1:<grpc port>). Throws one line naming every bad variable.
 */
export function loadCommonConfig(service: ServiceName, env: NodeJS.ProcessEnv = process.env): CommonConfig {
  const parsed = commonSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`bad configuration: ${problems.join("; ")}`);
  }
  const upper = service.toUpperCase();
  const grpcPort = port.parse(env[`${upper}_GRPC_PORT`] ?? defaultPorts[service].grpc);
  const httpPort = port.parse(env[`${upper}_HTTP_PORT`] ?? defaultPorts[service].http);
  const urls = Object.fromEntries(
    serviceNames.map((name) => [
      name,
      env[`${name.toUpperCase()}_URL`] ??
        `http://127.0.0.1:${env[`${name.toUpperCase()}_GRPC_PORT`] ?? defaultPorts[name].grpc}`,
    ]),
  ) as Record<ServiceName, string>;
  return {
    ...parsed.data,
    grpcPort,
    httpPort,
    corsOrigins: parsed.data.CORS_ORIGINS.split(",").map((origin) => origin.trim()).filter(Boolean),
    urls,
  };
}

/** Reads an integer variable with a default and bounds; throws naming the variable. */
export function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`bad configuration: ${name}=${raw} must be an integer in ${min}..${max}`);
  }
  return value;
}
