import { describe, expect, it } from "vitest";
import { confusion, defaultDataFile, evaluate, scoreFile } from "../../scripts/fraud-eval.ts";
import { declineScoreDefault } from "../../services/fraud/domain/scorer.ts";

/**
 * Regression floors from the measured figures of rules-v1 on the 5,039-row slice at the
 * default threshold (docs/fraud.md): TP 19, FP 6, FN 3, TN 5011, precision 76.0 %, recall
 * 86.4 %. A change that loses a detection or adds false positives fails here.
 */
describe("offline evaluation on the labelled slice (scripts/fraud-eval.ts)", () => {
  it("keeps recall and precision at or above the measured floors at the default threshold", async () => {
    const result = await evaluate(defaultDataFile, declineScoreDefault);
    expect(result.rows).toBe(5039);
    expect(result.tp + result.fn).toBe(22);
    expect(result.tp).toBeGreaterThanOrEqual(19);
    expect(result.fp).toBeLessThanOrEqual(6);
    expect(result.recall).toBeGreaterThanOrEqual(0.86);
    expect(result.precision).toBeGreaterThanOrEqual(0.75);
  });

  it("is far better than chance at a stricter and a looser threshold too (not tuned to one point)", async () => {
    const strict = confusion(await scoreFile(defaultDataFile, 650), 650);
    expect(strict.tp).toBeGreaterThanOrEqual(14);
    expect(strict.fp).toBeLessThanOrEqual(2);
    const loose = confusion(await scoreFile(defaultDataFile, 450), 450);
    expect(loose.tp).toBeGreaterThanOrEqual(19);
    expect(loose.fp).toBeLessThanOrEqual(31);
  });
});
