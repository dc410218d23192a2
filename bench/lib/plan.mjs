// What the benchmark runs: variants (runtime x library) and scenarios with their sizes and timing,
// for the full run and for --quick.
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = path.resolve(BENCH_DIR, "..");
const BIN = path.join(REPO_DIR, "node_modules", ".bin");
const server = (file) => path.join(BENCH_DIR, "servers", file);

export const BINARIES = {
  bun: path.join(BIN, "bun"),
  deno: path.join(BIN, "deno"),
  node: process.execPath,
};

const BUN = [BINARIES.bun];
// --no-lock: do not write a deno.lock into the repository.
const DENO = [BINARIES.deno, "run", "-A", "--no-lock", "--quiet", "--v8-flags=--expose-gc"];
const NODE = [BINARIES.node, "--expose-gc"];
/**
 * switchboard on Node runs as a user's app would: compiled JavaScript, here bundled by esbuild (the
 * compiler tsup uses for dist/) with the package's target. Not under tsx: in this harness tsx's
 * loader made the same server ~25 % slower on echo (31.7k against 41.4k round trips/s at 64 x 4 KiB),
 * a cost of the dev loader that no Node user pays in production. See `buildNodeServer` in run.mjs.
 */
export const NODE_SWITCHBOARD_BUILD = {
  entry: server("switchboard.ts"),
  outfile: path.join(REPO_DIR, ".tmp", "bench", "switchboard-node.mjs"),
  target: "es2022",
};

/**
 * role: "baseline" is the runtime's raw server that ratios are taken against; "loop" is Bun's
 * second raw baseline (JS-loop fan-out), only run where broadcasting is involved.
 * separate: reported in its own table (socket.io speaks its own protocol on top of WebSocket).
 */
export const VARIANTS = [
  { id: "bun-native", runtime: "bun", lib: "raw", role: "baseline", label: "Bun.serve (native publish)", cmd: [...BUN, server("bun-raw.mjs"), "--fanout=native"] },
  { id: "bun-loop", runtime: "bun", lib: "raw-loop", role: "loop", label: "Bun.serve (JS loop)", cmd: [...BUN, server("bun-raw.mjs"), "--fanout=loop"], broadcastOnly: true },
  { id: "bun-switchboard", runtime: "bun", lib: "switchboard", label: "switchboard on Bun", cmd: [...BUN, server("switchboard.ts")] },
  { id: "bun-crossws", runtime: "bun", lib: "crossws", label: "crossws on Bun", cmd: [...BUN, server("crossws.mjs")] },
  { id: "bun-hono", runtime: "bun", lib: "hono", label: "hono/bun", cmd: [...BUN, server("hono.mjs")] },
  { id: "deno-raw", runtime: "deno", lib: "raw", role: "baseline", label: "Deno.upgradeWebSocket (JS loop)", cmd: [...DENO, server("deno-raw.mjs")] },
  { id: "deno-switchboard", runtime: "deno", lib: "switchboard", label: "switchboard on Deno", cmd: [...DENO, server("switchboard.ts")] },
  { id: "deno-crossws", runtime: "deno", lib: "crossws", label: "crossws on Deno", cmd: [...DENO, server("crossws.mjs")] },
  { id: "deno-hono", runtime: "deno", lib: "hono", label: "hono/deno", cmd: [...DENO, server("hono.mjs")] },
  { id: "node-ws", runtime: "node", lib: "raw", role: "baseline", label: "Node + ws (JS loop)", cmd: [...NODE, server("node-ws.mjs")] },
  { id: "node-switchboard", runtime: "node", lib: "switchboard", label: "switchboard on Node", cmd: [...NODE, NODE_SWITCHBOARD_BUILD.outfile], build: NODE_SWITCHBOARD_BUILD },
  { id: "node-crossws", runtime: "node", lib: "crossws", label: "crossws on Node", cmd: [...NODE, server("crossws.mjs")] },
  { id: "node-hono", runtime: "node", lib: "hono", label: "@hono/node-server", cmd: [...NODE, server("hono.mjs")] },
  { id: "node-socketio", runtime: "node", lib: "socket.io", label: "socket.io on Node", cmd: [...NODE, server("socketio.mjs")], proto: "eio", separate: true },
];

/** Scenarios that broadcast (and so run Bun's JS-loop baseline too). */
export const BROADCASTING = new Set(["fanout", "broadcast", "slow"]);

/** Messages per sender per batch so that one batch is about 65,536 deliveries. */
const perBatch = (n) => Math.max(1, Math.round(65536 / (n * n)));

/**
 * Scenarios in run order. `sizes` are the cells of one scenario; `params(size)` is the client job.
 * `limitMs(size)` bounds the client's whole run (connect, measure, GC pauses).
 */
export function scenarios(quick) {
  // Quick: a smoke run of every scenario and variant in under two minutes, not a measurement.
  const timing = quick
    ? { warmupMs: 200, windowMs: 500, windows: 1 }
    : { warmupMs: 1000, windowMs: 1000, windows: 3 };
  const measured = timing.warmupMs + timing.windowMs * timing.windows;
  return [
    {
      id: "fanout",
      title: "1. Chat fan-out",
      sizes: quick ? [16] : [16, 64, 256],
      sizeLabel: (n) => `N=${n}`,
      params: (n) => ({ clients: n, msgsPerBatch: perBatch(n), ...timing }),
      limitMs: () => measured + 20_000,
    },
    {
      id: "broadcast",
      title: "2. Server-originated broadcast",
      sizes: quick ? [1000] : [1000, 5000],
      sizeLabel: (k) => `${k} subscribers`,
      params: (k) => ({ subscribers: k, msgsPerBatch: 20, ...timing }),
      limitMs: (k) => measured + 20_000 + k * 2,
    },
    {
      id: "echo",
      title: "3. Echo latency",
      sizes: quick ? ["1x32"] : ["1x32", "1x4096", "64x32", "64x4096"],
      sizeLabel: (s) => `${s.split("x")[0]} client${s.startsWith("1x") ? "" : "s"}, ${s.split("x")[1]} B`,
      params: (s) => {
        const [clients, size] = s.split("x").map(Number);
        return quick
          ? { clients, size, warmup: 200, samples: 2000, maxMs: 2000 }
          : { clients, size, warmup: 2000, samples: 20000, maxMs: 8000 };
      },
      limitMs: () => (quick ? 15_000 : 30_000),
    },
    {
      id: "memory",
      title: "4. Idle memory per connection",
      sizes: [quick ? [1000] : [1000, 5000, 10000]],
      sizeLabel: (list) => list.join("/"),
      params: (list) => ({ base: 100, sizes: list, settleMs: quick ? 100 : 1000, sampleGapMs: quick ? 50 : 200 }),
      limitMs: (list) => 30_000 + list[list.length - 1] * 4,
    },
    {
      id: "churn",
      title: "5. Connection churn",
      sizes: [quick ? 1000 : 10000],
      sizeLabel: (c) => `${c} cycles`,
      params: (c) => ({ cycles: c, concurrency: 16, checkpointEvery: quick ? 500 : 1000, cycleTimeoutMs: 3000, settleMs: quick ? 50 : 300, sampleGapMs: quick ? 50 : 150 }),
      limitMs: (c) => 20_000 + c * 3,
    },
    {
      id: "slow",
      title: "6. Slow consumer",
      sizes: ["31+1"],
      sizeLabel: () => "31 fast + 1 paused",
      // 8 KiB lines: small chat lines would take tens of seconds to get past the kernel's socket
      // buffers (up to ~4 MiB of send buffer) and reach the server's own queue.
      params: () => ({
        fast: 31,
        size: 8192,
        msgsPerBatch: 1,
        ...timing,
        fillMs: quick ? 500 : 3000,
        drainMs: quick ? 200 : 1500,
        rssCapBytes: 1.5 * 1024 ** 3,
      }),
      limitMs: () => 2 * measured + 30_000,
    },
  ];
}

/** switchboard's default maxBufferedAmount, the slow-consumer bound. */
export const MAX_BUFFERED_AMOUNT = 4 * 1024 * 1024;
