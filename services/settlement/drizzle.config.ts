import { defineConfig } from "drizzle-kit";

/** drizzle-kit config of the settlement service: `npx drizzle-kit generate --config services/settlement/drizzle.config.ts`. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./services/settlement/store/schema.ts",
  out: "./services/settlement/store/migrations",
  schemaFilter: ["settlement"],
});
