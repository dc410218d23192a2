// Arguments and the small formatting helpers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseArgs } from "../cli.mjs";
import { fmtDuration, table } from "../format.mjs";

test("--only keeps the usual runtime order; other arguments are file filters", () => {
  assert.deepEqual(parseArgs([]), { runtimes: ["node", "bun", "deno"], filters: [], help: false });
  assert.deepEqual(parseArgs(["--only=Deno, node", "history"]), { runtimes: ["node", "deno"], filters: ["history"], help: false });
  assert.deepEqual(parseArgs(["--only", "bun", "a", "--", "--only=x", "-b"]), { runtimes: ["bun"], filters: ["a", "--only=x", "-b"], help: false });
  assert.equal(parseArgs(["-h"]).help, true);
});

test("bad arguments are errors with a message for the user", () => {
  assert.throws(() => parseArgs(["--only=node,java"]), /unknown runtime\(s\) in --only: java/);
  assert.throws(() => parseArgs(["--only"]), /--only needs a value/);
  assert.throws(() => parseArgs(["--only=,"]), /at least one runtime/);
  assert.throws(() => parseArgs(["--verbose"]), /unknown option: --verbose/);
});

test("durations and the summary table", () => {
  assert.deepEqual([null, 1234, 59_949, 60_000, 480_000, 61_500].map(fmtDuration), ["-", "1.2s", "59.9s", "1m00s", "8m00s", "1m02s"]);
  assert.deepEqual(table([["runtime", "result", "n"], ["node", "ok", 187], ["bun", "FAIL", 5]]), ["runtime  result    n", "node     ok      187", "bun      FAIL      5"]);
});
