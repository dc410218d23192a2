#!/usr/bin/env node
// Fails (exit 1) when package.json and deno.json disagree on what the package is:
//   - the same version;
//   - the same export subpaths (npm's "./package.json" export aside);
//   - every deno.json export points at a file that exists;
//   - every npm subpath but "." has a typesVersions entry (TypeScript's node10 resolution ignores exports);
//   - every npm export names the dist/ files tsup builds from tsup.config.ts's entry of the same name.
// Plain Node ESM, no dependencies.
//
//   node scripts/check-manifests.mjs [root]

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), ".."));
const readJson = (name) => JSON.parse(fs.readFileSync(path.join(root, name), "utf8"));

const NPM_ONLY = new Set(["./package.json"]);

/** The problems found; empty when the manifests agree. */
export function checkManifests(pkg, deno, tsupEntries) {
  const problems = [];
  if (pkg.version !== deno.version) {
    problems.push(`version differs: package.json has ${pkg.version}, deno.json has ${deno.version}`);
  }
  const npmKeys = Object.keys(pkg.exports ?? {}).filter((k) => !NPM_ONLY.has(k));
  const denoKeys = Object.keys(deno.exports ?? {});
  for (const key of npmKeys) if (!denoKeys.includes(key)) problems.push(`export "${key}" is in package.json but not in deno.json`);
  for (const key of denoKeys) if (!npmKeys.includes(key)) problems.push(`export "${key}" is in deno.json but not in package.json`);
  for (const [key, target] of Object.entries(deno.exports ?? {})) {
    if (!fs.existsSync(path.join(root, target))) problems.push(`deno.json export "${key}" points at a missing file: ${target}`);
  }
  const typesVersions = pkg.typesVersions?.["*"] ?? {};
  for (const key of npmKeys) {
    if (key === ".") continue;
    if (!typesVersions[key.slice(2)]) problems.push(`export "${key}" has no typesVersions entry (node10 resolution would fail)`);
  }
  for (const key of npmKeys) {
    const name = key === "." ? "index" : key.slice(2);
    const source = tsupEntries?.[name];
    if (!source) {
      problems.push(`export "${key}" has no tsup entry named "${name}"`);
      continue;
    }
    if (deno.exports?.[key] && path.normalize(deno.exports[key]) !== path.normalize(source)) {
      problems.push(`export "${key}" is built from ${source} for npm but is ${deno.exports[key]} on JSR`);
    }
    const want = JSON.stringify({
      import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
      require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
    });
    if (JSON.stringify(pkg.exports[key]) !== want) problems.push(`export "${key}" is not ${want}`);
  }
  return problems;
}

/** The `entry` map of tsup.config.ts, read as text (it is a plain object literal of string literals). */
function tsupEntries() {
  const text = fs.readFileSync(path.join(root, "tsup.config.ts"), "utf8");
  const block = /entry:\s*\{([^}]*)\}/.exec(text)?.[1];
  if (!block) return undefined;
  return Object.fromEntries([...block.matchAll(/["']?([\w-]+)["']?\s*:\s*["']([^"']+)["']/g)].map((m) => [m[1], m[2]]));
}

if (import.meta.url === `file://${process.argv[1]}` || fileURLToPath(import.meta.url) === path.resolve(process.argv[1] ?? "")) {
  const problems = checkManifests(readJson("package.json"), readJson("deno.json"), tsupEntries());
  if (problems.length) {
    for (const p of problems) console.error(`check-manifests: ${p}`);
    process.exit(1);
  }
  const pkg = readJson("package.json");
  console.log(`check-manifests: ok (version ${pkg.version}; exports ${Object.keys(pkg.exports).filter((k) => !NPM_ONLY.has(k)).join(" ")})`);
}
