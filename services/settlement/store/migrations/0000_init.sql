CREATE SCHEMA "settlement";
--> statement-breakpoint
CREATE TABLE "settlement"."batches" (
	"id" text PRIMARY KEY NOT NULL,
	"business_date" text NOT NULL,
	"currency_code" text NOT NULL,
	"merchant_id" text NOT NULL,
	"partner_id" text NOT NULL,
	"gross" bigint NOT NULL,
	"refunds" bigint NOT NULL,
	"interchange" bigint NOT NULL,
	"scheme_fees" bigint NOT NULL,
	"markup" bigint NOT NULL,
	"fees" bigint NOT NULL,
	"net" bigint NOT NULL,
	"capture_count" bigint NOT NULL,
	"refund_count" bigint NOT NULL,
	"state" text NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL,
	"settle_time" timestamp with time zone,
	"reconcile_time" timestamp with time zone,
	CONSTRAINT "batches_state" CHECK ("settlement"."batches"."state" in ('planned', 'settled', 'reconciled')),
	CONSTRAINT "batches_fees_sum" CHECK ("settlement"."batches"."fees" = "settlement"."batches"."interchange" + "settlement"."batches"."scheme_fees" + "settlement"."batches"."markup"),
	CONSTRAINT "batches_net" CHECK ("settlement"."batches"."net" = "settlement"."batches"."gross" - "settlement"."batches"."refunds" - "settlement"."batches"."fees"),
	CONSTRAINT "batches_non_negative" CHECK ("settlement"."batches"."gross" >= 0 and "settlement"."batches"."refunds" >= 0 and "settlement"."batches"."fees" >= 0 and "settlement"."batches"."capture_count" >= 0 and "settlement"."batches"."refund_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "settlement"."business_days" (
	"business_date" text NOT NULL,
	"currency_code" text NOT NULL,
	"plan_time" timestamp with time zone DEFAULT now() NOT NULL,
	"close_time" timestamp with time zone,
	"batch_count" integer NOT NULL,
	CONSTRAINT "business_days_business_date_currency_code_pk" PRIMARY KEY("business_date","currency_code"),
	CONSTRAINT "business_days_date_format" CHECK ("settlement"."business_days"."business_date" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')
);
--> statement-breakpoint
CREATE TABLE "settlement"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"subject" text NOT NULL,
	"schema_name" text NOT NULL,
	"payload" "bytea" NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL,
	"publish_time" timestamp with time zone,
	CONSTRAINT "outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "batches_date_merchant_idx" ON "settlement"."batches" USING btree ("business_date","merchant_id");--> statement-breakpoint
CREATE INDEX "batches_merchant_idx" ON "settlement"."batches" USING btree ("merchant_id","id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "settlement"."outbox" USING btree ("seq") WHERE publish_time is null;