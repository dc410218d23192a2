// Node 20's JUnit dialect (node --test --test-reporter=junit).
//
// describe blocks (and tests with subtests) become nested <testsuite>s, tests
// are <testcase classname="test">, with no file information at all. A file
// that crashed or had no tests is a top-level <testcase> named by its absolute
// path. Node 20 double-escapes '"' (as &amp;quot;).

import path from "node:path";
import { statusOf, suiteFailure } from "./elements.mjs";
import { SEP } from "./names.mjs";
import { emptyResult } from "./result.mjs";

/** files: the relative paths that were run, to recognise file-level entries. */
export function fromNode(doc, files, testRoot) {
  const r = emptyResult();
  const abs = new Map(files.map((f) => [path.resolve(testRoot, f), f]));
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
        const file = segs.length === 0 ? abs.get(path.resolve(testRoot, name)) ?? null : null;
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
