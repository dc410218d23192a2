// Heap held by WebSockets that ended without a close frame, on Deno, for the README's capability
// table. Deno keeps such a socket until its idle timer fires (idleTimeout/2 = pingInterval later),
// and never cancels that timer on this path; what matters is how much each one holds meanwhile.
//
//   deno run -A --v8-flags=--expose-gc bench/probes/deno-dropped-sockets.ts [N=3000] [pingIntervalMs=30000]
//
// Opens N upgrades over raw TCP from this process (32 at a time), cuts each TCP connection right
// after the 101, then reports the heap after GC and how many sockets Deno still holds.
import { WebSocketController } from "../../mod.ts";
import { serve } from "../../src/adapters/deno/mod.ts";

const N = Number(Deno.args[0] ?? 3000);
const pingInterval = Number(Deno.args[1] ?? 30_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

let created = 0;
let freed = 0;
const registry = new FinalizationRegistry(() => void freed++);
const upgrade = Deno.upgradeWebSocket;
Deno.upgradeWebSocket = (request, options) => {
  const upgraded = upgrade(request, options);
  created++;
  registry.register(upgraded.socket, 0);
  return upgraded;
};

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Deno.memoryUsage().heapUsed;
}

const server = await serve({ port: 0, routes: { "/ws": new WebSocketController({ pingInterval }) } });
const request = (key: string) =>
  new TextEncoder().encode(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);

/** One upgrade whose TCP connection is cut as soon as the 101 arrives. */
async function dropOne(): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(request(btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))))));
  const buffer = new Uint8Array(1024);
  await conn.read(buffer);
  conn.close();
}

const before = await heapAfterGc();
let started = 0;
await Promise.all(Array.from({ length: 32 }, async () => {
  while (started < N) {
    started++;
    await dropOne();
  }
}));
await new Promise((resolve) => setTimeout(resolve, 500)); // let the close events run
const after = await heapAfterGc();
console.log(JSON.stringify({
  sockets: N,
  pingInterval,
  stillHeld: created - freed,
  heapHeldPerSocket: Math.round((after - before) / N),
  heapBeforeMiB: +(before / 2 ** 20).toFixed(1),
  heapAfterMiB: +(after / 2 ** 20).toFixed(1),
}));
await server.stop();
