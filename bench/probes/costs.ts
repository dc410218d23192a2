// Per-call costs quoted in FINDINGS.md: utf8ByteLength of 4 KiB and of 32 B, and, on Deno, reading
// a server socket's bufferedAmount.
//
//   deno run -A bench/probes/costs.ts      bun bench/probes/costs.ts
import { utf8ByteLength } from "../../src/core/_utf8.ts";

/** Runs `f` n times after a warm-up and prints the mean time per call. */
function time(label: string, n: number, f: (i: number) => number): void {
  let sink = 0; // summed and checked, so the calls cannot be optimised away
  for (let i = 0; i < 10_000; i++) sink += f(i);
  const started = performance.now();
  for (let i = 0; i < n; i++) sink += f(i);
  const elapsed = performance.now() - started;
  console.log(`${label.padEnd(30)} ${((elapsed * 1e6) / n).toFixed(1)} ns/call${sink > 0 ? "" : " (no result?)"}`);
}

// 64 distinct 4 KiB strings, as received messages are: equal content, different objects.
const large = Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(4096, "x"));
const small = "y".repeat(32);
time("utf8ByteLength 4 KiB", 200_000, (i) => utf8ByteLength(large[i & 63]!));
time("utf8ByteLength 32 B", 2_000_000, () => utf8ByteLength(small));

interface DenoServe {
  serve(options: object, handler: (request: Request) => Response): { addr: { port: number } };
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
  exit(code: number): never;
}
const deno = (globalThis as { Deno?: DenoServe }).Deno;
if (deno) {
  const server = deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = deno.upgradeWebSocket(request);
    socket.onopen = () => {
      time("Deno socket.bufferedAmount", 1_000_000, () => socket.bufferedAmount + 1);
      deno.exit(0);
    };
    return response;
  });
  new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
}
