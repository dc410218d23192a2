// Run: deno run -A bench/probes/costs.ts, or bun bench/probes/costs.ts (numbers quoted in FINDINGS.md).
// Costs per call on this runtime: utf8ByteLength of 4 KiB and 32 B, and a server socket's bufferedAmount.
import { utf8ByteLength } from "../../src/core/utf8.ts";
const big = "x".repeat(4096), small = "y".repeat(32);
function time(label: string, n: number, f: (i: number) => number) {
  let sink = 0; for (let i = 0; i < 10000; i++) sink += f(i);
  const t0 = performance.now(); for (let i = 0; i < n; i++) sink += f(i); const dt = performance.now() - t0;
  console.log(label.padEnd(34), ((dt * 1e6) / n).toFixed(1), "ns/call", sink > 0 ? "" : "!");
}
// Distinct strings, as received messages would be (same content, different objects).
const bigs = Array.from({ length: 64 }, (_, i) => (i + big).slice(String(i).length));
time("utf8ByteLength 4 KiB", 200000, (i) => utf8ByteLength(bigs[i & 63]!));
time("utf8ByteLength 32 B", 2000000, () => utf8ByteLength(small));
if ("Deno" in globalThis) {
  const D = (globalThis as any).Deno;
  const server = D.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req: Request) => {
    const { socket, response } = D.upgradeWebSocket(req);
    socket.onopen = () => {
      time("Deno socket.bufferedAmount", 1000000, () => socket.bufferedAmount + 1);
      D.exit(0);
    };
    return response;
  });
  new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
} else (globalThis as any).process?.exit?.(0);
