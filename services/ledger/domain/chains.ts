/**
 * Linked-chain evaluation shared by CreateAccounts and CreateTransfers.
 *
 * Source: TigerBeetle src/state_machine.zig `execute_create` (scope_open / scope_close):
 * - a chain starts at an event with flags.linked and ends at the first event without it;
 * - the first failing member gets its own result, every other member LINKED_EVENT_FAILED,
 *   and the effects of the members applied before it are rolled back;
 * - members after the failing one are not evaluated (LINKED_EVENT_FAILED);
 * - an event with flags.linked that is the last of its segment gets LINKED_EVENT_CHAIN_OPEN
 *   (whatever it would otherwise have returned), which fails the rest of its chain.
 *
 * A batch may be cut into independent segments (group commit: one per submission) so chains
 * never span two callers' submissions. Result numbers 1, 2, 3 (OK, LINKED_EVENT_FAILED,
 * LINKED_EVENT_CHAIN_OPEN) are the same in CreateAccountResult and CreateTransferResult.
 */

export const resultOk = 1;
export const resultLinkedEventFailed = 2;
export const resultLinkedEventChainOpen = 3;

/** Undo log for the effects applied inside an open chain. */
export interface Journal {
  /** True while a chain is open: effects must register an undo step. */
  readonly active: boolean;
  /** Registers a step that reverts one effect (only call while active). */
  push(undo: () => void): void;
}

/** Creates a journal with begin/commit/rollback for the chain runner. */
export function createJournal(): Journal & { begin(): void; commit(): void; rollback(): void } {
  let steps: (() => void)[] = [];
  let active = false;
  return {
    get active() {
      return active;
    },
    push(undo) {
      if (!active) throw new Error("ledger bug: journal.push outside a chain");
      steps.push(undo);
    },
    begin() {
      if (active) throw new Error("ledger bug: nested chain");
      active = true;
      steps = [];
    },
    commit() {
      active = false;
      steps = [];
    },
    rollback() {
      for (let i = steps.length - 1; i >= 0; i--) steps[i]();
      active = false;
      steps = [];
    },
  };
}

/**
 * Runs `evaluate(i)` for every event in order with TigerBeetle's chain rules and returns the
 * result numbers. `evaluate` applies its effects (registering undo steps in `journal` while it
 * is active) and returns resultOk or a failure code. `onResult(i, result)` sees each event's
 * own final result once known (e.g. to remember transient failures outside the chain's undo).
 *
 * `segmentLengths` must sum to `count`; default: one segment.
 */
export function runLinkedChains(
  count: number,
  segmentLengths: readonly number[] | undefined,
  isLinked: (index: number) => boolean,
  evaluate: (index: number) => number,
  journal: ReturnType<typeof createJournal>,
  onFailure: (index: number, result: number) => void,
): number[] {
  const results = new Array<number>(count).fill(0);
  const segments = segmentLengths ?? [count];
  let total = 0;
  for (const length of segments) {
    if (!Number.isInteger(length) || length < 0) throw new Error(`segment length ${length} is not a count`);
    total += length;
  }
  if (total !== count) throw new Error(`segment lengths sum to ${total}, batch has ${count} events`);

  let index = 0;
  for (const length of segments) {
    const end = index + length;
    let chainStart = -1;
    let chainBroken = false;
    for (; index < end; index++) {
      const linked = isLinked(index);
      if (linked && chainStart < 0) {
        chainStart = index;
        journal.begin();
      }
      let result: number;
      if (linked && index === end - 1) result = resultLinkedEventChainOpen;
      else if (chainBroken) result = resultLinkedEventFailed;
      else result = evaluate(index);

      if (result !== resultOk) {
        if (chainStart >= 0 && !chainBroken) {
          chainBroken = true;
          journal.rollback();
          for (let member = chainStart; member < index; member++) results[member] = resultLinkedEventFailed;
        }
        onFailure(index, result);
      }
      results[index] = result;

      if (chainStart >= 0 && (!linked || result === resultLinkedEventChainOpen)) {
        if (!chainBroken) journal.commit();
        chainStart = -1;
        chainBroken = false;
      }
    }
    if (journal.active) throw new Error("ledger bug: chain still open at segment end");
  }
  return results;
}
