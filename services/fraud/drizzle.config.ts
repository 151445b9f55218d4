import { defineConfig } from "drizzle-kit";

/** drizzle-kit config of the fraud service: `npx drizzle-kit generate --config services/fraud/drizzle.config.ts`. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./services/fraud/store/schema.ts",
  out: "./services/fraud/store/migrations",
  schemaFilter: ["fraud"],
});
