/**
 * Balance-limit rules, shared by the state machine and the audit.
 * Source: TigerBeetle AccountFlags (docs/reference/account.md#flags) and
 * src/tigerbeetle.zig `Account.debits_exceed_credits` / `credits_exceed_debits`: the limit
 * counts pending amounts, so a hold is always counted against the available balance.
 * All values are bigint minor units.
 */
import { amountMinorMax, type AccountFlagsValue, type Balances } from "./model.ts";

/**
 * True when debiting `amountMinor` more (pending or posted) would make
 * debits_pending + debits_posted exceed credits_posted on an account with
 * debits_must_not_exceed_credits (-> EXCEEDS_CREDITS). `amountMinor` 0 checks the current state.
 */
export function debitsExceedCredits(account: Balances & { flags: AccountFlagsValue }, amountMinor: bigint): boolean {
  return (
    account.flags.debitsMustNotExceedCredits &&
    account.debitsPending + account.debitsPosted + amountMinor > account.creditsPosted
  );
}

/**
 * True when crediting `amountMinor` more would make credits_pending + credits_posted exceed
 * debits_posted on an account with credits_must_not_exceed_debits (-> EXCEEDS_DEBITS).
 */
export function creditsExceedDebits(account: Balances & { flags: AccountFlagsValue }, amountMinor: bigint): boolean {
  return (
    account.flags.creditsMustNotExceedDebits &&
    account.creditsPending + account.creditsPosted + amountMinor > account.debitsPosted
  );
}

/** True when `balanceMinor + amountMinor` would pass 2^63-1 (-> OVERFLOWS_BALANCE). */
export function sumOverflows(balanceMinor: bigint, amountMinor: bigint): boolean {
  return balanceMinor + amountMinor > amountMinorMax;
}

/**
 * Lists every way an account's current balances break its flags or the 0..2^63-1 range,
 * as human-readable strings (empty when it is sound). Used by audits.
 */
export function accountViolations(account: Balances & { id: string; flags: AccountFlagsValue }): string[] {
  const violations: string[] = [];
  for (const [name, value] of [
    ["debits_pending", account.debitsPending],
    ["debits_posted", account.debitsPosted],
    ["credits_pending", account.creditsPending],
    ["credits_posted", account.creditsPosted],
  ] as const) {
    if (value < 0n || value > amountMinorMax) violations.push(`account ${account.id}: ${name} ${value} out of range`);
  }
  if (account.flags.debitsMustNotExceedCredits && account.flags.creditsMustNotExceedDebits) {
    violations.push(`account ${account.id}: both balance-bound flags set`);
  }
  if (debitsExceedCredits(account, 0n)) {
    violations.push(
      `account ${account.id}: debits_must_not_exceed_credits broken (debits ${account.debitsPending}+${account.debitsPosted} > credits_posted ${account.creditsPosted})`,
    );
  }
  if (creditsExceedDebits(account, 0n)) {
    violations.push(
      `account ${account.id}: credits_must_not_exceed_debits broken (credits ${account.creditsPending}+${account.creditsPosted} > debits_posted ${account.debitsPosted})`,
    );
  }
  return violations;
}
