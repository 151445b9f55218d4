CREATE SCHEMA "notification";
--> statement-breakpoint
CREATE TABLE "notification"."dead_letters" (
	"event_id" text PRIMARY KEY NOT NULL,
	"subject" text NOT NULL,
	"schema_name" text NOT NULL,
	"payload" "bytea" NOT NULL,
	"error" text NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification"."deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"endpoint_id" text NOT NULL,
	"event_id" text NOT NULL,
	"event_type" text NOT NULL,
	"state" smallint NOT NULL,
	"attempt_count" integer DEFAULT 0 NOT NULL,
	"round_attempt_count" integer DEFAULT 0 NOT NULL,
	"last_status_code" integer DEFAULT 0 NOT NULL,
	"last_error" text DEFAULT '' NOT NULL,
	"next_attempt_time" timestamp with time zone DEFAULT now() NOT NULL,
	"claim_token" text,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL,
	"update_time" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deliveries_endpoint_event_unique" UNIQUE("endpoint_id","event_id"),
	CONSTRAINT "deliveries_state_known" CHECK ("notification"."deliveries"."state" in (1, 2, 3))
);
--> statement-breakpoint
CREATE TABLE "notification"."delivery_attempts" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"delivery_id" text NOT NULL,
	"attempt_number" integer NOT NULL,
	"status_code" integer NOT NULL,
	"error" text DEFAULT '' NOT NULL,
	"duration_ms" integer NOT NULL,
	"attempt_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification"."endpoints" (
	"id" text PRIMARY KEY NOT NULL,
	"partner_id" text NOT NULL,
	"url" text NOT NULL,
	"secret" text NOT NULL,
	"previous_secret" text,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "endpoints_secret_length" CHECK (length("notification"."endpoints"."secret") between 32 and 256)
);
--> statement-breakpoint
CREATE TABLE "notification"."event_bodies" (
	"event_id" text PRIMARY KEY NOT NULL,
	"event_type" text NOT NULL,
	"body" text NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification"."inbox" (
	"event_id" text PRIMARY KEY NOT NULL,
	"subject" text NOT NULL,
	"process_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notification"."deliveries" ADD CONSTRAINT "deliveries_endpoint_id_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "notification"."endpoints"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notification"."deliveries" ADD CONSTRAINT "deliveries_event_id_event_bodies_event_id_fk" FOREIGN KEY ("event_id") REFERENCES "notification"."event_bodies"("event_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notification"."delivery_attempts" ADD CONSTRAINT "delivery_attempts_delivery_id_deliveries_id_fk" FOREIGN KEY ("delivery_id") REFERENCES "notification"."deliveries"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deliveries_due_idx" ON "notification"."deliveries" USING btree ("endpoint_id","next_attempt_time") WHERE state = 1;--> statement-breakpoint
CREATE INDEX "deliveries_event_idx" ON "notification"."deliveries" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "deliveries_endpoint_id_idx" ON "notification"."deliveries" USING btree ("endpoint_id","id");--> statement-breakpoint
CREATE INDEX "deliveries_state_idx" ON "notification"."deliveries" USING btree ("state");--> statement-breakpoint
CREATE INDEX "delivery_attempts_delivery_idx" ON "notification"."delivery_attempts" USING btree ("delivery_id","seq");--> statement-breakpoint
CREATE INDEX "endpoints_partner_idx" ON "notification"."endpoints" USING btree ("partner_id","create_time");