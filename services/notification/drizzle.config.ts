import { defineConfig } from "drizzle-kit";

/** drizzle-kit config of the notification service: `npx drizzle-kit generate --config services/notification/drizzle.config.ts`. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./services/notification/store/schema.ts",
  out: "./services/notification/store/migrations",
  schemaFilter: ["notification"],
});
