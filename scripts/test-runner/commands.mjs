// The command line that runs the test files on each runtime, with a JUnit
// report written to `xml`. Bun and Deno are the npm packages' binaries in the
// repo's node_modules/.bin, so the versions pinned in package.json are used.

import path from "node:path";
import { BIN_DIR } from "./config.mjs";

/** Every runtime the runner knows, in the order they run. */
export const RUNTIMES = ["node", "bun", "deno"];

function resolveTsx() {
  // Resolve tsx relative to this script (the repo), not to TEST_ROOT / cwd, so that
  // `--import` works when TEST_ROOT points outside the repo.
  try {
    return import.meta.resolve("tsx");
  } catch {
    return null;
  }
}

/** Returns { cmd, args, problem? }; problem is a runtime-level failure to
 *  report even if the run goes ahead. files are relative to the cwd. */
export function runtimeCommand(name, files, xml) {
  // Explicit "./" prefix: bun treats bare arguments as file-name filters.
  const rel = files.map((f) => `./${f}`);
  switch (name) {
    case "node": {
      const tsx = resolveTsx();
      return {
        cmd: process.execPath,
        args: [
          "--import", tsx ?? "tsx",
          "--test",
          "--test-reporter=spec", "--test-reporter-destination=stdout",
          "--test-reporter=junit", `--test-reporter-destination=${xml}`,
          ...rel,
        ],
        problem: tsx ? null : "cannot resolve the 'tsx' package from the repo (run npm ci)",
      };
    }
    case "bun":
      return {
        cmd: path.join(BIN_DIR, "bun"),
        args: ["test", "--timeout", "60000", "--reporter=junit", `--reporter-outfile=${xml}`, ...rel],
      };
    case "deno":
      // .bin/deno is the real binary once the deno package's postinstall has
      // relinked it, else its bin.cjs shim (a Node script that runs the binary
      // as a child). Either spawns as is, and the group kill reaches both.
      return {
        cmd: path.join(BIN_DIR, "deno"),
        args: [
          "test",
          "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-sys",
          `--junit-path=${xml}`,
          ...rel,
        ],
      };
    default:
      throw new Error(`unknown runtime ${name}`);
  }
}

/** The command as one printable line (arguments with spaces or quotes quoted). */
export function showCommand(cmd, args) {
  return [cmd, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(" ");
}
