/**
 * Notification settings from the environment (documented in docs/notification.md and
 * docs/configuration.md). Throws one line naming a bad variable.
 */
import { intFromEnv } from "../shared/config.ts";
import { parseRetrySchedule, retryScheduleDefault } from "./domain/schedule.ts";

export interface NotificationConfig {
  /** Waits between attempts, ms (NOTIFICATION_RETRY_SCHEDULE). */
  readonly retryScheduleMs: number[];
  /** 0..1 (NOTIFICATION_RETRY_JITTER_PERCENT / 100). */
  readonly jitterRatio: number;
  readonly attemptTimeoutMs: number;
  readonly endpointConcurrency: number;
  readonly concurrency: number;
  readonly pollMs: number;
}

/** Reads NOTIFICATION_* variables with their defaults. */
export function loadNotificationConfig(env: NodeJS.ProcessEnv = process.env): NotificationConfig {
  let retryScheduleMs: number[];
  try {
    retryScheduleMs = parseRetrySchedule(env.NOTIFICATION_RETRY_SCHEDULE || retryScheduleDefault);
  } catch (error) {
    throw new Error(`bad configuration: NOTIFICATION_RETRY_SCHEDULE: ${(error as Error).message}`);
  }
  return {
    retryScheduleMs,
    jitterRatio: intFromEnv(env, "NOTIFICATION_RETRY_JITTER_PERCENT", 20, 0, 100) / 100,
    attemptTimeoutMs: intFromEnv(env, "NOTIFICATION_ATTEMPT_TIMEOUT_MS", 10_000, 100, 120_000),
    endpointConcurrency: intFromEnv(env, "NOTIFICATION_ENDPOINT_CONCURRENCY", 4, 1, 64),
    concurrency: intFromEnv(env, "NOTIFICATION_CONCURRENCY", 64, 1, 1024),
    pollMs: intFromEnv(env, "NOTIFICATION_POLL_MS", 500, 10, 60_000),
  };
}
