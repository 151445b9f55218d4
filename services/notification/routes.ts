/**
 * NotificationService handlers (proto/payments/notification/v1/notification_service.proto).
 * Built by createNotificationRoutes({ pool, wake }) so tests run them on an in-memory transport.
 * Bad input is INVALID_ARGUMENT naming the field (nothing is written); unknown ids NOT_FOUND.
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type pg from "pg";
import {
  DeliverySchema,
  DeliveryState,
  NotificationService,
  WebhookEndpointSchema,
  type Delivery,
  type WebhookEndpoint,
} from "../../gen/payments/notification/v1/notification_service_pb.js";
import { inTransaction } from "../shared/db.ts";
import { failedPrecondition, invalidArgument, notFound } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import {
  deliveryIdPattern,
  endpointIdPattern,
  eventIdLengthMax,
  pageSizeOf,
  partnerIdProblem,
  secretProblem,
  webhookUrlProblem,
} from "./domain/validation.ts";

/** At most this many endpoints per partner (a limit on everything: TIGER_STYLE). */
export const endpointsPerPartnerMax = 16;

interface EndpointRow {
  id: string;
  partner_id: string;
  url: string;
  create_time: Date;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  state: number;
  attempt_count: number;
  last_status_code: number;
  next_attempt_time: Date;
  create_time: Date;
}

const deliveryColumns =
  "id, endpoint_id, event_id, event_type, state, attempt_count, last_status_code, next_attempt_time, create_time";

function endpointOf(row: EndpointRow): WebhookEndpoint {
  return create(WebhookEndpointSchema, {
    id: row.id,
    partnerId: row.partner_id,
    url: row.url,
    createTime: timestampFromDate(row.create_time),
  });
}

function deliveryOf(row: DeliveryRow): Delivery {
  return create(DeliverySchema, {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    state: row.state as DeliveryState,
    attemptCount: row.attempt_count,
    lastStatusCode: row.last_status_code,
    nextAttemptTime: row.state === DeliveryState.PENDING ? timestampFromDate(row.next_attempt_time) : undefined,
    createTime: timestampFromDate(row.create_time),
  });
}

/** A generated signing secret: "whsec_" + 32 random bytes base64url (49 chars). */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

/**
 * The handlers. `pool` is the service's database; `wake` nudges the dispatcher after a manual
 * redelivery (it also polls). `schema` defaults to "notification".
 */
export function createNotificationRoutes(deps: { pool: pg.Pool; wake?: () => void; schema?: string }) {
  const { pool } = deps;
  const schema = deps.schema ?? "notification";
  return {
    /**
     * Registers an endpoint for a partner and returns it with its signing secret (the only time
     * the secret is returned). partner_id: 1..64 of [A-Za-z0-9_.:-]; url: absolute http(s), no
     * credentials or fragment, <= 2048 chars; secret: 32..256 printable ASCII, or empty to
     * generate one (webhooks are never unsigned). FAILED_PRECONDITION ENDPOINT_LIMIT_REACHED past
     * 16 endpoints per partner.
     */
    async createWebhookEndpoint(request) {
      const partnerProblem = partnerIdProblem(request.partnerId);
      if (partnerProblem) throw invalidArgument("partner_id", partnerProblem);
      const urlProblem = webhookUrlProblem(request.url);
      if (urlProblem) throw invalidArgument("url", urlProblem);
      const keyProblem = secretProblem(request.secret);
      if (keyProblem) throw invalidArgument("secret", keyProblem);
      const secret = request.secret === "" ? generateSecret() : request.secret;
      const row = await inTransaction(pool, async (client) => {
        await client.query("select pg_advisory_xact_lock(hashtext($1))", [`notification:endpoints:${request.partnerId}`]);
        const count = await client.query<{ count: bigint }>(`select count(*) as count from ${schema}.endpoints where partner_id = $1`, [
          request.partnerId,
        ]);
        if (count.rows[0].count >= BigInt(endpointsPerPartnerMax)) {
          throw failedPrecondition("ENDPOINT_LIMIT_REACHED", `partner already has ${endpointsPerPartnerMax} endpoints`, "partner_id");
        }
        const inserted = await client.query<EndpointRow>(
          `insert into ${schema}.endpoints (id, partner_id, url, secret) values ($1, $2, $3, $4) returning id, partner_id, url, create_time`,
          [newId("whe"), request.partnerId, request.url, secret],
        );
        return inserted.rows[0];
      });
      return { endpoint: endpointOf(row), secret };
    },

    /** Lists a partner's endpoints, oldest first, without secrets. partner_id is required. */
    async listWebhookEndpoints(request) {
      const partnerProblem = partnerIdProblem(request.partnerId);
      if (partnerProblem) throw invalidArgument("partner_id", partnerProblem);
      const rows = await pool.query<EndpointRow>(
        `select id, partner_id, url, create_time from ${schema}.endpoints where partner_id = $1 order by create_time, id limit ${endpointsPerPartnerMax * 2}`,
        [request.partnerId],
      );
      return { endpoints: rows.rows.map(endpointOf) };
    },

    /**
     * Lists deliveries newest first, optionally for one endpoint and/or one event. page_size
     * 0 = 100, else 1..1000; page_token is the next_page_token of the previous page.
     */
    async listDeliveries(request) {
      if (request.endpointId !== "" && !endpointIdPattern.test(request.endpointId)) {
        throw invalidArgument("endpoint_id", "must be a webhook endpoint id (whe_...)");
      }
      if (request.eventId.length > eventIdLengthMax) throw invalidArgument("event_id", `must be at most ${eventIdLengthMax} chars`);
      const pageSize = pageSizeOf(request.pageSize);
      if (pageSize === undefined) throw invalidArgument("page_size", "must be 0 (default 100) or 1..1000");
      if (request.pageToken !== "" && !deliveryIdPattern.test(request.pageToken)) throw invalidArgument("page_token", "is not a token from this RPC");
      const conditions: string[] = [];
      const values: unknown[] = [];
      if (request.endpointId !== "") conditions.push(`endpoint_id = $${values.push(request.endpointId)}`);
      if (request.eventId !== "") conditions.push(`event_id = $${values.push(request.eventId)}`);
      if (request.pageToken !== "") conditions.push(`id < $${values.push(request.pageToken)}`);
      const where = conditions.length > 0 ? `where ${conditions.join(" and ")}` : "";
      const rows = await pool.query<DeliveryRow>(
        `select ${deliveryColumns} from ${schema}.deliveries ${where} order by id desc limit ${pageSize + 1}`,
        values,
      );
      const page = rows.rows.slice(0, pageSize);
      return {
        deliveries: page.map(deliveryOf),
        nextPageToken: rows.rows.length > pageSize ? page[page.length - 1].id : "",
      };
    },

    /**
     * Queues a delivery again now, whatever its state, with a fresh retry round (its attempt
     * count keeps growing). An attempt in flight at that moment is not recorded over it.
     * INVALID_ARGUMENT for a malformed id, NOT_FOUND for an unknown one.
     */
    async redeliver(request) {
      if (request.deliveryId === "") throw invalidArgument("delivery_id", "required");
      if (!deliveryIdPattern.test(request.deliveryId)) throw invalidArgument("delivery_id", "must be a delivery id (dlv_...)");
      const updated = await pool.query<DeliveryRow>(
        `update ${schema}.deliveries
            set state = 1, round_attempt_count = 0, next_attempt_time = now(), claim_token = null, update_time = now()
          where id = $1 returning ${deliveryColumns}`,
        [request.deliveryId],
      );
      if (updated.rowCount === 0) throw notFound("delivery_id", request.deliveryId);
      deps.wake?.();
      return { delivery: deliveryOf(updated.rows[0]) };
    },

    /** Counts: distinct events processed (inbox rows), deliveries by state, HTTP attempts made. */
    async getDeliveryStats() {
      const result = await pool.query<{ events: bigint; pending: bigint; succeeded: bigint; failed: bigint; attempts: bigint }>(
        `select (select count(*) from ${schema}.inbox) as events,
                (select count(*) from ${schema}.deliveries where state = 1) as pending,
                (select count(*) from ${schema}.deliveries where state = 2) as succeeded,
                (select count(*) from ${schema}.deliveries where state = 3) as failed,
                (select count(*) from ${schema}.delivery_attempts) as attempts`,
      );
      const row = result.rows[0];
      return {
        eventsProcessed: row.events,
        pendingCount: row.pending,
        succeededCount: row.succeeded,
        failedCount: row.failed,
        attemptCount: row.attempts,
      };
    },
  } satisfies ServiceImpl<typeof NotificationService>;
}
