CREATE SCHEMA "fraud";
--> statement-breakpoint
CREATE TABLE "fraud"."assessments" (
	"id" text PRIMARY KEY NOT NULL,
	"authorization_id" text NOT NULL,
	"card_token" text NOT NULL,
	"decision" smallint NOT NULL,
	"score" integer NOT NULL,
	"reasons" text[] NOT NULL,
	"features" jsonb NOT NULL,
	"card_count_1h" integer NOT NULL,
	"card_count_24h" integer NOT NULL,
	"card_mean_amount_minor" bigint NOT NULL,
	"distance_km" integer NOT NULL,
	"model_version" text NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "assessments_authorization_id_unique" UNIQUE("authorization_id"),
	CONSTRAINT "assessments_decision_known" CHECK ("fraud"."assessments"."decision" in (1, 2)),
	CONSTRAINT "assessments_score_range" CHECK ("fraud"."assessments"."score" between 0 and 1000)
);
--> statement-breakpoint
CREATE TABLE "fraud"."card_history" (
	"authorization_id" text PRIMARY KEY NOT NULL,
	"card_token" text NOT NULL,
	"merchant_id" text DEFAULT '' NOT NULL,
	"event_time" timestamp (3) with time zone NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency_code" text NOT NULL,
	"merchant_category" text DEFAULT '' NOT NULL,
	"card_present" boolean NOT NULL,
	"score" integer NOT NULL,
	"create_time" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "card_history_amount_positive" CHECK ("fraud"."card_history"."amount_minor" >= 1),
	CONSTRAINT "card_history_score_range" CHECK ("fraud"."card_history"."score" between 0 and 1000)
);
--> statement-breakpoint
CREATE INDEX "card_history_card_event_time_idx" ON "fraud"."card_history" USING btree ("card_token","event_time");