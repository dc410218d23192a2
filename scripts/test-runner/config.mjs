// Paths and limits, from the environment:
//   TEST_ROOT         directory holding tests/ (default: the repo root)
//   TEST_RESULTS_DIR  where the JUnit files go (default: <TEST_ROOT>/.test-results)
//   TEST_TIMEOUT_MS   wall-clock limit per runtime (default: 480000 = 8 minutes)

import path from "node:path";
import { fileURLToPath } from "node:url";
import { err } from "./output.mjs";

/** This repo (two levels up from here), whatever TEST_ROOT says: the runtimes
 *  and tsx always come from its node_modules. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const TEST_ROOT = path.resolve(process.env.TEST_ROOT || REPO_ROOT);
export const RESULTS_DIR = path.resolve(process.env.TEST_RESULTS_DIR || path.join(TEST_ROOT, ".test-results"));
export const BIN_DIR = path.join(REPO_ROOT, "node_modules", ".bin");

export const DEFAULT_TIMEOUT_MS = 8 * 60 * 1000;

/** TEST_TIMEOUT_MS if it is a positive number; otherwise the default (with a
 *  warning when it was set to something else, rather than failing the run). */
export function timeoutMs(raw = process.env.TEST_TIMEOUT_MS) {
  if (raw === undefined || raw === "") return DEFAULT_TIMEOUT_MS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    err(`warning: ignoring invalid TEST_TIMEOUT_MS=${JSON.stringify(raw)}, using ${DEFAULT_TIMEOUT_MS}`);
    return DEFAULT_TIMEOUT_MS;
  }
  return n;
}
