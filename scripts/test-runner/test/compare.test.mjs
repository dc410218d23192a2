// Cross-runtime comparison and the runtime-level checks built on it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkSameTests, exitProblems, resultProblems } from "../checks.mjs";
import { compareRuntimes } from "../compare.mjs";
import { emptyResult } from "../junit/result.mjs";

const result = (tests, extra = {}) => ({ ...emptyResult(), ...extra, tests: tests.map(([name, status = "passed", file = null]) => ({ segs: name.split(" > "), file, status, message: "" })) });
const run = (name, tests, extra) => ({ name, problems: [], result: result(tests, extra), exit: 0 });

test("the same tests everywhere: nothing to say; whitespace and control characters do not count", () => {
  const cmp = compareRuntimes([run("node", [["a > b c"], ["d\u0001"]]), run("bun", [["a > b\nc"], ["d"]])]);
  assert.deepEqual(cmp, { mismatches: [], notes: [], missingOn: new Set() });
});

test("a test on one runtime only is a mismatch against the others", () => {
  const cmp = compareRuntimes([
    run("node", [["t"]]),
    run("bun", [["t"], ["only bun", "passed", "tests/x.test.ts"]]),
    run("deno", [["t"]]),
  ]);
  assert.deepEqual(cmp.mismatches, ["tests/x.test.ts > only bun   [on bun; missing on node, deno]"]);
  assert.deepEqual([...cmp.missingOn], ["node", "deno"]);
});

test("known reporter differences are notes, not mismatches", () => {
  const cmp = compareRuntimes([
    run("node", [["t > sub 1"], ["t > sub 2"], ["s > off", "skipped"]]),
    run("bun", [["t"]]), // bun reports node:test subtests as one test and omits describe.skip
  ]);
  assert.deepEqual(cmp.mismatches, []);
  assert.deepEqual(cmp.notes, [
    "t > sub 1 — reported as a test with/without its subtests depending on the runtime (on node; missing on bun)",
    "t > sub 2 — reported as a test with/without its subtests depending on the runtime (on node; missing on bun)",
    "s > off — skipped where present, not reported by bun (e.g. bun omits describe.skip blocks)",
    "t — reported as a test with/without its subtests depending on the runtime (on bun; missing on node)",
  ]);
});

test("checkSameTests flags the runtime that lacks tests, and skips aborted or empty runs", () => {
  const runs = [run("node", [["a"], ["b"]]), run("bun", [["a"]]), { ...run("deno", [["a"]]), aborted: true }];
  const cmp = checkSameTests(runs);
  assert.equal(cmp.mismatches.length, 1);
  assert.deepEqual(runs.map((r) => r.problems), [[], ["missing tests that other runtimes ran (see mismatches)"], []]);
  assert.deepEqual(checkSameTests([run("node", [["a"]]), run("bun", [])]).mismatches, []);
});

test("resultProblems: zero tests, missing files, an exit code no test explains", () => {
  const files = ["tests/a.test.ts", "tests/b.test.ts"];
  const seen = { filesSeen: new Set(["tests/a.test.ts"]) };
  assert.deepEqual(resultProblems(run("deno", [], seen), files), ["executed zero tests", "no results for tests/b.test.ts (failed to load, or no tests)"]);
  assert.deepEqual(resultProblems(run("node", [["a"]]), files), []); // node has no file names to check
  assert.deepEqual(resultProblems({ ...run("node", [["a"]]), exit: 1 }, files), [
    "exit code 1 but no failing test in the report (see output above: hook/load/uncaught error?)",
  ]);
  assert.deepEqual(resultProblems({ ...run("node", [["a", "failed"]]), exit: 1 }, files), []);
  assert.deepEqual(resultProblems({ name: "bun", result: null, exit: 3 }, files), ["exit code 3"]);
  // An aborted run reports its cause only (see exitProblems), not these consequences.
  assert.deepEqual(resultProblems({ ...run("deno", [], seen), exit: 1, aborted: true }, files), []);
});

test("exitProblems: spawn error, timeout, interruption, signal", () => {
  const res = { code: null, signal: null, spawnError: null, timedOut: false };
  assert.deepEqual(exitProblems(res, { interrupted: false, limitMs: 1000 }), []);
  assert.deepEqual(exitProblems({ ...res, timedOut: true, signal: "SIGTERM" }, { interrupted: false, limitMs: 480000 }), ["timed out after 8m00s (process group killed)"]);
  assert.deepEqual(exitProblems({ ...res, signal: "SIGINT" }, { interrupted: true, limitMs: 1 }), ["interrupted"]);
  assert.deepEqual(exitProblems({ ...res, signal: "SIGKILL" }, { interrupted: false, limitMs: 1 }), ["killed by SIGKILL"]);
  assert.deepEqual(exitProblems({ ...res, spawnError: new Error("EACCES") }, { interrupted: false, limitMs: 1 }), ["failed to start: EACCES"]);
});
