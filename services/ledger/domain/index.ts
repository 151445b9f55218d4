/** The ledger's pure domain: shapes, limits, and the CreateAccounts / CreateTransfers state machines. */
export * from "./model.ts";
export * from "./limits.ts";
export * from "./chains.ts";
export * from "./create-accounts.ts";
export * from "./create-transfers.ts";
