#!/usr/bin/env node
// Runs before `npm run demo` and `npm test` (npm's pre-scripts) so the quick start is two
// commands on a fresh clone: checks Node.js >= 22 (one clear line otherwise) and installs the
// locked dependencies with `npm ci` when node_modules is missing or older than package-lock.json.
// Plain JavaScript on purpose: it must run before anything is installed.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(
    `Node.js ${process.versions.node} is too old: the mesh needs Node.js 22 or later (24 recommended); ` +
      'install one, e.g. `npm i --prefix "$HOME/.node24" node@24` and put $HOME/.node24/node_modules/.bin first on PATH',
  );
  process.exit(1);
}
const installed = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.error("dependencies missing or stale: running npm ci");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
