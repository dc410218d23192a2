#!/usr/bin/env node
// Runs the node:test suite in tests/*.test.ts under Node, Bun and Deno in turn,
// then compares the JUnit reports of the three runtimes.
//
//   npm test                                  all runtimes, all tests/*.test.ts
//   npm test -- --only=deno history           Deno only, files whose name contains "history"
//
// Environment:
//   TEST_ROOT         directory holding tests/ (default: the repo root)
//   TEST_RESULTS_DIR  where the JUnit files go (default: <TEST_ROOT>/.test-results)
//   TEST_TIMEOUT_MS   wall-clock limit per runtime (default: 480000 = 8 minutes)
//
// The last line printed is always "N passed, N failed, N skipped" (CI reads it).
// Plain Node ESM, no dependencies, Node >= 20.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compareRuntimes } from "./test-runner/compare.mjs";
import { SEP, pretty } from "./test-runner/junit/names.mjs";
import { readReport } from "./test-runner/junit/read.mjs";
import { summarise } from "./test-runner/junit/result.mjs";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TEST_ROOT = path.resolve(process.env.TEST_ROOT || REPO_ROOT);
const RESULTS_DIR = path.resolve(process.env.TEST_RESULTS_DIR || path.join(TEST_ROOT, ".test-results"));
const BIN_DIR = path.join(REPO_ROOT, "node_modules", ".bin");
const TESTS_DIR = "tests";
const TEST_FILE_RE = /\.test\.ts$/;
const ALL_RUNTIMES = ["node", "bun", "deno"];
const DEFAULT_TIMEOUT_MS = 8 * 60 * 1000;
const KILL_GRACE_MS = 5000;
const MAX_LISTED = 50;

// ---------------------------------------------------------------------------
// Output helpers

const out = (line = "") => process.stdout.write(line + "\n");
const err = (line = "") => process.stderr.write(line + "\n");

function finish(totals, code) {
  // The very last line; CI parses it.
  out(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exitCode = code;
}

function usage() {
  return [
    "usage: node scripts/run-tests.mjs [--only=node,bun,deno] [file-filter ...]",
    "  --only=LIST     comma-separated runtimes to run (default: node,bun,deno)",
    "  file-filter     run only tests/*.test.ts whose file name contains one of these substrings",
    "env: TEST_ROOT, TEST_RESULTS_DIR, TEST_TIMEOUT_MS",
  ].join("\n");
}

// ---------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const opts = { runtimes: [...ALL_RUNTIMES], filters: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") {
      opts.help = true;
    } else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg === "--only" ? argv[++i] : arg.slice("--only=".length);
      if (!value) throw new Error("--only needs a value, e.g. --only=node,deno");
      const list = value.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
      const unknown = list.filter((r) => !ALL_RUNTIMES.includes(r));
      if (unknown.length) throw new Error(`unknown runtime(s) in --only: ${unknown.join(", ")} (known: ${ALL_RUNTIMES.join(", ")})`);
      if (!list.length) throw new Error("--only needs at least one runtime");
      opts.runtimes = ALL_RUNTIMES.filter((r) => list.includes(r));
    } else if (arg === "--") {
      opts.filters.push(...argv.slice(i + 1));
      break;
    } else if (arg.startsWith("-")) {
      throw new Error(`unknown option: ${arg}`);
    } else {
      opts.filters.push(arg);
    }
  }
  return opts;
}

function timeoutMs() {
  const raw = process.env.TEST_TIMEOUT_MS;
  if (raw === undefined || raw === "") return DEFAULT_TIMEOUT_MS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    err(`warning: ignoring invalid TEST_TIMEOUT_MS=${JSON.stringify(raw)}, using ${DEFAULT_TIMEOUT_MS}`);
    return DEFAULT_TIMEOUT_MS;
  }
  return n;
}

function listTestFiles(filters) {
  const dir = path.join(TEST_ROOT, TESTS_DIR);
  let names;
  try {
    names = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile() && TEST_FILE_RE.test(d.name)).map((d) => d.name);
  } catch (e) {
    if (e.code === "ENOENT") return [];
    throw e;
  }
  names.sort();
  if (filters.length) names = names.filter((n) => filters.some((f) => n.includes(f)));
  return names.map((n) => `${TESTS_DIR}/${n}`); // relative to TEST_ROOT, posix separators
}

// ---------------------------------------------------------------------------
// Runtimes

function resolveTsx() {
  // Resolve tsx relative to this script (the repo), not to TEST_ROOT / cwd, so that
  // `--import` works when TEST_ROOT points outside the repo.
  try {
    return import.meta.resolve("tsx");
  } catch {
    return null;
  }
}

function runtimeCommand(name, files, xml) {
  // Explicit "./" prefix: bun treats bare arguments as file-name filters.
  const rel = files.map((f) => `./${f}`);
  switch (name) {
    case "node": {
      const tsx = resolveTsx();
      return {
        cmd: process.execPath,
        args: [
          "--import", tsx ?? "tsx",
          "--test",
          "--test-reporter=spec", "--test-reporter-destination=stdout",
          "--test-reporter=junit", `--test-reporter-destination=${xml}`,
          ...rel,
        ],
        problem: tsx ? null : "cannot resolve the 'tsx' package from the repo (run npm ci)",
      };
    }
    case "bun":
      return {
        cmd: path.join(BIN_DIR, "bun"),
        args: ["test", "--timeout", "60000", "--reporter=junit", `--reporter-outfile=${xml}`, ...rel],
      };
    case "deno":
      return {
        cmd: path.join(BIN_DIR, "deno"),
        args: [
          "test",
          "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-sys",
          `--junit-path=${xml}`,
          ...rel,
        ],
      };
    default:
      throw new Error(`unknown runtime ${name}`);
  }
}

let currentChild = null;
let interrupted = false;

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Linux only (reads /proc); used to say what is being killed. */
function groupMembers(pgid) {
  const found = [];
  let pids = [];
  try {
    pids = fs.readdirSync("/proc").filter((d) => /^[0-9]+$/.test(d));
  } catch {
    return found;
  }
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state ppid pgrp ...
      if (Number(fields[2]) !== pgid || fields[0] === "Z") continue;
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      found.push(`${pid} ${cmdline.length > 120 ? cmdline.slice(0, 117) + "..." : cmdline}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

function runProcess(cmd, args, limitMs) {
  return new Promise((resolve) => {
    const started = Date.now();
    let settled = false;
    let timedOut = false;
    let timer = null;
    let killTimer = null;
    let child;

    const settle = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      currentChild = null;
      resolve({ ...result, timedOut, durationMs: Date.now() - started });
    };

    try {
      // detached: the child leads its own process group, so the whole tree
      // (node --test workers, servers spawned by tests, ...) can be killed at once.
      child = spawn(cmd, args, { cwd: TEST_ROOT, stdio: "inherit", detached: true, env: process.env });
    } catch (e) {
      settle({ code: null, signal: null, spawnError: e });
      return;
    }
    currentChild = child;

    timer = setTimeout(() => {
      timedOut = true;
      err(`\n[run-tests] wall-clock limit of ${limitMs} ms reached, killing process group ${child.pid}`);
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
    }, limitMs);

    child.on("error", (e) => {
      if (child.pid === undefined) settle({ code: null, signal: null, spawnError: e });
      else err(`[run-tests] child process error: ${e.message}`);
    });
    child.on("exit", (code, signal) => {
      // Don't let leftovers (servers, workers) of this runtime leak into the next one.
      if (child.pid !== undefined && groupAlive(child.pid)) {
        if (!timedOut) {
          const members = groupMembers(child.pid);
          if (members.length) err(`[run-tests] killing processes left behind:\n${members.map((m) => `  ${m}`).join("\n")}`);
        }
        killGroup(child.pid, "SIGKILL");
      }
      settle({ code, signal, spawnError: null });
    });
  });
}

function forwardSignal(signal) {
  if (interrupted) {
    // Second signal: give up immediately.
    if (currentChild?.pid) killGroup(currentChild.pid, "SIGKILL");
    out("0 passed, 1 failed, 0 skipped");
    process.exit(130);
  }
  interrupted = true;
  err(`\n[run-tests] received ${signal}, stopping (send again to force)`);
  if (currentChild?.pid) killGroup(currentChild.pid, signal);
}

// ---------------------------------------------------------------------------
// Main

function fmtDuration(ms) {
  if (ms == null) return "-";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s`;
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i === 0 || i === 1 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ").trimEnd());
}

async function main() {
  const totals = { passed: 0, failed: 0, skipped: 0 };
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    err(`error: ${e.message}\n${usage()}`);
    totals.failed = 1;
    return finish(totals, 2);
  }
  if (opts.help) {
    out(usage());
    return;
  }

  const files = listTestFiles(opts.filters);
  if (!files.length) {
    err(`error: no test files found (${path.join(TEST_ROOT, TESTS_DIR, "*.test.ts")}${opts.filters.length ? `, filters: ${opts.filters.join(" ")}` : ""})`);
    totals.failed = 1;
    return finish(totals, 1);
  }

  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const limit = timeoutMs();
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => forwardSignal(s));

  out(`[run-tests] root: ${TEST_ROOT}`);
  out(`[run-tests] ${files.length} file(s): ${files.join(" ")}`);
  out(`[run-tests] runtimes: ${opts.runtimes.join(", ")}; limit ${fmtDuration(limit)} each; reports in ${RESULTS_DIR}`);

  const runs = [];
  for (const name of opts.runtimes) {
    const run = { name, problems: [], result: null, exit: null, durationMs: null, xml: path.join(RESULTS_DIR, `${name}.xml`) };
    runs.push(run);
    if (interrupted) {
      run.problems.push("not run (interrupted)");
      continue;
    }
    fs.rmSync(run.xml, { force: true }); // never read a stale report
    const { cmd, args, problem } = runtimeCommand(name, files, run.xml);
    out(`\n${"=".repeat(78)}\n[run-tests] ${name}: ${[cmd, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(" ")}\n${"=".repeat(78)}`);
    if (problem) run.problems.push(problem);
    if (!fs.existsSync(cmd)) {
      run.problems.push(`binary not found: ${cmd} (run npm ci)`);
      continue;
    }
    const res = await runProcess(cmd, args, limit);
    run.durationMs = res.durationMs;
    run.exit = res.spawnError ? "spawn-error" : res.signal ? res.signal : res.code;
    if (res.spawnError) run.problems.push(`failed to start: ${res.spawnError.message}`);
    // Aborted runs: report the cause, not its consequences (zero tests, odd exit code).
    const aborted = res.timedOut || interrupted;
    run.aborted = aborted;
    if (res.timedOut) run.problems.push(`timed out after ${fmtDuration(limit)} (process group killed)`);
    else if (interrupted) run.problems.push("interrupted");
    else if (res.signal) run.problems.push(`killed by ${res.signal}`);

    if (!fs.existsSync(run.xml)) {
      run.problems.push(`no JUnit report written (${path.relative(process.cwd(), run.xml) || run.xml})`);
    } else {
      try {
        run.result = readReport(name, fs.readFileSync(run.xml, "utf8"), { files, testRoot: TEST_ROOT });
      } catch (e) {
        run.problems.push(`could not parse JUnit report: ${e.message}`);
      }
    }
    if (run.result) {
      const s = summarise(run.result);
      if (run.result.tests.length === 0 && !aborted) run.problems.push("executed zero tests");
      if (!aborted) run.problems.push(...run.result.fileProblems);
      if (name !== "node" && !aborted) {
        const missing = files.filter((f) => !run.result.filesSeen.has(f));
        if (missing.length) run.problems.push(`no results for ${missing.join(", ")} (failed to load, or no tests)`);
      }
      if (typeof run.exit === "number" && run.exit !== 0 && s.failed === 0 && !aborted) {
        run.problems.push(`exit code ${run.exit} but no failing test in the report (see output above: hook/load/uncaught error?)`);
      }
    } else if (typeof run.exit === "number" && run.exit !== 0 && !aborted) {
      run.problems.push(`exit code ${run.exit}`);
    }
  }

  // Cross-runtime comparison, among runtimes that produced tests.
  const comparable = runs.filter((r) => r.result && r.result.tests.length > 0 && !r.aborted);
  let cmp = { mismatches: [], notes: [], missingOn: new Set() };
  if (comparable.length > 1) {
    cmp = compareRuntimes(comparable);
    for (const r of comparable) if (cmp.missingOn.has(r.name)) r.problems.push("missing tests that other runtimes ran (see mismatches)");
  }

  // ---- Summary
  out(`\n${"=".repeat(78)}\n[run-tests] summary\n${"=".repeat(78)}`);
  const rows = [["runtime", "result", "passed", "failed", "skipped", "total", "duration", "exit"]];
  for (const r of runs) {
    const s = r.result ? summarise(r.result) : { passed: 0, failed: 0, skipped: 0 };
    const runtimeFailure = r.problems.length > 0 ? 1 : 0;
    totals.passed += s.passed;
    totals.failed += s.failed + runtimeFailure;
    totals.skipped += s.skipped;
    r.ok = !runtimeFailure && s.failed === 0;
    rows.push([
      r.name,
      r.ok ? "ok" : "FAIL",
      s.passed,
      s.failed + runtimeFailure,
      s.skipped,
      r.result ? r.result.tests.length + r.result.extraFailures.length : "-",
      fmtDuration(r.durationMs),
      r.exit ?? "-",
    ]);
  }
  for (const line of table(rows)) out(line);
  if (runs.some((r) => r.problems.length)) out("(failed includes +1 for each runtime with a runtime-level problem, listed below)");

  for (const r of runs) {
    const failed = r.result ? [...r.result.tests.filter((t) => t.status === "failed").map((t) => ({ name: (t.file ? `${t.file}${SEP}` : "") + t.segs.map(pretty).join(SEP), message: t.message })), ...r.result.extraFailures] : [];
    if (!r.problems.length && !failed.length) continue;
    out(`\n${r.name}:`);
    for (const p of r.problems) out(`  ! ${p}`);
    for (const f of failed.slice(0, MAX_LISTED)) out(`  ✗ ${pretty(f.name)}${f.message ? `\n      ${pretty(f.message)}` : ""}`);
    if (failed.length > MAX_LISTED) out(`  ... and ${failed.length - MAX_LISTED} more failed`);
  }

  if (cmp.mismatches.length) {
    out(`\nTest name mismatch between runtimes (${cmp.mismatches.length}): every test must exist on every runtime (skipped counts as present)`);
    for (const m of cmp.mismatches.slice(0, MAX_LISTED)) out(`  ≠ ${m}`);
    if (cmp.mismatches.length > MAX_LISTED) out(`  ... and ${cmp.mismatches.length - MAX_LISTED} more`);
  }
  if (cmp.notes.length) {
    out(`\nNotes (${cmp.notes.length} reporter difference(s), not counted as failures):`);
    for (const n of cmp.notes.slice(0, 10)) out(`  - ${n}`);
    if (cmp.notes.length > 10) out(`  ... and ${cmp.notes.length - 10} more`);
  }
  out("");
  finish(totals, totals.failed > 0 ? 1 : 0);
}

main().catch((e) => {
  err(`[run-tests] internal error: ${e?.stack || e}`);
  out("0 passed, 1 failed, 0 skipped");
  process.exitCode = 1;
});
