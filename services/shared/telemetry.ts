import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics (prom-client), one registry per process, served at GET /metrics on the
 * service's HTTP/1.1 port. RPC latency is a histogram in seconds labelled by method and code.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

export const rpcDuration = new Histogram({
  name: "rpc_server_duration_seconds",
  help: "Server-side RPC latency in seconds, by service, method, protocol and status code",
  labelNames: ["service", "method", "code"] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [metricsRegistry],
});

export const eventsPublished = new Counter({
  name: "outbox_events_published_total",
  help: "Events relayed from the outbox to JetStream",
  labelNames: ["service"] as const,
  registers: [metricsRegistry],
});

export const eventsConsumed = new Counter({
  name: "events_consumed_total",
  help: "Events processed by a JetStream consumer, by outcome (processed, duplicate, failed)",
  labelNames: ["consumer", "outcome"] as const,
  registers: [metricsRegistry],
});
