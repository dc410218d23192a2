/**
 * The type tests of typed protocols (tests/types/*.types.ts) type-check:
 * `tsc --noEmit` on tests/types/tsconfig.json must report no error at all, so
 * a `@ts-expect-error` line that no longer errors fails here too.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runtime } from "./helpers/server.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// Types do not depend on the runtime, and tsc is a Node program: one run, under Node. Bun and Deno
// skip it under the same name, as the runner wants the same tests on every runtime.
const notNode = runtime !== "node" && "tsc runs under Node only: the types are the same on every runtime";

test("tests/types type-check with no error (every @ts-expect-error still errors)", { skip: notNode, timeout: 120_000 }, () => {
  const result = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", join(root, "tests", "types", "tsconfig.json")], {
    cwd: root,
    encoding: "utf8",
    timeout: 110_000,
  });
  assert.equal(result.error, undefined, String(result.error));
  assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
});
