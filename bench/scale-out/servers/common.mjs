// Plumbing shared by the scale-out servers (switchboard and socket.io), on Node and Bun.
//
// Protocol with bench/scale-out/run.mjs (one line each):
//   server stdout  "READY <port>"     once listening on 127.0.0.1 and, with Redis, once linked to it
//   runner stdin   "stats"            the server answers "STATS <json>" (its own counters)
//   runner stdin   EOF or "exit"      exit, so no server outlives the runner
//
// Every server serves one endpoint where each connection joins the room "bench", and each text
// message a connection sends is broadcast to the whole room, sender included, on every process.
import process from "node:process";
import { onRunnerLines } from "../../lib/stdin.mjs";

export const ROOM = "bench";

/** `--name=value` from the command line, or the fallback. */
export function arg(name, fallback) {
  const prefix = `--${name}=`;
  const found = process.argv.find((a) => a.startsWith(prefix));
  return found ? found.slice(prefix.length) : fallback;
}

/** Announces the port and answers "stats" with `stats()` (a JSON-able object, or a promise of one). */
export function ready(port, stats) {
  process.stdout.write(`READY ${port}\n`);
  onRunnerLines((line) => {
    if (line !== "stats") return;
    Promise.resolve(stats()).then(
      (value) => process.stdout.write(`STATS ${JSON.stringify(value)}\n`),
      (error) => process.stdout.write(`STATS ${JSON.stringify({ error: String(error?.message ?? error) })}\n`),
    );
  });
}

/** Resolves once an ioredis client is ready (rejects after `ms`). */
export function redisReady(client, ms = 10_000) {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis not ready after ${ms} ms`)), ms);
    client.once("ready", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
