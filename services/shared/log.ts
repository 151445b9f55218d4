import { pino, type Logger } from "pino";
import { currentRequestId } from "./context.ts";

/**
 * Structured JSON logs (pino). Every line carries `service` and, inside a request, `request_id`.
 * Card numbers are never logged: request bodies are not logged at all, and the fields that
 * could hold a PAN are redacted defensively if someone logs an object with them.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino(
    {
    level,
    base: { service },
    messageKey: "message",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ["pan", "*.pan", "card_number", "*.card_number", "cc_num", "*.cc_num", "secret", "*.secret"],
      censor: "[redacted]",
    },
    mixin() {
      const requestId = currentRequestId();
      return requestId ? { request_id: requestId } : {};
    },
    },
    // Synchronous writes: nothing is lost when the process exits right after a log line
    // (shutdown). Logs are per event of note, not per request, so the cost is small.
    pino.destination({ dest: 1, sync: true }),
  );
}

export type { Logger };
