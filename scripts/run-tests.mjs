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
// A run fails (exit 1) when a test fails on any runtime, a runtime fails as a
// whole (no report, zero tests, timed out, exit code without a failing test,
// ...), or a test exists on one runtime but not on another. Bad arguments exit 2.
// The last line printed is always "N passed, N failed, N skipped" (CI reads it).
// Plain Node ESM, no dependencies, Node >= 20.
//
// The parts, in scripts/test-runner/:
//   cli.mjs, config.mjs       arguments; paths and limits from the environment
//   test-files.mjs            which tests/*.test.ts to run
//   commands.mjs              the command line per runtime
//   run-runtime.mjs           one runtime: run it, read its report, find problems
//     run-process.mjs         spawn with a time limit, kill what it leaves behind
//     process-group.mjs       signal/list a runtime's process group
//     signals.mjs             Ctrl-C: stop after the current runtime, or at once
//     xml.mjs, junit/         the JUnit report of each runtime -> one test list
//     checks.mjs              runtime-level problems, test-name mismatches
//   compare.mjs               the cross-runtime comparison itself
//   summary.mjs, format.mjs   the closing table and lists
//   output.mjs                stdout/stderr and the closing line

import fs from "node:fs";
import path from "node:path";
import { checkSameTests } from "./test-runner/checks.mjs";
import { parseArgs, usage } from "./test-runner/cli.mjs";
import { RESULTS_DIR, TEST_ROOT, timeoutMs } from "./test-runner/config.mjs";
import { fmtDuration } from "./test-runner/format.mjs";
import { FAILED_LINE, err, finish, out } from "./test-runner/output.mjs";
import { runRuntime } from "./test-runner/run-runtime.mjs";
import { handleSignals } from "./test-runner/signals.mjs";
import { printSummary } from "./test-runner/summary.mjs";
import { TESTS_DIR, listTestFiles } from "./test-runner/test-files.mjs";

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    err(`error: ${e.message}\n${usage()}`);
    return finish({ passed: 0, failed: 1, skipped: 0 }, 2);
  }
  if (opts.help) {
    out(usage());
    return;
  }

  const files = listTestFiles(TEST_ROOT, opts.filters);
  if (!files.length) {
    err(`error: no test files found (${path.join(TEST_ROOT, TESTS_DIR, "*.test.ts")}${opts.filters.length ? `, filters: ${opts.filters.join(" ")}` : ""})`);
    return finish({ passed: 0, failed: 1, skipped: 0 }, 1);
  }

  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const limitMs = timeoutMs();
  handleSignals();

  out(`[run-tests] root: ${TEST_ROOT}`);
  out(`[run-tests] ${files.length} file(s): ${files.join(" ")}`);
  out(`[run-tests] runtimes: ${opts.runtimes.join(", ")}; limit ${fmtDuration(limitMs)} each; reports in ${RESULTS_DIR}`);

  // One runtime at a time, so each starts clean: whatever the previous one left
  // running has been killed (run-process.mjs).
  const runs = [];
  for (const name of opts.runtimes) runs.push(await runRuntime(name, files, { testRoot: TEST_ROOT, resultsDir: RESULTS_DIR, limitMs }));

  const cmp = checkSameTests(runs);
  const totals = printSummary(runs, cmp);
  finish(totals, totals.failed > 0 ? 1 : 0);
}

main().catch((e) => {
  err(`[run-tests] internal error: ${e?.stack || e}`);
  out(FAILED_LINE);
  process.exitCode = 1;
});
