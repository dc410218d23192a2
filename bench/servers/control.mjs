// Shared plumbing for every benchmark server, whatever the runtime or library.
//
// Protocol with bench/run.mjs (one line each):
//   server stdout  "READY <port>"   once listening on 127.0.0.1 (port chosen by the OS)
//   runner stdin   "gc"             force a full GC; the server answers "GC_DONE <how> heapUsed=<n> external=<n>"
//   runner stdin   EOF              the runner is gone: exit, so no server outlives it
//
// Every server serves two paths:
//   /fanout?name=<n>   each text message is broadcast as "<n>: <text>" to every /fanout client, sender included
//   /echo              each text message is sent back to its sender
import process from "node:process";
import { onRunnerLines } from "../lib/stdin.mjs";

/** The runtime this server runs on. */
export const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";

/** `--name=value` from the command line, or the fallback. */
export function arg(name, fallback) {
  const prefix = `--${name}=`;
  const found = process.argv.find((a) => a.startsWith(prefix));
  return found ? found.slice(prefix.length) : fallback;
}

/** Forces a full, synchronous GC where the runtime allows it; says how. */
export function collectGarbage() {
  if (runtime === "bun") {
    globalThis.Bun.gc(true);
    return "Bun.gc(true)";
  }
  if (typeof globalThis.gc === "function") {
    // Twice: the first pass may only queue finalizers that free more.
    globalThis.gc();
    globalThis.gc();
    return "gc()x2";
  }
  return "unavailable";
}

/** Announces the port and starts listening for runner commands on stdin. */
export function ready(port) {
  process.stdout.write(`READY ${port}\n`);
  onRunnerLines((line) => {
    if (line !== "gc") return;
    const how = collectGarbage();
    const { heapUsed, external } = process.memoryUsage();
    process.stdout.write(`GC_DONE ${how} heapUsed=${heapUsed} external=${external}\n`);
  });
}

/** What a /fanout client is called: its `name` query parameter. */
export function nameOf(url) {
  const at = url.indexOf("name=");
  if (at < 0) return "anon";
  const end = url.indexOf("&", at);
  return decodeURIComponent(url.slice(at + 5, end < 0 ? undefined : end));
}

/** Whether a request path is the fan-out endpoint (anything else on /echo). */
export function isFanout(url) {
  return url.includes("/fanout");
}
