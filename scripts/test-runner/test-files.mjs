// Which files are test files, and the list to run.

import fs from "node:fs";
import path from "node:path";

export const TESTS_DIR = "tests";
export const TEST_FILE_RE = /\.test\.ts$/;

/** tests/*.test.ts under testRoot (not recursive), sorted, optionally only the
 *  ones whose file name contains one of `filters`. Paths are relative to
 *  testRoot with "/" separators: that is how they are passed to the runtimes
 *  and how the reports are matched back to them. */
export function listTestFiles(testRoot, filters) {
  const dir = path.join(testRoot, TESTS_DIR);
  let names;
  try {
    names = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile() && TEST_FILE_RE.test(d.name)).map((d) => d.name);
  } catch (e) {
    if (e.code === "ENOENT") return [];
    throw e;
  }
  names.sort();
  if (filters.length) names = names.filter((n) => filters.some((f) => n.includes(f)));
  return names.map((n) => `${TESTS_DIR}/${n}`);
}
