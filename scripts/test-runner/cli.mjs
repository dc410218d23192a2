// Command-line arguments.

import { RUNTIMES } from "./commands.mjs";

export function usage() {
  return [
    "usage: node scripts/run-tests.mjs [--only=node,bun,deno] [file-filter ...]",
    "  --only=LIST     comma-separated runtimes to run (default: node,bun,deno)",
    "  file-filter     run only tests/*.test.ts whose file name contains one of these substrings",
    "env: TEST_ROOT, TEST_RESULTS_DIR, TEST_TIMEOUT_MS",
  ].join("\n");
}

/** Returns { runtimes, filters, help }; throws an Error with a message for the
 *  user on a bad argument. --only keeps the usual order whatever order it is
 *  given in; everything after "--" is a file filter. */
export function parseArgs(argv) {
  const opts = { runtimes: [...RUNTIMES], filters: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") {
      opts.help = true;
    } else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg === "--only" ? argv[++i] : arg.slice("--only=".length);
      if (!value) throw new Error("--only needs a value, e.g. --only=node,deno");
      const list = value.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
      const unknown = list.filter((r) => !RUNTIMES.includes(r));
      if (unknown.length) throw new Error(`unknown runtime(s) in --only: ${unknown.join(", ")} (known: ${RUNTIMES.join(", ")})`);
      if (!list.length) throw new Error("--only needs at least one runtime");
      opts.runtimes = RUNTIMES.filter((r) => list.includes(r));
    } else if (arg === "--") {
      opts.filters.push(...argv.slice(i + 1));
      break;
    } else if (arg.startsWith("-")) {
      throw new Error(`unknown option: ${arg}`);
    } else {
      opts.filters.push(arg);
    }
  }
  return opts;
}
