// The normalised form every JUnit dialect reader produces, and its counts.
//
//   tests: [{ segs, file, status: "passed" | "failed" | "skipped", message }]
//     segs = describe path + test name (see names.mjs); file is relative to
//     TEST_ROOT with "/" separators, or null when the reporter does not say.
//   extraFailures: [{ name, message }] failures not attributable to a test
//     (file failed to load, a describe-level hook failed, ...); counted as
//     failed, not compared across runtimes.
//   filesSeen: Set of files the report has results for (not known for Node).
//   fileProblems: [string] runtime-level problems found in the report.

export function emptyResult() {
  return { tests: [], extraFailures: [], filesSeen: new Set(), fileProblems: [] };
}

export function summarise(result) {
  const count = (s) => result.tests.filter((t) => t.status === s).length;
  return {
    passed: count("passed"),
    failed: count("failed") + result.extraFailures.length,
    skipped: count("skipped"),
  };
}
