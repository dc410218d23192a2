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
// Tolerant XML parsing (enough for JUnit reports, survives truncated files)

const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e) => {
    if (e[0] === "#") {
      const cp = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      try {
        return String.fromCodePoint(cp);
      } catch {
        return m;
      }
    }
    return ENTITIES[e] ?? m;
  });
}

function parseAttrs(s) {
  const attrs = {};
  const re = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>/]+)))?/g;
  let m;
  while ((m = re.exec(s))) attrs[m[1]] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
  return attrs;
}

function parseXml(src) {
  const root = { name: "#root", attrs: {}, children: [], text: "" };
  const stack = [root];
  const re =
    /<!--[\s\S]*?(?:-->|$)|<!\[CDATA\[([\s\S]*?)(?:\]\]>|$)|<\?[\s\S]*?(?:\?>|$)|<![^>]*>|<\/\s*([^\s>]+)\s*>|<([A-Za-z_][^\s/>]*)((?:\s+[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>/]+))?)*)\s*(\/?)>/g;
  let last = 0;
  let m;
  while ((m = re.exec(src))) {
    const top = stack[stack.length - 1];
    if (m.index > last) top.text += decodeEntities(src.slice(last, m.index));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      top.text += m[1];
    } else if (m[2] !== undefined) {
      const name = m[2].toLowerCase();
      for (let i = stack.length - 1; i > 0; i--) {
        if (stack[i].name === name) {
          stack.length = i;
          break;
        }
      }
    } else if (m[3] !== undefined) {
      const el = { name: m[3].toLowerCase(), attrs: parseAttrs(m[4] || ""), children: [], text: "" };
      top.children.push(el);
      if (!m[5]) stack.push(el);
    }
  }
  return root;
}

// ---------------------------------------------------------------------------
// JUnit -> normalised test list
//
// Each runtime yields { tests, extraFailures, filesSeen, fileProblems }:
//   tests: [{ segs, file, status: passed|failed|skipped, message }]
//     segs = describe path + test name; keyOf(segs) is the identity used for the
//     cross-runtime comparison. The Node 20 reporter has no file information, so
//     the file cannot be part of the identity; it is only shown when known.
//   extraFailures: failures not attributable to a test (file failed to load,
//     a describe-level hook failed, ...); counted as failed, not compared.

const SEP = " > ";

/** Identity used for comparison: drop whitespace and control characters, because
 *  the reporters disagree on them (Node drops newlines, Bun drops control chars,
 *  Deno writes escapes like \n and \x01). */
function loosen(s) {
  return s.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, "");
}
const keyOf = (segs) => loosen(segs.join(SEP));

function decodeDenoEscapes(s) {
  return s.replace(/\\(?:u\{([0-9a-fA-F]{1,6})\}|x([0-9a-fA-F]{2})|([ntr0]))/g, (m, u, x, c) => {
    if (u || x) {
      try {
        return String.fromCodePoint(parseInt(u || x, 16));
      } catch {
        return m;
      }
    }
    return { n: "\n", t: "\t", r: "\r", 0: "\0" }[c];
  });
}

/** Readable one-line version of a name for printing. */
const pretty = (s) => s.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, " ").trim();

function statusOf(testcase) {
  let status = "passed";
  let message = "";
  for (const c of testcase.children) {
    if (c.name === "failure" || c.name === "error") {
      status = "failed";
      message ||= c.attrs.message || c.text;
    } else if (c.name === "skipped" && status !== "failed") {
      status = "skipped";
    }
  }
  return { status, message: firstLine(message) };
}

function firstLine(s) {
  const line = String(s || "").split("\n").map((l) => l.trim()).find(Boolean) || "";
  return line.length > 200 ? line.slice(0, 197) + "..." : line;
}

function normFile(p) {
  if (!p) return null;
  let f = p;
  if (f.startsWith("file://")) {
    try {
      f = fileURLToPath(f);
    } catch {
      /* keep */
    }
  }
  if (path.isAbsolute(f)) f = path.relative(TEST_ROOT, f);
  return f.replace(/\\/g, "/").replace(/^(\.\/)+/, "");
}

function suiteFailure(suite, label) {
  const f = suite.children.find((c) => c.name === "failure" || c.name === "error");
  return f ? { name: label, message: firstLine(f.attrs.message || f.text) } : null;
}

function emptyResult() {
  return { tests: [], extraFailures: [], filesSeen: new Set(), fileProblems: [] };
}

// Node 20: describe blocks (and tests with subtests) become nested <testsuite>s,
// tests are <testcase classname="test">, no file information at all. A file
// that crashed or had no tests is a top-level <testcase> named by its absolute
// path. Node 20 double-escapes '"' (as &amp;quot;).
function fromNode(doc, files) {
  const r = emptyResult();
  const abs = new Map(files.map((f) => [path.resolve(TEST_ROOT, f), f]));
  const fixName = (s) => (s ?? "").replaceAll("&quot;", '"');
  const walk = (el, segs) => {
    for (const c of el.children) {
      if (c.name === "testsuites") walk(c, segs);
      else if (c.name === "testsuite") {
        const next = [...segs, fixName(c.attrs.name)];
        const sf = suiteFailure(c, next.join(SEP));
        if (sf) r.extraFailures.push(sf);
        walk(c, next);
      } else if (c.name === "testcase") {
        const name = fixName(c.attrs.name);
        const { status, message } = statusOf(c);
        const file = segs.length === 0 ? abs.get(path.resolve(TEST_ROOT, name)) ?? null : null;
        if (file) {
          // File-level entry, not a test.
          if (status === "failed") r.extraFailures.push({ name: `${file} (file failed)`, message });
          else r.fileProblems.push(`${file}: no tests reported`);
          continue;
        }
        r.tests.push({ segs: [...segs, name], file: null, status, message });
      }
    }
  };
  walk(doc, []);
  return r;
}

// Bun: <testsuite name=file file=file> per file, nested <testsuite> per describe
// (classname lists the describes innermost-first, so it is ignored). Files that
// failed to load are simply absent. describe.skip and empty describes are absent.
function fromBun(doc) {
  const r = emptyResult();
  const walk = (el, segs, file, depth) => {
    for (const c of el.children) {
      if (c.name === "testsuites") walk(c, segs, file, depth);
      else if (c.name === "testsuite") {
        if (depth === 0 && (c.attrs.file !== undefined || TEST_FILE_RE.test(c.attrs.name || ""))) {
          const f = normFile(c.attrs.file || c.attrs.name);
          r.filesSeen.add(f);
          walk(c, [], f, depth + 1);
        } else {
          const next = [...segs, c.attrs.name ?? ""];
          const sf = suiteFailure(c, next.join(SEP));
          if (sf) r.extraFailures.push(sf);
          walk(c, next, file ?? normFile(c.attrs.file), depth + 1);
        }
      } else if (c.name === "testcase") {
        const { status, message } = statusOf(c);
        r.tests.push({ segs: [...segs, c.attrs.name ?? ""], file: file ?? normFile(c.attrs.file), status, message });
      }
    }
  };
  walk(doc, [], null, 0);
  return r;
}

// Deno: one <testsuite> per file holding the top-level tests (a describe is a
// top-level test), plus a <testsuite name="ext:deno_node/testing.ts"> holding
// every describe/it step of every file, named "outer > inner > test". Describes
// appear as test cases too; they are recognised by having children. Control
// characters in names are written as escapes (\n, \t, \x01).
function fromDeno(doc) {
  const r = emptyResult();
  const cases = [];
  const walk = (el, suite) => {
    for (const c of el.children) {
      if (c.name === "testsuites") walk(c, suite);
      else if (c.name === "testsuite") walk(c, c.attrs.name ?? "");
      else if (c.name === "testcase") {
        const isFileSuite = suite && !suite.startsWith("ext:") && !suite.startsWith("node:");
        const file = isFileSuite ? normFile(suite) : null;
        if (file) r.filesSeen.add(file);
        const name = decodeDenoEscapes(c.attrs.name ?? "");
        cases.push({ name, file, ...statusOf(c) });
      }
    }
  };
  walk(doc, "");

  const containers = new Set();
  for (const c of cases) {
    const parts = c.name.split(SEP);
    for (let i = 1; i < parts.length; i++) containers.add(parts.slice(0, i).join(SEP));
  }
  // Top-level tests know their file; steps inherit it from their root test.
  const fileOfRoot = new Map();
  for (const c of cases) if (c.file && !c.name.includes(SEP) && !fileOfRoot.has(c.name)) fileOfRoot.set(c.name, c.file);
  const leaves = [];
  for (const c of cases) {
    let file = c.file;
    if (!file) {
      for (const [rootName, f] of fileOfRoot) {
        if (c.name.startsWith(rootName + SEP)) {
          file = f;
          break;
        }
      }
    }
    if (containers.has(c.name)) {
      if (c.status === "failed" && !cases.some((d) => d.status === "failed" && !containers.has(d.name) && d.name.startsWith(c.name + SEP))) {
        r.extraFailures.push({ name: c.name, message: c.message });
      }
      continue;
    }
    leaves.push({ segs: c.name.split(SEP), file, status: c.status, message: c.message });
  }
  r.tests = leaves;
  return r;
}

function summarise(result) {
  const count = (s) => result.tests.filter((t) => t.status === s).length;
  return {
    passed: count("passed"),
    failed: count("failed") + result.extraFailures.length,
    skipped: count("skipped"),
  };
}

// ---------------------------------------------------------------------------
// Cross-runtime comparison

function compareRuntimes(runs) {
  const index = new Map(); // key -> { segs, file, per: Map(runtime -> { count, skipped }) }
  const leafKeys = new Map(); // runtime -> Set(key)
  const containerKeys = new Map(); // runtime -> Set(key of every ancestor path)
  for (const run of runs) {
    const leaves = new Set();
    const containers = new Set();
    for (const t of run.result.tests) {
      const key = keyOf(t.segs);
      leaves.add(key);
      for (let i = 1; i < t.segs.length; i++) containers.add(keyOf(t.segs.slice(0, i)));
      let entry = index.get(key);
      if (!entry) index.set(key, (entry = { segs: t.segs, files: new Set(), per: new Map() }));
      if (t.file) entry.files.add(t.file);
      const p = entry.per.get(run.name) ?? { count: 0, skipped: 0, passed: 0 };
      p.count++;
      if (t.status === "skipped") p.skipped++;
      if (t.status === "passed") p.passed++;
      entry.per.set(run.name, p);
    }
    leafKeys.set(run.name, leaves);
    containerKeys.set(run.name, containers);
  }

  const mismatches = [];
  const notes = [];
  const missingOn = new Set();
  for (const [key, entry] of index) {
    const counts = runs.map((r) => entry.per.get(r.name)?.count ?? 0);
    const max = Math.max(...counts);
    const short = runs.filter((r, i) => counts[i] < max);
    if (!short.length) continue;
    const files = [...entry.files].sort();
    const label = files.length === 1 ? `${files[0]}${SEP}${entry.segs.map(pretty).join(SEP)}` : entry.segs.map(pretty).join(SEP) + (files.length ? `  (${files.join(", ")})` : "");
    const times = (i) => (counts[i] > 1 ? `×${counts[i]}` : "");
    const present = runs.map((r, i) => (counts[i] > 0 ? `${r.name}${times(i)}` : null)).filter(Boolean);
    const absent = runs.map((r, i) => (counts[i] === 0 ? r.name : null)).filter(Boolean);
    const fewer = runs.map((r, i) => (counts[i] > 0 && counts[i] < max ? r.name : null)).filter(Boolean);
    const where = [`on ${present.join(", ")}`, absent.length && `missing on ${absent.join(", ")}`, fewer.length && `fewer on ${fewer.join(", ")}`].filter(Boolean).join("; ");
    const skippedEverywhere = [...entry.per.values()].every((p) => p.skipped === p.count);
    if (skippedEverywhere) {
      notes.push(`${label} — skipped where present, not reported by ${short.map((r) => r.name).join(", ")} (e.g. bun omits describe.skip blocks)`);
      continue;
    }
    const unexplained = short.filter((r) => {
      // r ran the parent as a single test (bun does not report node:test subtests) ...
      const ancestors = entry.segs.slice(0, -1).map((_, i) => keyOf(entry.segs.slice(0, i + 1)));
      if (ancestors.some((a) => leafKeys.get(r.name).has(a))) return false;
      // ... or r reported this test's subtests individually.
      if (containerKeys.get(r.name).has(key)) return false;
      return true;
    });
    if (!unexplained.length) {
      notes.push(`${label} — reported as a test with/without its subtests depending on the runtime (${where})`);
      continue;
    }
    for (const r of unexplained) missingOn.add(r.name);
    const hint =
      absent.length === 1 && absent[0] === "bun" && [...entry.per.values()].every((p) => p.passed === p.count)
        ? " (an empty describe()? bun does not report those)"
        : "";
    mismatches.push(`${label}   [${where}]${hint}`);
  }
  return { mismatches, notes, missingOn };
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
        const doc = parseXml(fs.readFileSync(run.xml, "utf8"));
        run.result = name === "node" ? fromNode(doc, files) : name === "bun" ? fromBun(doc) : fromDeno(doc);
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
