CREATE SCHEMA "authz";
--> statement-breakpoint
CREATE TABLE "authz"."authorizations" (
	"id" text PRIMARY KEY NOT NULL,
	"merchant_id" text NOT NULL,
	"partner_id" text NOT NULL,
	"card_token" text NOT NULL,
	"card_last4" text NOT NULL,
	"currency_code" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"captured_minor" bigint DEFAULT 0 NOT NULL,
	"refunded_minor" bigint DEFAULT 0 NOT NULL,
	"state" text NOT NULL,
	"response_code" text NOT NULL,
	"decline_reason" text DEFAULT '' NOT NULL,
	"merchant_advice" text DEFAULT '' NOT NULL,
	"fraud_assessment_id" text DEFAULT '' NOT NULL,
	"fraud_score" integer DEFAULT 0 NOT NULL,
	"fraud_declined" boolean DEFAULT false NOT NULL,
	"fraud_reasons" text[] DEFAULT '{}'::text[] NOT NULL,
	"fraud_fallback_used" boolean DEFAULT false NOT NULL,
	"hold_transfer_id" text DEFAULT '' NOT NULL,
	"hold_sequence" integer DEFAULT 0 NOT NULL,
	"merchant_category" text NOT NULL,
	"card_present" boolean NOT NULL,
	"business_date" text NOT NULL,
	"event_time" timestamp with time zone NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL,
	"expire_time" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "authz"."card_accounts" (
	"card_token" text PRIMARY KEY NOT NULL,
	"card_last4" text NOT NULL,
	"currency_code" text NOT NULL,
	"credit_limit_minor" bigint NOT NULL,
	"ledger_account_id" text NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "authz"."idempotency_keys" (
	"method" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" "bytea" NOT NULL,
	"state" text NOT NULL,
	"resource_id" text NOT NULL,
	"response" "bytea",
	"create_time" timestamp with time zone DEFAULT now() NOT NULL,
	"update_time" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_method_key_pk" PRIMARY KEY("method","key")
);
--> statement-breakpoint
CREATE TABLE "authz"."merchants" (
	"id" text PRIMARY KEY NOT NULL,
	"partner_id" text NOT NULL,
	"name" text NOT NULL,
	"currency_code" text NOT NULL,
	"payable_account_id" text NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "authz"."operations" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"authorization_id" text NOT NULL,
	"merchant_id" text NOT NULL,
	"partner_id" text NOT NULL,
	"currency_code" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"business_date" text NOT NULL,
	"event_time" timestamp with time zone NOT NULL,
	"merchant_category" text NOT NULL,
	"card_present" boolean NOT NULL,
	"ledger_transfer_id" text NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "authz"."outbox" (
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
CREATE INDEX "authorizations_open_expiry_idx" ON "authz"."authorizations" USING btree ("expire_time") WHERE state in ('AUTHORIZED', 'PARTIALLY_CAPTURED');--> statement-breakpoint
CREATE INDEX "authorizations_merchant_idx" ON "authz"."authorizations" USING btree ("merchant_id","create_time");--> statement-breakpoint
CREATE INDEX "operations_business_date_idx" ON "authz"."operations" USING btree ("business_date","id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "authz"."outbox" USING btree ("seq") WHERE publish_time is null;