-- Custom migration (not generated from schema.ts): support for the engine's two-round-trip
-- batch transaction (services/ledger/store/engine.ts).
--
-- 1. assert_rows: the write round trip checks its own row counts before its COMMIT (a mismatch
--    is a ledger bug, never a business case) and aborts the transaction when one is off.
CREATE OR REPLACE FUNCTION "ledger"."assert_rows"(what text, actual bigint, expected bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF actual IS DISTINCT FROM expected THEN
    RAISE EXCEPTION 'ledger bug: % % rows, expected %', what, actual, expected;
  END IF;
END
$$;
--> statement-breakpoint
-- 2. Accounts are updated by every transfer: leave room on each page so the new row version
--    fits beside the old one (a HOT update: no index entry to add, less WAL).
ALTER TABLE "ledger"."accounts" SET (fillfactor = 70);
