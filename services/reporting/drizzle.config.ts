import { defineConfig } from "drizzle-kit";

/** drizzle-kit config of the reporting service: `npx drizzle-kit generate --config services/reporting/drizzle.config.ts`. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./services/reporting/store/schema.ts",
  out: "./services/reporting/store/migrations",
  schemaFilter: ["reporting"],
});
