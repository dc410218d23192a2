// The three JUnit dialects, each reduced to the same test list. The fixtures
// are trimmed copies of what Node 20, Bun 1.x and Deno 2.x write.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { readReport } from "../junit/read.mjs";
import { summarise } from "../junit/result.mjs";

const testRoot = path.resolve("/repo");
const files = ["tests/a.test.ts", "tests/b.test.ts"];
const read = (runtime, xml) => readReport(runtime, xml, { files, testRoot });
const brief = (r) => r.tests.map((t) => `${t.status} ${t.file ?? "-"} ${t.segs.join(" > ")}${t.message ? ` (${t.message})` : ""}`);

test("node: nested suites are describes; file-level entries are not tests", () => {
  const r = read("node", `<?xml version="1.0" encoding="utf-8"?>
<testsuites>
	<testsuite name="group" tests="3">
		<testcase name="says &amp;quot;hi&amp;quot;" classname="test"/>
		<testcase name="fails" classname="test"><failure type="testCodeFailure" message="boom&#10;at line 2">stack</failure></testcase>
		<testcase name="later" classname="test"><skipped type="skipped" message="not yet"/></testcase>
	</testsuite>
	<testsuite name="hooked"><failure message="before() failed"/></testsuite>
	<testcase name="${path.join(testRoot, "tests/a.test.ts")}" classname="test"><failure message="test failed"/></testcase>
	<testcase name="${path.join(testRoot, "tests/b.test.ts")}" classname="test"/>
</testsuites>`);
  assert.deepEqual(brief(r), ['passed - group > says "hi"', "failed - group > fails (boom)", "skipped - group > later"]);
  assert.deepEqual(r.extraFailures, [
    { name: "hooked", message: "before() failed" },
    { name: "tests/a.test.ts (file failed)", message: "test failed" },
  ]);
  assert.deepEqual(r.fileProblems, ["tests/b.test.ts: no tests reported"]);
  assert.equal(r.filesSeen.size, 0); // Node 20 does not say which file a test is in
  assert.deepEqual(summarise(r), { passed: 1, failed: 3, skipped: 1 });
});

test("bun: a suite per file, nested suites per describe, classname ignored", () => {
  const r = read("bun", `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="3">
  <testsuite name="tests/a.test.ts" file="tests/a.test.ts">
    <testsuite name="group" file="tests/a.test.ts" line="3">
      <testcase name="inner" classname="group" file="tests/a.test.ts" line="4" />
      <testcase name="skipped one" classname="group" file="tests/a.test.ts"><skipped /></testcase>
    </testsuite>
    <testcase name="top" classname="" file="tests/a.test.ts"><failure type="AssertionError" message="nope" /></testcase>
  </testsuite>
</testsuites>`);
  assert.deepEqual(brief(r), [
    "passed tests/a.test.ts group > inner",
    "skipped tests/a.test.ts group > skipped one",
    "failed tests/a.test.ts top (nope)",
  ]);
  assert.deepEqual([...r.filesSeen], ["tests/a.test.ts"]);
});

test("deno: steps in ext:deno_node/testing.ts get their file from the root test; describes are not tests", () => {
  const r = read("deno", `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test">
    <testsuite name="./tests/a.test.ts">
        <testcase name="group" classname="./tests/a.test.ts"><failure message="1 test step failed."/></testcase>
        <testcase name="solo\\nline" classname="./tests/a.test.ts"></testcase>
    </testsuite>
    <testsuite name="./tests/b.test.ts">
        <testcase name="hooked" classname="./tests/b.test.ts"><failure message="before failed"/></testcase>
    </testsuite>
    <testsuite name="ext:deno_node/testing.ts">
        <testcase name="group &gt; sub" classname="ext:deno_node/testing.ts"><failure message="x"/></testcase>
        <testcase name="group &gt; sub &gt; leaf" classname="ext:deno_node/testing.ts"><failure message="Uncaught AssertionError: x"/></testcase>
        <testcase name="group &gt; off" classname="ext:deno_node/testing.ts"><skipped/></testcase>
        <testcase name="hooked &gt; inner" classname="ext:deno_node/testing.ts"></testcase>
    </testsuite>
</testsuites>`);
  assert.deepEqual(brief(r), [
    "passed tests/a.test.ts solo\nline",
    "failed tests/a.test.ts group > sub > leaf (Uncaught AssertionError: x)",
    "skipped tests/a.test.ts group > off",
    "passed tests/b.test.ts hooked > inner",
  ]);
  // "group" and "group > sub" failed because a test in them did: not counted again.
  // "hooked" failed with every test in it passing: a hook, so counted once.
  assert.deepEqual(r.extraFailures, [{ name: "hooked", message: "before failed" }]);
  assert.deepEqual([...r.filesSeen].sort(), files);
});
