-- One transfer per transaction, the plain-row-update way (64 clients in the benchmark):
-- lock both accounts in id order, insert the transfer row, update both balances.
-- Variables: -D accounts=N (bench accounts u:0..u:N-1).
\set d random(0, :accounts - 1)
\set c (:d + 1 + random(0, :accounts - 2)) % :accounts
BEGIN;
SELECT id FROM ledger.accounts WHERE id IN ('u:' || :d, 'u:' || :c) ORDER BY id FOR UPDATE;
INSERT INTO ledger.transfers (id, debit_account_id, credit_account_id, amount, requested_amount, ledger, code, create_time, state)
  VALUES ('pgs.' || lpad(nextval('public.bench_transfer_seq')::text, 12, '0'), 'u:' || :d, 'u:' || :c, 1, 1, 840, 1, clock_timestamp(), 1);
UPDATE ledger.accounts SET debits_posted = debits_posted + 1 WHERE id = 'u:' || :d;
UPDATE ledger.accounts SET credits_posted = credits_posted + 1 WHERE id = 'u:' || :c;
END;
