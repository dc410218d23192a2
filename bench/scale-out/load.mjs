// The scale-out load generator: one process (Bun by default), pinned by the runner to the core the
// servers and Redis do not use. It reads its job from BENCH_CONFIG (JSON), opens `clients`
// connections spread round robin over the servers (all in one room), and makes the first connection
// of each server a publisher that sends `rate / servers` messages a second (open loop: every tick
// sends what the clock says is owed, in one write). Every message reaches every client, so the
// offered load is rate x clients deliveries a second, whatever the number of servers.
//
// It measures, over `windows` windows after a warm-up: messages delivered at the clients (counted
// from frame headers), each server's CPU (utime + stime from /proc/<pid>/stat), Redis's CPU
// (INFO cpu, used_cpu_user + used_cpu_sys, and /proc/<pid>/stat as a cross-check), its own CPU, and
// the publish-to-delivery latency seen by two probe connections per server (the publisher, whose
// messages take the local path or the round trip through Redis, and one more). Prints one line
// "RESULT <json>". Every loop is bounded in count and time; on EOF of stdin it exits.
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import process from "node:process";
import { onRunnerLines } from "../lib/stdin.mjs";
import { clientFrame, concat, OP_TEXT, openConnection } from "../load/wire.mjs";

const config = JSON.parse(process.env.BENCH_CONFIG ?? "{}");
const HOST = "127.0.0.1";
const EIO = config.proto === "eio";
const SERVERS = config.servers; // [{ port, pid }]
const CLK_TCK = config.clkTck ?? 100;
const P = config.params;

onRunnerLines(() => {});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function ticks(pid) {
  return cpuTicks(pid)?.total ?? null;
}

/** utime and stime of a process in clock ticks (/proc/<pid>/stat), or null once it is gone. */
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(f[11]), system: Number(f[12]), total: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/** Read and write system calls of a process so far (/proc/<pid>/io: syscr, syscw), or null. */
function io(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/io`, "latin1");
    return { reads: Number(/syscr: (\d+)/.exec(text)[1]), writes: Number(/syscw: (\d+)/.exec(text)[1]) };
  } catch {
    return null;
  }
}

/** Voluntary context switches of a process's main thread. */
function mainSleeps(pid) {
  try {
    const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Times a process has gone to sleep (voluntary context switches: an event loop waiting for I/O), summed over its threads. */
function sleeps(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((n, tid) => {
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "latin1"));
      return n + (m ? Number(m[1]) : 0);
    }, 0);
  } catch {
    return null;
  }
}

/** One command to Redis over a fresh connection (inline protocol); resolves with the bulk reply's text. */
function redisInfo(port, section = "cpu", timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    const chunks = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("INFO timed out"));
    }, timeoutMs);
    sock.on("connect", () => sock.write(`INFO ${section}\r\n`));
    sock.on("data", (chunk) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString("latin1");
      const m = /^\$(\d+)\r\n/.exec(text);
      if (m && text.length >= m[0].length + Number(m[1])) {
        clearTimeout(timer);
        sock.end();
        resolve(text.slice(m[0].length, m[0].length + Number(m[1])));
      } else if (text.startsWith("-")) {
        clearTimeout(timer);
        sock.destroy();
        reject(new Error(text.trim()));
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function redisCpu() {
  if (!config.redis) return null;
  const info = await redisInfo(config.redis.port);
  const get = (k) => Number(new RegExp(`^${k}:([\\d.]+)`, "m").exec(info)?.[1] ?? NaN);
  return { info: get("used_cpu_user") + get("used_cpu_sys"), ticks: ticks(config.redis.pid) };
}

// --- Connections --------------------------------------------------------------------------------

const path = EIO ? "/socket.io/?EIO=4&transport=websocket" : "/room";

function open(index, port, timeoutMs = 10_000) {
  return openConnection({ index, host: HOST, port, path, eio: EIO, timeoutMs });
}

async function openAll(n) {
  const conns = [];
  for (let at = 0; at < n; at += 100) {
    const wave = [];
    for (let i = at; i < Math.min(n, at + 100); i++) wave.push(open(i, SERVERS[i % SERVERS.length].port));
    conns.push(...(await Promise.all(wave)));
  }
  return conns;
}

// --- Messages: "@<ms since the generator started, 3 decimals>@<padding>" -----------------------

const PAD = "x".repeat(Math.max(0, P.textBytes - 14));
const AT = 64; // "@"
const decoder = new TextDecoder();
const latencies = [];
let measuring = false;

/** Latency of a captured message: its timestamp is between the first two "@". */
function probe(conn, _op, cap) {
  if (!measuring || cap === null) return;
  const a = cap.indexOf(AT);
  const b = a < 0 ? -1 : cap.indexOf(AT, a + 1);
  if (b < 0) return;
  const sent = Number(decoder.decode(cap.subarray(a + 1, b)));
  if (latencies.length < 200_000) latencies.push(performance.now() - sent);
}

function messageFrame(now) {
  const text = `@${now.toFixed(3)}@${PAD}`;
  return clientFrame(OP_TEXT, EIO ? `42${JSON.stringify(["m", text])}` : text);
}

class Publisher {
  constructor(conns, rate) {
    this.conns = conns;
    this.perConn = rate / conns.length;
    this.sent = 0;
    this.skipped = 0;
    this.t0 = 0;
    this.owed = 0;
  }

  start() {
    this.t0 = performance.now();
    this.timer = setInterval(() => this.tick(), P.tickMs);
  }

  tick() {
    const now = performance.now();
    const due = Math.floor(((now - this.t0) / 1000) * this.perConn);
    let n = due - this.owed;
    // A generator that fell behind by more than a second's worth drops the rest (counted), rather than bursting.
    if (n > this.perConn) {
      this.skipped += (n - Math.ceil(this.perConn)) * this.conns.length;
      n = Math.ceil(this.perConn);
    }
    this.owed = due;
    if (n <= 0) return;
    for (const conn of this.conns) {
      const frames = [];
      for (let i = 0; i < n; i++) frames.push(messageFrame(now));
      conn.write(frames.length === 1 ? frames[0] : concat(frames));
    }
    this.sent += n * this.conns.length;
  }

  stop() {
    clearInterval(this.timer);
  }
}

function sumIo(a, b, field) {
  if (a.some((x) => x === null) || b.some((x) => x === null)) return null;
  const sum = a.reduce((n, x, i) => n + b[i][field] - x[field], 0);
  return sum > 0 ? sum : null;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? null : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null;
}

// --- The run ------------------------------------------------------------------------------------

async function run() {
  const n = P.clients;
  const conns = await openAll(n);
  const publishers = conns.slice(0, SERVERS.length);
  const probes = conns.slice(0, 2 * SERVERS.length);
  for (const c of probes) {
    c.captureMax = 96;
    c.onMessage = probe;
  }
  const delivered = () => {
    let sum = 0;
    for (const c of conns) sum += c.msgs;
    return sum;
  };
  await sleep(P.settleMs);
  // What the clients received before any message (Engine.IO's open and connect packets) is not a delivery.
  const before = delivered();
  const publisher = new Publisher(publishers, P.rate);
  publisher.start();
  await sleep(P.warmupMs);
  const starved = conns.filter((c) => c.msgs === 0).length;
  if (starved > 0) throw new Error(`${starved} of ${n} clients received nothing during the warm-up`);
  const snapshot = async () => {
    const redis = await redisCpu();
    return {
      t: performance.now(),
      delivered: delivered(),
      sent: publisher.sent,
      servers: SERVERS.map((s) => ticks(s.pid)),
      serverSystem: SERVERS.map((s) => cpuTicks(s.pid)?.system ?? null),
      io: SERVERS.map((s) => (config.serverRuntime === "bun" ? null : io(s.pid))),
      sleeps: SERVERS.map((s) => sleeps(s.pid)),
      mainSleeps: SERVERS.map((s) => mainSleeps(s.pid)),
      redisIo: config.redis ? io(config.redis.pid) : null,
      redis,
      client: process.cpuUsage(),
    };
  };
  measuring = true;
  const snaps = [await snapshot()];
  for (let w = 0; w < P.windows; w++) {
    await sleep(P.windowMs);
    snaps.push(await snapshot());
    if (conns.some((c) => c.ended)) throw new Error(`${conns.filter((c) => c.ended).length} connections closed during the run`);
  }
  measuring = false;
  publisher.stop();
  // What was sent in the windows and is still in flight arrives now: wait until deliveries stop.
  let last = -1;
  const drainUntil = performance.now() + P.drainMs;
  while (performance.now() < drainUntil) {
    const now = delivered();
    if (now === last) break;
    last = now;
    await sleep(100);
  }
  const first = snaps[0];
  const end = snaps[snaps.length - 1];
  const seconds = (end.t - first.t) / 1000;
  const rates = snaps.slice(1).map((s, i) => ((s.delivered - snaps[i].delivered) * 1000) / (s.t - snaps[i].t));
  const serverCpu = SERVERS.map((_, i) => (end.servers[i] - first.servers[i]) / CLK_TCK);
  const sent = end.sent - first.sent;
  const deliveredInWindows = end.delivered - first.delivered;
  const sorted = latencies.sort((a, b) => a - b);
  const clientCpu = (end.client.user + end.client.system - first.client.user - first.client.system) / 1e6;
  return {
    clients: n,
    servers: SERVERS.length,
    rate: P.rate,
    seconds,
    sent,
    offeredPerSec: (sent * n) / seconds,
    delivered: deliveredInWindows,
    deliveredPerSec: deliveredInWindows / seconds,
    windowRates: rates.map(Math.round),
    medianWindowRate: median(rates),
    // Everything received once the drain settled, against everything sent (warm-up included) times
    // the clients: under 1 when messages were lost or still queued after the drain.
    deliveredShare: (delivered() - before) / (publisher.sent * n),
    totalSent: publisher.sent,
    skippedByGenerator: publisher.skipped,
    serverCpu,
    serverCpuSec: serverCpu.reduce((a, b) => a + b, 0),
    // Of which in the kernel (stime): system calls, and loopback TCP processed in the sender's context.
    serverSystemSec: end.serverSystem.every((x) => x !== null) ? end.serverSystem.reduce((n, x, i) => n + x - first.serverSystem[i], 0) / CLK_TCK : null,
    // write(2)/writev(2) and read(2) calls of the servers and of Redis in the windows. Bun sends with
    // send(2), which /proc/<pid>/io does not count: null there (and for any process it cannot read).
    serverWrites: sumIo(first.io, end.io, "writes"),
    serverReads: sumIo(first.io, end.io, "reads"),
    // Wake-ups: voluntary context switches of the servers' main threads (their event loops) and of all their threads.
    serverMainWakeups: first.mainSleeps.every((x) => x !== null) ? end.mainSleeps.reduce((n, x, i) => n + x - first.mainSleeps[i], 0) : null,
    serverWakeups: first.sleeps.every((x) => x !== null) ? end.sleeps.reduce((n, x, i) => n + x - first.sleeps[i], 0) : null,
    redisWrites: first.redisIo && end.redisIo ? end.redisIo.writes - first.redisIo.writes : null,
    redisReads: first.redisIo && end.redisIo ? end.redisIo.reads - first.redisIo.reads : null,
    redisCpuSec: first.redis ? end.redis.info - first.redis.info : null,
    redisCpuSecProc: first.redis && first.redis.ticks !== null ? (end.redis.ticks - first.redis.ticks) / CLK_TCK : null,
    clientCpuSec: clientCpu,
    latencyMs: { samples: sorted.length, p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1] : null },
  };
}

const hardStop = setTimeout(() => {
  process.stdout.write(`RESULT ${JSON.stringify({ error: `load generator time limit of ${config.timeLimitMs} ms reached` })}\n`);
  process.exit(2);
}, config.timeLimitMs ?? 60_000);

try {
  const result = await run();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} catch (error) {
  process.stdout.write(`RESULT ${JSON.stringify({ error: String(error?.message ?? error) })}\n`);
}
clearTimeout(hardStop);
// Stays up until the runner says "exit" (or closes stdin), after it has stopped the servers.
