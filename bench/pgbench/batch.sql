-- 1,000 transfers per transaction with the same writes done set-wise (8 clients in the
-- benchmark): lock every involved account in id order, insert the 1,000 transfer rows in one
-- statement, update each touched account once with its summed debits and credits.
-- Variables: -D accounts=N (bench accounts u:0..u:N-1). bench_pairs: see setup.sql.
\set seed random(1, 1000000000)
BEGIN;
SELECT count(*) FROM (SELECT id FROM ledger.accounts WHERE id IN (
  SELECT debit_account_id FROM public.bench_pairs(:seed, 1000, :accounts)
  UNION SELECT credit_account_id FROM public.bench_pairs(:seed, 1000, :accounts)) ORDER BY id FOR UPDATE) locked;
INSERT INTO ledger.transfers (id, debit_account_id, credit_account_id, amount, requested_amount, ledger, code, create_time, state)
  SELECT 'pgb.' || lpad(nextval('public.bench_transfer_seq')::text, 12, '0'), debit_account_id, credit_account_id, 1, 1, 840, 1, clock_timestamp(), 1
  FROM public.bench_pairs(:seed, 1000, :accounts) ORDER BY g;
UPDATE ledger.accounts a SET debits_posted = a.debits_posted + s.debits, credits_posted = a.credits_posted + s.credits
  FROM (SELECT id, sum(debits) AS debits, sum(credits) AS credits FROM (
    SELECT debit_account_id AS id, 1 AS debits, 0 AS credits FROM public.bench_pairs(:seed, 1000, :accounts)
    UNION ALL SELECT credit_account_id, 0, 1 FROM public.bench_pairs(:seed, 1000, :accounts)) x GROUP BY id) s
  WHERE a.id = s.id;
END;
