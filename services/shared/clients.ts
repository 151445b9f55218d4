import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createGrpcJsTransport } from "./grpc-transport.ts";
import type { DescService } from "@bufbuild/protobuf";
import CircuitBreaker from "opossum";
import { currentRequestId, requestIdHeader } from "./context.ts";

/** Carries the current request id to the callee (header x-request-id). */
const requestIdInterceptor: Interceptor = (next) => (request) => {
  const requestId = currentRequestId();
  if (requestId && !request.header.has(requestIdHeader)) request.header.set(requestIdHeader, requestId);
  return next(request);
};

/**
 * A typed client for an internal service over gRPC on HTTP/2 (h2c), reusing one HTTP/2
 * session. Every call gets `defaultTimeoutMs` as its deadline unless the call sets one, and the
 * request id of the current request. `stack` "grpc-js" (default) uses @grpc/grpc-js underneath
 * (cheaper per call); "connect-node" uses connect-node's HTTP/2 client.
 */
export function createServiceClient<S extends DescService>(
  service: S,
  baseUrl: string,
  options: { defaultTimeoutMs?: number; stack?: "grpc-js" | "connect-node" } = {},
): Client<S> {
  if ((options.stack ?? process.env.RPC_CLIENT_STACK ?? "grpc-js") === "grpc-js") {
    return createClient(service, createGrpcJsTransport({ baseUrl, defaultTimeoutMs: options.defaultTimeoutMs ?? 5_000 }));
  }
  const transport = createGrpcTransport({
    baseUrl,
    interceptors: [requestIdInterceptor],
    defaultTimeoutMs: options.defaultTimeoutMs ?? 5_000,
    pingIntervalMs: 30_000,
  });
  return createClient(service, transport);
}

/**
 * A circuit breaker (opossum) around an async dependency call. Opens after `errorThresholdPercentage`
 * of calls in the rolling window fail (at least `volumeThreshold` calls), half-opens after
 * `resetTimeoutMs`. While open, calls fail fast with an error whose `code` is "EOPENBREAKER";
 * the caller decides the fallback. Only failures `isFailure` counts open the circuit (business
 * errors such as NOT_FOUND do not).
 */
export function createBreaker<A extends unknown[], R>(
  name: string,
  call: (...args: A) => Promise<R>,
  options: {
    resetTimeoutMs?: number;
    errorThresholdPercentage?: number;
    volumeThreshold?: number;
    isFailure?: (error: unknown) => boolean;
  } = {},
): CircuitBreaker<A, R> {
  return new CircuitBreaker(call, {
    name,
    timeout: false,
    resetTimeout: options.resetTimeoutMs ?? 5_000,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    volumeThreshold: options.volumeThreshold ?? 20,
    rollingCountTimeout: 10_000,
    errorFilter: options.isFailure ? (error: unknown) => !options.isFailure!(error) : undefined,
  });
}

/** Retries `fn` with exponential backoff and full jitter, only for errors `isRetryable`
 * accepts, at most `attemptsMax` attempts in all. Use only for calls that are safe to repeat
 * (idempotent ids, reads). */
export async function retryWithBackoff<T>(
  fn: (attempt: number) => Promise<T>,
  options: { attemptsMax: number; baseDelayMs: number; maxDelayMs: number; isRetryable: (error: unknown) => boolean },
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= options.attemptsMax || !options.isRetryable(error)) throw error;
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
