// Deno's JUnit dialect (deno test --junit-path=...).
//
// One <testsuite> per file holding the top-level tests (a describe is a
// top-level test), plus a <testsuite name="ext:deno_node/testing.ts"> holding
// every describe/it step of every file, named "outer > inner > test". Describes
// appear as test cases too; they are recognised by having children. Control
// characters in names are written as escapes (\n, \t, \x01).

import { normFile, statusOf } from "./elements.mjs";
import { SEP } from "./names.mjs";
import { emptyResult } from "./result.mjs";

/** Undo the escapes Deno writes into names, so they compare with the others. */
export function decodeDenoEscapes(s) {
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

export function fromDeno(doc, testRoot) {
  const r = emptyResult();
  const cases = [];
  const walk = (el, suite) => {
    for (const c of el.children) {
      if (c.name === "testsuites") walk(c, suite);
      else if (c.name === "testsuite") walk(c, c.attrs.name ?? "");
      else if (c.name === "testcase") {
        // Suites named "ext:..." / "node:..." are Deno's own, not a file.
        const isFileSuite = suite && !suite.startsWith("ext:") && !suite.startsWith("node:");
        const file = isFileSuite ? normFile(suite, testRoot) : null;
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
      // A describe: not a test. Its failure only counts when no test inside
      // it failed (then it is a hook or load failure, not a test's).
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
