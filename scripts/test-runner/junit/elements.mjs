// Reading the JUnit elements every dialect shares: <testcase> outcomes,
// <testsuite>-level failures and file paths.

import path from "node:path";
import { fileURLToPath } from "node:url";

/** Outcome of a <testcase>: a <failure>/<error> child wins over <skipped>. */
export function statusOf(testcase) {
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

/** First non-blank line, capped, so a stack trace does not flood the summary. */
export function firstLine(s) {
  const line = String(s || "").split("\n").map((l) => l.trim()).find(Boolean) || "";
  return line.length > 200 ? line.slice(0, 197) + "..." : line;
}

/** A failure reported on a <testsuite> itself (e.g. a describe-level hook). */
export function suiteFailure(suite, label) {
  const f = suite.children.find((c) => c.name === "failure" || c.name === "error");
  return f ? { name: label, message: firstLine(f.attrs.message || f.text) } : null;
}

/** A report's file path (absolute, file:// URL or relative) as "tests/x.test.ts"
 *  relative to testRoot, so the same file reads the same on every runtime. */
export function normFile(p, testRoot) {
  if (!p) return null;
  let f = p;
  if (f.startsWith("file://")) {
    try {
      f = fileURLToPath(f);
    } catch {
      /* keep it as written */
    }
  }
  if (path.isAbsolute(f)) f = path.relative(testRoot, f);
  return f.replace(/\\/g, "/").replace(/^(\.\/)+/, "");
}
