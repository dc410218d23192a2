// What makes a runtime fail besides a failing test. A runtime with any of these
// problems counts one more failed (see summary.mjs), so one that ran nothing,
// or not the tests the others ran, can never pass.

import { compareRuntimes } from "./compare.mjs";
import { fmtDuration } from "./format.mjs";
import { summarise } from "./junit/result.mjs";

/** Problems with how the process ended. An aborted run (timeout, Ctrl-C) reports
 *  the cause only, not its consequences (zero tests, odd exit code). */
export function exitProblems(res, { interrupted, limitMs }) {
  const problems = [];
  if (res.spawnError) problems.push(`failed to start: ${res.spawnError.message}`);
  if (res.timedOut) problems.push(`timed out after ${fmtDuration(limitMs)} (process group killed)`);
  else if (interrupted) problems.push("interrupted");
  else if (res.signal) problems.push(`killed by ${res.signal}`);
  return problems;
}

/** Problems with what the report says, given the files that were run.
 *  run: { name, result (or null if no report), exit, aborted }. */
export function resultProblems(run, files) {
  const problems = [];
  if (run.result) {
    const s = summarise(run.result);
    if (run.result.tests.length === 0 && !run.aborted) problems.push("executed zero tests");
    if (!run.aborted) problems.push(...run.result.fileProblems);
    // Node's report has no file names (filesSeen stays empty), so only Bun and Deno can be checked.
    if (run.name !== "node" && !run.aborted) {
      const missing = files.filter((f) => !run.result.filesSeen.has(f));
      if (missing.length) problems.push(`no results for ${missing.join(", ")} (failed to load, or no tests)`);
    }
    if (typeof run.exit === "number" && run.exit !== 0 && s.failed === 0 && !run.aborted) {
      problems.push(`exit code ${run.exit} but no failing test in the report (see output above: hook/load/uncaught error?)`);
    }
  } else if (typeof run.exit === "number" && run.exit !== 0 && !run.aborted) {
    problems.push(`exit code ${run.exit}`);
  }
  return problems;
}

/** Compares the runtimes that produced tests and adds a problem to each one
 *  that lacks tests the others ran. Returns the comparison (compare.mjs). */
export function checkSameTests(runs) {
  const comparable = runs.filter((r) => r.result && r.result.tests.length > 0 && !r.aborted);
  if (comparable.length <= 1) return { mismatches: [], notes: [], missingOn: new Set() };
  const cmp = compareRuntimes(comparable);
  for (const r of comparable) if (cmp.missingOn.has(r.name)) r.problems.push("missing tests that other runtimes ran (see mismatches)");
  return cmp;
}
