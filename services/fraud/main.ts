/**
 * Fraud service process: wiring only. Config: the common variables (services/shared/config.ts)
 * and FRAUD_DECLINE_SCORE (0..1000, default declineScoreDefault; docs/fraud.md).
 */
import { fileURLToPath } from "node:url";
import { FraudService } from "../../gen/payments/fraud/v1/fraud_service_pb.js";
import { intFromEnv } from "../shared/config.ts";
import { runService } from "../shared/process.ts";
import { registration } from "../shared/server.ts";
import { declineScoreDefault, scoreMax } from "./domain/scorer.ts";
import { createFraudService } from "./routes.ts";

await runService({
  name: "fraud",
  schema: "fraud",
  migrationsFolder: fileURLToPath(new URL("./store/migrations", import.meta.url)),
  async build({ env, pool, logger }) {
    const declineScore = intFromEnv(env, "FRAUD_DECLINE_SCORE", declineScoreDefault, 0, scoreMax);
    logger.info({ decline_score: declineScore }, "fraud scorer rules-v1");
    return { services: [registration(FraudService, createFraudService({ pool, declineScore }))] };
  },
});
