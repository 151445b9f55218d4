import { describe, expect, it } from "vitest";
import { AuthorizationEventType } from "../../gen/payments/authorization/v1/authorization_events_pb.js";
import { AuthorizationState } from "../../gen/payments/authorization/v1/authorization_pb.js";
import { approvalRateBps, effectsOf, InvalidEventError } from "../../services/reporting/domain/effects.ts";
import { authorizationEvent, batchSettledEvent } from "../notification/helpers.ts";

describe("reporting effects of one event", () => {
  it("maps each event type to additive counters on its business date", () => {
    const cases: Array<[ReturnType<typeof authorizationEvent>, Record<string, bigint | string | undefined>]> = [
      [authorizationEvent({ type: AuthorizationEventType.APPROVED, amountMinor: 700n }), { authorizationCount: 1n, approvedCount: 1n, approvedAmountMinor: 700n }],
      [authorizationEvent({ type: AuthorizationEventType.DECLINED, responseCodeIso: "51" }), { authorizationCount: 1n, declinedCount: 1n, fraudDeclinedCount: 0n, declineCode: "51" }],
      [authorizationEvent({ type: AuthorizationEventType.DECLINED, responseCodeIso: "59" }), { declinedCount: 1n, fraudDeclinedCount: 1n, declineCode: "59" }],
      [authorizationEvent({ type: AuthorizationEventType.CAPTURED, amountMinor: 300n }), { capturedAmountMinor: 300n, authorizationCount: 0n }],
      [authorizationEvent({ type: AuthorizationEventType.REFUNDED, amountMinor: 100n }), { refundedAmountMinor: 100n }],
      [authorizationEvent({ type: AuthorizationEventType.VOIDED, amountMinor: 700n }), { releasedAmountMinor: 700n }],
      [authorizationEvent({ type: AuthorizationEventType.EXPIRED, amountMinor: 50n }), { releasedAmountMinor: 50n }],
    ];
    for (const [event, expected] of cases) {
      const { summary } = effectsOf(event);
      expect(summary, AuthorizationEventType[event.type]).toMatchObject(expected);
      expect(summary.businessDate).toBe("2024-03-01");
      if (event.type !== AuthorizationEventType.DECLINED) expect(summary.declineCode).toBeUndefined();
    }
    const settled = effectsOf(batchSettledEvent({ businessDate: "2024-03-02", grossMinor: 10_000n, refundsMinor: 500n, feesMinor: 250n }));
    expect(settled.summary).toMatchObject({ businessDate: "2024-03-02", settledGrossMinor: 10_000n, settledFeesMinor: 250n, settledNetMinor: 9_250n });
    expect(settled.transaction).toBeUndefined();
  });

  it("takes the snapshot's progress and state, and the event's own business date", () => {
    const event = authorizationEvent({
      type: AuthorizationEventType.REFUNDED,
      amountMinor: 200n,
      authorizedMinor: 1_000n,
      capturedMinor: 1_000n,
      refundedMinor: 200n,
      state: AuthorizationState.CAPTURED,
    });
    event.businessDate = "2024-03-05";
    const { summary, transaction } = effectsOf(event);
    expect(summary.businessDate).toBe("2024-03-05");
    expect(transaction).toMatchObject({ state: "CAPTURED", progressMinor: 1_200n, amountMinor: 1_000n, businessDate: "2024-03-01" });
  });

  it("refuses events the views cannot use", () => {
    const noMerchant = authorizationEvent({ type: AuthorizationEventType.APPROVED });
    noMerchant.authorization!.merchantId = "";
    const badDate = authorizationEvent({ type: AuthorizationEventType.APPROVED });
    badDate.businessDate = "01/03/2024";
    badDate.authorization!.businessDate = "";
    const negative = authorizationEvent({ type: AuthorizationEventType.CAPTURED, amountMinor: -1n });
    for (const event of [noMerchant, badDate, negative]) expect(() => effectsOf(event)).toThrow(InvalidEventError);
  });

  it("computes the approval rate in integer basis points", () => {
    expect(approvalRateBps(0n, 0n)).toBe(0);
    expect(approvalRateBps(2n, 3n)).toBe(6_666);
    expect(approvalRateBps(3n, 3n)).toBe(10_000);
  });
});
