import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/authorization/store/schema.ts",
  out: "./services/authorization/store/migrations",
  schemaFilter: ["authz"],
});
