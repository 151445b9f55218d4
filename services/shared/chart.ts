/**
 * The card program's chart of accounts and transfer codes in the ledger (docs/ledger.md).
 * One ledger per currency, numbered by its ISO 4217 numeric code (USD = 840).
 *
 * Accounts (id, code, flags):
 *   issuer:<CUR>               100  none                              funds every credit line
 *   card:<card_token>          200  debits_must_not_exceed_credits    a card's credit line (51 when exceeded)
 *   merchant:<merchant_id>     300  none                              merchant payable
 *   fees:<CUR>                 400  none                              fee revenue
 *   clearing:<CUR>             500  none                              settlement clearing
 *   bank:<CUR>                 600  none                              bank (payout destination)
 *
 * Transfers (id, code): funding `fund:<card_token>` 1 (issuer -> card), hold `hold:<auth_id>[:n]`
 * 10 pending card -> merchant, capture `cap:<capture_id>` 11 (post of a hold), void
 * `void:<auth_id>[:n]` 12, refund `rfd:<refund_id>` 20 merchant -> card, settlement fee
 * `stl:<batch_id>:fee` 30 merchant -> fees, settlement net `stl:<batch_id>:net` 31 merchant ->
 * clearing (or clearing -> merchant when net is negative), payout `payout:<batch_id>` 40
 * clearing -> bank.
 */
export const accountCodes = {
  issuer: 100,
  card: 200,
  merchant: 300,
  fees: 400,
  clearing: 500,
  bank: 600,
} as const;

export const transferCodes = {
  funding: 1,
  hold: 10,
  capture: 11,
  void: 12,
  refund: 20,
  settlementFee: 30,
  settlementNet: 31,
  payout: 40,
} as const;

export const accountIds = {
  issuer: (currency: string) => `issuer:${currency}`,
  card: (cardToken: string) => `card:${cardToken}`,
  merchant: (merchantId: string) => `merchant:${merchantId}`,
  fees: (currency: string) => `fees:${currency}`,
  clearing: (currency: string) => `clearing:${currency}`,
  bank: (currency: string) => `bank:${currency}`,
};
