#!/usr/bin/env node
// The package checks for npm and JSR, in one run (`npm run check:package`, after `npm run build`):
//   manifests    scripts/check-manifests.mjs: package.json and deno.json agree (version, export keys)
//   publint      publint --strict: package.json against the packed files
//   attw         attw --pack .: every subpath resolves with types under node10, node16 (CJS and ESM), bundler
//   deno-lint    deno lint (includes no-slow-types)
//   jsr-publish  deno publish --dry-run (no --allow-slow-types)
//   deno-doc     deno doc --lint on every deno.json entry point (JSDoc on every export, no private types)
//   doc-examples deno check --doc: every @example in the JSDoc of mod.ts and src/ type-checks, with the
//                package's names mapped to the source (scripts/doc-examples.json)
// Every check runs even when an earlier one fails; the exit code is 1 if any failed.
//
//   node scripts/check-package.mjs [--build] [--report FILE]
//     --build        run tsup first (npm run build)
//     --report FILE  also write the results as JSON (used by tests/package.test.ts)
// Plain Node ESM, no dependencies.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "node_modules", ".bin");
const STEP_TIMEOUT_MS = 240_000;

function run(cmd, args) {
  return new Promise((resolve) => {
    const started = Date.now();
    let output = "";
    let timedOut = false;
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...withoutForceColor(process.env), NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, STEP_TIMEOUT_MS);
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const done = (code, error) => {
      clearTimeout(timer);
      if (error) output += `\n${error.message}`;
      if (timedOut) output += `\ntimed out after ${STEP_TIMEOUT_MS} ms`;
      output = output
        .replace(/\x1b\[[0-9;]*m/g, "")
        .split("\n")
        // Noise: npm's complaint about this machine's npmrc, and deno doc failing to follow @types/node's references.
        .filter((l) => !l.startsWith("npm warn Unknown user config") && !l.startsWith("Warning Failed resolving types"))
        .filter((l, i, all) => !(l.trimStart().startsWith("at file://") && all[i - 1]?.startsWith("Warning")))
        .join("\n");
      resolve({ ok: code === 0 && !timedOut, code, ms: Date.now() - started, output: output.trim() });
    };
    child.on("error", (error) => done(null, error));
    child.on("close", (code) => done(code));
  });
}

/** Any FORCE_COLOR, even "0", makes Deno colour its output. */
function withoutForceColor(env) {
  const copy = { ...env };
  delete copy.FORCE_COLOR;
  return copy;
}

/** mod.ts and every .ts file under src/, for the example check. */
function sourceFiles(dir = path.join(ROOT, "src")) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(file) : entry.name.endsWith(".ts") ? [path.relative(ROOT, file)] : [];
  });
}

function denoEntryPoints() {
  const deno = JSON.parse(fs.readFileSync(path.join(ROOT, "deno.json"), "utf8"));
  return Object.values(deno.exports);
}

const args = process.argv.slice(2);
const reportAt = args.includes("--report") ? path.resolve(args[args.indexOf("--report") + 1]) : undefined;

const steps = [
  ["manifests", process.execPath, [path.join(ROOT, "scripts", "check-manifests.mjs")]],
  ["publint", path.join(BIN, "publint"), ["--strict"]],
  ["attw", path.join(BIN, "attw"), ["--pack", ".", "--format", "table-flipped"]],
  ["deno-lint", path.join(BIN, "deno"), ["lint"]],
  // --allow-dirty: this checks the package's content, not whether git has committed it.
  ["jsr-publish", path.join(BIN, "deno"), ["publish", "--dry-run", "--allow-dirty"]],
  ["deno-doc", path.join(BIN, "deno"), ["doc", "--lint", ...denoEntryPoints()]],
  ["doc-examples", path.join(BIN, "deno"), ["check", "--doc", "--quiet", "--config", "scripts/doc-examples.json", "mod.ts", ...sourceFiles()]],
];
if (args.includes("--build")) steps.unshift(["build", path.join(BIN, "tsup"), []]);

const results = [];
for (const [name, cmd, cmdArgs] of steps) {
  const result = await run(cmd, cmdArgs);
  results.push({ name, command: [path.basename(cmd), ...cmdArgs].join(" "), ...result });
  console.log(`${result.ok ? "ok  " : "FAIL"} ${name.padEnd(12)} ${(result.ms / 1000).toFixed(1).padStart(5)}s  ${path.basename(cmd)} ${cmdArgs.join(" ")}`);
  if (!result.ok) console.log(result.output.replace(/^/gm, "     | "));
  // Nothing else is meaningful on a broken build.
  if (name === "build" && !result.ok) break;
}

// The files `deno publish` would upload: the JSR package, as the pack-and-install test stages it.
const publish = results.find((r) => r.name === "jsr-publish");
const jsrFiles = publish
  ? [...publish.output.matchAll(/file:\/\/(\S+)/g)].map((m) => path.relative(ROOT, decodeURIComponent(m[1])))
  : [];

if (reportAt) {
  fs.mkdirSync(path.dirname(reportAt), { recursive: true });
  fs.writeFileSync(reportAt, JSON.stringify({ results, jsrFiles }, null, 2));
}
const failed = results.filter((r) => !r.ok);
console.log(failed.length ? `check-package: ${failed.length} failed: ${failed.map((r) => r.name).join(", ")}` : "check-package: all ok");
process.exitCode = failed.length ? 1 : 0;
