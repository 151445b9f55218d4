/**
 * The CreateAccounts state machine: pure, no I/O.
 *
 * Precedence follows proto/payments/ledger/v1/ledger_results.proto CreateAccountResult (enum
 * order), adapted from TigerBeetle src/state_machine.zig `create_account` and
 * `create_account_exists`; linked chains as in TigerBeetle (see chains.ts).
 */
import { CreateAccountResult } from "../../../gen/payments/ledger/v1/ledger_results_pb.js";
import { createJournal, runLinkedChains } from "./chains.ts";
import {
  accountFlagsOf,
  clientIdPattern,
  userDataFits,
  type AccountFlagsValue,
  type AccountRequest,
  type AccountState,
} from "./model.ts";

export { CreateAccountResult };

export interface AccountBatchOutcome {
  /** One per input account, same order. */
  results: CreateAccountResult[];
  /** Accounts to insert, in batch order, with zero balances. */
  created: AccountState[];
}

/**
 * Evaluates a batch of accounts. `existing` holds the stored accounts whose ids appear in the
 * batch. Account i gets create time createTimeBaseUs + i (µs since epoch).
 * Checks per account: chain -> ID_INVALID -> LEDGER_MUST_NOT_BE_ZERO -> CODE_MUST_NOT_BE_ZERO ->
 * FLAGS_ARE_MUTUALLY_EXCLUSIVE -> USER_DATA_TOO_LONG -> EXISTS_WITH_DIFFERENT_{FLAGS,
 * USER_DATA, LEDGER, CODE} -> EXISTS -> OK. A duplicate id later in the batch sees the earlier one.
 */
export function evaluateAccounts(
  batch: readonly AccountRequest[],
  existing: ReadonlyMap<string, AccountState>,
  options: { createTimeBaseUs: bigint; segmentLengths?: readonly number[] },
): AccountBatchOutcome {
  const accounts = new Map(existing);
  const created: AccountState[] = [];
  const journal = createJournal();

  const evaluateOne = (index: number): CreateAccountResult => {
    const a = batch[index];
    const flags = accountFlagsOf(a.flags);
    if (!clientIdPattern.test(a.id)) return CreateAccountResult.ID_INVALID;
    if (a.ledger === 0) return CreateAccountResult.LEDGER_MUST_NOT_BE_ZERO;
    if (a.code === 0) return CreateAccountResult.CODE_MUST_NOT_BE_ZERO;
    if (flags.debitsMustNotExceedCredits && flags.creditsMustNotExceedDebits) {
      return CreateAccountResult.FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if (!userDataFits(a.userData)) return CreateAccountResult.USER_DATA_TOO_LONG;
    const found = accounts.get(a.id);
    if (found !== undefined) {
      if (!sameAccountFlags(flags, found.flags)) return CreateAccountResult.EXISTS_WITH_DIFFERENT_FLAGS;
      if (a.userData !== found.userData) return CreateAccountResult.EXISTS_WITH_DIFFERENT_USER_DATA;
      if (a.ledger !== found.ledger) return CreateAccountResult.EXISTS_WITH_DIFFERENT_LEDGER;
      if (a.code !== found.code) return CreateAccountResult.EXISTS_WITH_DIFFERENT_CODE;
      return CreateAccountResult.EXISTS;
    }
    const account: AccountState = {
      id: a.id,
      ledger: a.ledger,
      code: a.code,
      flags,
      userData: a.userData,
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
      createTimeUs: options.createTimeBaseUs + BigInt(index),
    };
    accounts.set(a.id, account);
    created.push(account);
    if (journal.active) {
      const length = created.length - 1;
      journal.push(() => {
        accounts.delete(a.id);
        created.length = length;
      });
    }
    return CreateAccountResult.OK;
  };

  const results = runLinkedChains(
    batch.length,
    options.segmentLengths,
    (index) => batch[index].flags?.linked === true,
    evaluateOne,
    journal,
    () => {},
  ) as CreateAccountResult[];
  return { results, created };
}

function sameAccountFlags(a: AccountFlagsValue, b: AccountFlagsValue): boolean {
  return (
    a.debitsMustNotExceedCredits === b.debitsMustNotExceedCredits &&
    a.creditsMustNotExceedDebits === b.creditsMustNotExceedDebits &&
    a.history === b.history &&
    a.closed === b.closed
  );
}
