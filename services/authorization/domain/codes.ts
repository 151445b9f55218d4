import { MerchantAdvice, ResponseCode } from "../../../gen/payments/common/v1/money_pb.js";

/**
 * ISO 8583 field 39 response codes (two characters) for the ResponseCode enum.
 * Source: ISO 8583-1987 field 39; SEMANTICS.md "Decline codes".
 */
export const isoCodeOf: Readonly<Record<ResponseCode, string>> = {
  [ResponseCode.UNSPECIFIED]: "",
  [ResponseCode.APPROVED]: "00",
  [ResponseCode.DO_NOT_HONOR]: "05",
  [ResponseCode.INSUFFICIENT_FUNDS]: "51",
  [ResponseCode.EXPIRED_CARD]: "54",
  [ResponseCode.NOT_PERMITTED]: "57",
  [ResponseCode.SUSPECTED_FRAUD]: "59",
  [ResponseCode.EXCEEDS_AMOUNT_LIMIT]: "61",
  [ResponseCode.EXCEEDS_FREQUENCY_LIMIT]: "65",
  [ResponseCode.ISSUER_UNAVAILABLE]: "91",
  [ResponseCode.SYSTEM_MALFUNCTION]: "96",
};

const responseCodeByIso = new Map(Object.entries(isoCodeOf).map(([code, iso]) => [iso, Number(code) as ResponseCode]));

/** The enum value of a two-character ISO code ("51" -> INSUFFICIENT_FUNDS). */
export function responseCodeOfIso(iso: string): ResponseCode {
  return responseCodeByIso.get(iso) ?? ResponseCode.UNSPECIFIED;
}

/** A decision: approved, or a decline with its code, a stable reason and merchant advice. */
export interface Decision {
  readonly approved: boolean;
  readonly responseCode: ResponseCode;
  readonly declineReason: string;
  readonly merchantAdvice: MerchantAdvice;
}

export const approved: Decision = {
  approved: true,
  responseCode: ResponseCode.APPROVED,
  declineReason: "",
  merchantAdvice: MerchantAdvice.UNSPECIFIED,
};

/** Builds a decline. Advice follows Mastercard's merchant advice codes. */
export function decline(responseCode: ResponseCode, declineReason: string, merchantAdvice: MerchantAdvice): Decision {
  return { approved: false, responseCode, declineReason, merchantAdvice };
}

/** Declines used by the authorization flow, one per cause. */
export const declines = {
  insufficientCredit: decline(ResponseCode.INSUFFICIENT_FUNDS, "INSUFFICIENT_CREDIT", MerchantAdvice.TRY_AGAIN_LATER),
  suspectedFraud: decline(ResponseCode.SUSPECTED_FRAUD, "SUSPECTED_FRAUD", MerchantAdvice.DO_NOT_TRY_AGAIN),
  expiredCard: decline(ResponseCode.EXPIRED_CARD, "EXPIRED_CARD", MerchantAdvice.NEW_INFORMATION),
  cardClosed: decline(ResponseCode.NOT_PERMITTED, "CARD_ACCOUNT_CLOSED", MerchantAdvice.DO_NOT_TRY_AGAIN),
  exceedsAmountLimit: decline(ResponseCode.EXCEEDS_AMOUNT_LIMIT, "EXCEEDS_SINGLE_TRANSACTION_LIMIT", MerchantAdvice.DO_NOT_TRY_AGAIN),
  fraudUnavailable: decline(ResponseCode.ISSUER_UNAVAILABLE, "FRAUD_CHECK_UNAVAILABLE", MerchantAdvice.TRY_AGAIN_LATER),
  doNotHonor: decline(ResponseCode.DO_NOT_HONOR, "DO_NOT_HONOR", MerchantAdvice.DO_NOT_TRY_AGAIN),
} as const;
