import { existsSync } from "node:fs";
import { join } from "node:path";
import { serviceNames } from "../../services/shared/config.ts";
import { repoRoot } from "../../scripts/lib/launcher.ts";

/** Services whose services/<name>/main.ts is missing. */
export function missingServiceMains(): string[] {
  return serviceNames.filter((name) => !existsSync(join(repoRoot, "services", name, "main.ts")));
}

/** True when every service's main.ts exists. */
export function serviceMainsPresent(): boolean {
  return missingServiceMains().length === 0;
}
