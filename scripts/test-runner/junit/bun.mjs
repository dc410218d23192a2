// Bun's JUnit dialect (bun test --reporter=junit).
//
// <testsuite name=file file=file> per file, nested <testsuite> per describe
// (classname lists the describes innermost-first, so it is ignored). Files that
// failed to load are simply absent. describe.skip and empty describes are absent.

import { TEST_FILE_RE } from "../test-files.mjs";
import { normFile, statusOf, suiteFailure } from "./elements.mjs";
import { SEP } from "./names.mjs";
import { emptyResult } from "./result.mjs";

export function fromBun(doc, testRoot) {
  const r = emptyResult();
  const norm = (p) => normFile(p, testRoot);
  const walk = (el, segs, file, depth) => {
    for (const c of el.children) {
      if (c.name === "testsuites") walk(c, segs, file, depth);
      else if (c.name === "testsuite") {
        if (depth === 0 && (c.attrs.file !== undefined || TEST_FILE_RE.test(c.attrs.name || ""))) {
          // A file's suite: its name is the file, not a describe.
          const f = norm(c.attrs.file || c.attrs.name);
          r.filesSeen.add(f);
          walk(c, [], f, depth + 1);
        } else {
          const next = [...segs, c.attrs.name ?? ""];
          const sf = suiteFailure(c, next.join(SEP));
          if (sf) r.extraFailures.push(sf);
          walk(c, next, file ?? norm(c.attrs.file), depth + 1);
        }
      } else if (c.name === "testcase") {
        const { status, message } = statusOf(c);
        r.tests.push({ segs: [...segs, c.attrs.name ?? ""], file: file ?? norm(c.attrs.file), status, message });
      }
    }
  };
  walk(doc, [], null, 0);
  return r;
}
