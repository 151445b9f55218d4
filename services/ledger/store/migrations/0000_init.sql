CREATE SCHEMA IF NOT EXISTS "ledger";
--> statement-breakpoint
CREATE TABLE "ledger"."account_balances" (
	"account_id" text NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "ledger"."account_balances_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"transfer_id" text NOT NULL,
	"create_time" timestamp (6) with time zone NOT NULL,
	"debits_pending" bigint NOT NULL,
	"debits_posted" bigint NOT NULL,
	"credits_pending" bigint NOT NULL,
	"credits_posted" bigint NOT NULL,
	CONSTRAINT "account_balances_account_id_seq_pk" PRIMARY KEY("account_id","seq")
);
--> statement-breakpoint
CREATE TABLE "ledger"."accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"ledger" bigint NOT NULL,
	"code" bigint NOT NULL,
	"flag_debits_must_not_exceed_credits" boolean DEFAULT false NOT NULL,
	"flag_credits_must_not_exceed_debits" boolean DEFAULT false NOT NULL,
	"flag_history" boolean DEFAULT false NOT NULL,
	"flag_closed" boolean DEFAULT false NOT NULL,
	"user_data" text DEFAULT '' NOT NULL,
	"debits_pending" bigint DEFAULT 0 NOT NULL,
	"debits_posted" bigint DEFAULT 0 NOT NULL,
	"credits_pending" bigint DEFAULT 0 NOT NULL,
	"credits_posted" bigint DEFAULT 0 NOT NULL,
	"create_time" timestamp (6) with time zone NOT NULL,
	CONSTRAINT "accounts_debits_pending_non_negative" CHECK ("ledger"."accounts"."debits_pending" >= 0),
	CONSTRAINT "accounts_debits_posted_non_negative" CHECK ("ledger"."accounts"."debits_posted" >= 0),
	CONSTRAINT "accounts_credits_pending_non_negative" CHECK ("ledger"."accounts"."credits_pending" >= 0),
	CONSTRAINT "accounts_credits_posted_non_negative" CHECK ("ledger"."accounts"."credits_posted" >= 0),
	CONSTRAINT "accounts_flags_mutually_exclusive" CHECK (not ("ledger"."accounts"."flag_debits_must_not_exceed_credits" and "ledger"."accounts"."flag_credits_must_not_exceed_debits"))
);
--> statement-breakpoint
CREATE TABLE "ledger"."failed_transfers" (
	"id" text PRIMARY KEY NOT NULL,
	"result" smallint NOT NULL,
	"create_time" timestamp (6) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger"."transfers" (
	"id" text PRIMARY KEY NOT NULL,
	"debit_account_id" text NOT NULL,
	"credit_account_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"requested_amount" bigint NOT NULL,
	"pending_id" text,
	"ledger" bigint NOT NULL,
	"code" bigint NOT NULL,
	"flag_linked" boolean DEFAULT false NOT NULL,
	"flag_pending" boolean DEFAULT false NOT NULL,
	"flag_post_pending_transfer" boolean DEFAULT false NOT NULL,
	"flag_void_pending_transfer" boolean DEFAULT false NOT NULL,
	"defaulted_fields" smallint DEFAULT 0 NOT NULL,
	"timeout_seconds" bigint DEFAULT 0 NOT NULL,
	"user_data" text DEFAULT '' NOT NULL,
	"create_time" timestamp (6) with time zone NOT NULL,
	"expires_at" timestamp (6) with time zone,
	"resolve_time" timestamp (6) with time zone,
	"state" smallint NOT NULL,
	CONSTRAINT "transfers_amount_non_negative" CHECK ("ledger"."transfers"."amount" >= 0),
	CONSTRAINT "transfers_state_known" CHECK ("ledger"."transfers"."state" between 1 and 6)
);
--> statement-breakpoint
CREATE INDEX "account_balances_account_create_time" ON "ledger"."account_balances" USING btree ("account_id","create_time");--> statement-breakpoint
CREATE INDEX "transfers_debit_account_create_time" ON "ledger"."transfers" USING btree ("debit_account_id","create_time","id");--> statement-breakpoint
CREATE INDEX "transfers_credit_account_create_time" ON "ledger"."transfers" USING btree ("credit_account_id","create_time","id");--> statement-breakpoint
CREATE INDEX "transfers_pending_expires_at" ON "ledger"."transfers" USING btree ("expires_at") WHERE "ledger"."transfers"."state" = 2 and "ledger"."transfers"."expires_at" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "transfers_pending_id_unique" ON "ledger"."transfers" USING btree ("pending_id") WHERE "ledger"."transfers"."pending_id" is not null;