import { defineConfig } from "drizzle-kit";

/** drizzle-kit config of the ledger service: `npx drizzle-kit generate --config services/ledger/drizzle.config.ts`. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./services/ledger/store/schema.ts",
  out: "./services/ledger/store/migrations",
  schemaFilter: ["ledger"],
});
