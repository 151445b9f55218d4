CREATE SCHEMA "reporting";
--> statement-breakpoint
CREATE SEQUENCE "reporting"."transaction_changes" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "reporting"."daily_declines" (
	"merchant_id" text NOT NULL,
	"business_date" text NOT NULL,
	"currency_code" text NOT NULL,
	"response_code" text NOT NULL,
	"decline_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "daily_declines_merchant_id_business_date_currency_code_response_code_pk" PRIMARY KEY("merchant_id","business_date","currency_code","response_code")
);
--> statement-breakpoint
CREATE TABLE "reporting"."daily_summaries" (
	"merchant_id" text NOT NULL,
	"business_date" text NOT NULL,
	"currency_code" text NOT NULL,
	"authorization_count" bigint DEFAULT 0 NOT NULL,
	"approved_count" bigint DEFAULT 0 NOT NULL,
	"declined_count" bigint DEFAULT 0 NOT NULL,
	"fraud_declined_count" bigint DEFAULT 0 NOT NULL,
	"approved_amount_minor" bigint DEFAULT 0 NOT NULL,
	"captured_amount_minor" bigint DEFAULT 0 NOT NULL,
	"refunded_amount_minor" bigint DEFAULT 0 NOT NULL,
	"released_amount_minor" bigint DEFAULT 0 NOT NULL,
	"settled_gross_minor" bigint DEFAULT 0 NOT NULL,
	"settled_fees_minor" bigint DEFAULT 0 NOT NULL,
	"settled_net_minor" bigint DEFAULT 0 NOT NULL,
	"update_time" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "daily_summaries_merchant_id_business_date_currency_code_pk" PRIMARY KEY("merchant_id","business_date","currency_code"),
	CONSTRAINT "daily_summaries_date_format" CHECK ("reporting"."daily_summaries"."business_date" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')
);
--> statement-breakpoint
CREATE TABLE "reporting"."dead_letters" (
	"event_id" text PRIMARY KEY NOT NULL,
	"subject" text NOT NULL,
	"schema_name" text NOT NULL,
	"payload" "bytea" NOT NULL,
	"error" text NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reporting"."inbox" (
	"event_id" text PRIMARY KEY NOT NULL,
	"subject" text NOT NULL,
	"process_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reporting"."transactions" (
	"authorization_id" text PRIMARY KEY NOT NULL,
	"merchant_id" text NOT NULL,
	"partner_id" text NOT NULL,
	"business_date" text NOT NULL,
	"currency_code" text NOT NULL,
	"amount_minor" bigint DEFAULT 0 NOT NULL,
	"captured_amount_minor" bigint DEFAULT 0 NOT NULL,
	"refunded_amount_minor" bigint DEFAULT 0 NOT NULL,
	"state" text NOT NULL,
	"state_rank" integer NOT NULL,
	"response_code" text NOT NULL,
	"event_time" timestamp (6) with time zone NOT NULL,
	"occur_time" timestamp (6) with time zone NOT NULL,
	"progress_minor" bigint DEFAULT 0 NOT NULL,
	"change_seq" bigint NOT NULL,
	"update_time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "daily_summaries_date_idx" ON "reporting"."daily_summaries" USING btree ("business_date");--> statement-breakpoint
CREATE INDEX "transactions_merchant_idx" ON "reporting"."transactions" USING btree ("merchant_id","event_time" DESC NULLS LAST,"authorization_id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "transactions_change_idx" ON "reporting"."transactions" USING btree ("change_seq");