-- Setup for the pgbench ceiling scripts (run by bench/ledger-bench.ts in its throwaway
-- ledger_bench_<random> database, after the ledger migrations and the bench accounts u:0..u:N-1).
-- Transfer ids come from one sequence, zero-padded, so they are time-ordered like the ids the
-- gRPC load generator sends (TigerBeetle's advice; a random id would cost both sides more).
create sequence if not exists public.bench_transfer_seq cache 100;

-- The pairs of one batch, computed deterministically from a seed so that every statement of
-- the batch transaction sees the same transfers without a temporary table: transfer g debits
-- u:d and credits u:c, d and c distinct and uniform over 0..accounts-1.
create or replace function public.bench_pairs(seed bigint, transfers int, accounts int)
returns table (g int, debit_account_id text, credit_account_id text)
language sql immutable parallel safe as $$
  select g, 'u:' || d, 'u:' || ((d + 1 + abs(hashint8(seed * 8192 + g + 4096)::int8) % (accounts - 1)) % accounts)
  from (select g, abs(hashint8(seed * 8192 + g)::int8) % accounts as d from generate_series(1, transfers) g) s
$$;
