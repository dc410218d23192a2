#!/usr/bin/env node
// The scale-out bench: switchboard's RedisEngine (recorded and unrecorded broadcasts) and socket.io's
// two Redis adapters, on one, two and three server processes sharing one Redis, under the same
// load: `clients` connections in one room, spread over the processes, and a fixed rate of messages
// published, each delivered to every client. The reference is one switchboard process without an
// engine (and one socket.io process with its in-memory adapter).
//
//   node bench/scale-out/run.mjs                 full run: 3 repetitions of 21 cells (about 10 minutes on 2 cores)
//   node bench/scale-out/run.mjs --quick         smoke run: 1 repetition, short windows (about 2 minutes)
//   node bench/scale-out/run.mjs --variants=sb-recorded,sio-streams --procs=1,3 --reps=1
//
// Options:
//   --quick                 1 repetition, short windows; writes results/<date>-quick.{json,md}, leaves RESULTS.md alone
//   --reps=N                repetitions (default 3, quick 1)
//   --variants=a,b          variant ids (default: all; see VARIANTS below)
//   --procs=1,2,3           server processes for the Redis variants (default 1,2,3)
//   --runtimes=node,bun     runtimes of the switchboard servers (default node,bun; socket.io runs on Node)
//   --rate=R                messages published per second, all servers together (default 400)
//   --clients=N             client connections, all in the room (default 200)
//   --client=bun|node       runtime of the load generator (default bun)
//   --warmup=SECONDS        warm-up before the windows (default 2.5, quick 1)
//   --redis-cpu=0|1         the CPU redis-server is pinned to (default 0, with the servers; 1 puts it with the load generator)
//   --spread                server i pinned to CPU i % 2 instead of CPU 0 (an experiment: the servers alternate between the
//                           cores, the odd ones beside the load generator and Redis is where --redis-cpu says)
//   --timeout=SECONDS       global time limit (default 1200, quick 300)
//   --no-report             write the JSON only
//   --label=TEXT            stored in the JSON and shown in the report
//
// Layout: redis-server and every server pinned to CPU 0, the load generator to CPU 1 (taskset), all
// on 127.0.0.1. Redis is started by this runner for each cell, on a free port, with
// `--save "" --appendonly no`. Every process is started and stopped by its pid; one global timeout.
// Before each cell the runner waits (up to 5 s) for both cores to be quiet; the cell records how
// long, and other processes' share of each core while it ran (flag "noisy" above 10 %).
// SCALE_OUT_STDERR=1 prints each server's stderr after its cell (for debugging a server);
// SCALE_OUT_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" adds flags to every Node server (see
// probes/profile-summary.mjs).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Child, commandOutput, cpuCounters, killAll, processTicks } from "../lib/procs.mjs";
import { readFindings, renderConsole, renderMarkdown, summarise } from "./report.mjs";
import { resultsFile } from "../lib/results-file.mjs";
import { usageOf } from "../lib/usage.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.resolve(HERE, "..", "..");
const BIN = path.join(REPO_DIR, "node_modules", ".bin");
const BUN = path.join(BIN, "bun");
const NODE = process.execPath;
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const NOISY_FOREIGN_CPU = 0.1;
const CLK_TCK = Number(commandOutput("getconf", ["CLK_TCK"]) ?? 100);
const REDIS_SERVER = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => existsSync(p)) ?? "redis-server";

/** switchboard's server compiled for Node as a user's app runs it (as bench/lib/plan.mjs does for the main bench). */
const NODE_BUILD = {
  entry: path.join(HERE, "servers", "switchboard.ts"),
  outfile: path.join(REPO_DIR, ".tmp", "bench", "scale-out-switchboard-node.mjs"),
  target: "es2022",
};

/**
 * lib: switchboard or socket.io; redis: whether it needs Redis; procs: "one" (P = 1 only) or "many".
 * pair: the socket.io variant a switchboard variant is compared with, per CPU-second.
 */
/** Extra flags for every Node server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (SCALE_OUT_NODE_FLAGS). */
const NODE_FLAGS = (process.env.SCALE_OUT_NODE_FLAGS ?? "").split(" ").filter(Boolean);

function variants(runtimes) {
  const sbCmd = (runtime, mode) => (redisPort) =>
    runtime === "bun"
      ? [BUN, path.join(HERE, "servers", "switchboard.ts"), `--mode=${mode}`, `--redis-port=${redisPort}`]
      : [NODE, ...NODE_FLAGS, NODE_BUILD.outfile, `--mode=${mode}`, `--redis-port=${redisPort}`];
  const sioCmd = (adapter) => (redisPort) => [NODE, ...NODE_FLAGS, path.join(HERE, "servers", "socketio.mjs"), `--adapter=${adapter}`, `--redis-port=${redisPort}`];
  const out = [];
  for (const runtime of ["node", "bun"].filter((r) => runtimes.includes(r))) {
    const p = runtime === "node" ? "" : "bun-";
    out.push(
      { id: `${p}sb-local`, runtime, lib: "switchboard", redis: false, procs: "one", label: `switchboard, no engine${runtime === "bun" ? " (Bun)" : ""}`, proto: "ws", pair: runtime === "node" ? "sio-local" : undefined, cmd: sbCmd(runtime, "local") },
      { id: `${p}sb-unrecorded`, runtime, lib: "switchboard", redis: true, procs: "many", label: `switchboard + RedisEngine, unrecorded${runtime === "bun" ? " (Bun)" : ""}`, proto: "ws", pair: "sio-redis", cmd: sbCmd(runtime, "unrecorded") },
      { id: `${p}sb-recorded`, runtime, lib: "switchboard", redis: true, procs: "many", label: `switchboard + RedisEngine, recorded${runtime === "bun" ? " (Bun)" : ""}`, proto: "ws", pair: "sio-streams", cmd: sbCmd(runtime, "recorded") },
    );
  }
  out.push(
    { id: "sio-local", runtime: "node", lib: "socket.io", redis: false, procs: "one", label: "socket.io, in-memory adapter", proto: "eio", cmd: sioCmd("local") },
    { id: "sio-redis", runtime: "node", lib: "socket.io", redis: true, procs: "many", label: "socket.io + @socket.io/redis-adapter", proto: "eio", cmd: sioCmd("redis") },
    { id: "sio-streams", runtime: "node", lib: "socket.io", redis: true, procs: "many", label: "socket.io + @socket.io/redis-streams-adapter", proto: "eio", cmd: sioCmd("streams") },
  );
  return out;
}

// --- Options ------------------------------------------------------------------------------------

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { quick: false, reps: undefined, variants: null, procs: [1, 2, 3], runtimes: ["node", "bun"], rate: 400, clients: 200, client: "bun", redisCpu: SERVER_CPU, timeout: undefined, report: true, label: "" };
  const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
  for (const a of argv) {
    const eq = a.indexOf("=");
    const key = a.startsWith("--") ? a.slice(2, eq < 0 ? undefined : eq) : a;
    const value = eq < 0 ? "" : a.slice(eq + 1);
    switch (key) {
      case "quick": opts.quick = true; break;
      case "reps": opts.reps = Number(value); break;
      case "variants": opts.variants = list(value); break;
      case "procs": opts.procs = list(value).map(Number); break;
      case "runtimes": opts.runtimes = list(value); break;
      case "rate": opts.rate = Number(value); break;
      case "clients": opts.clients = Number(value); break;
      case "client": opts.client = value; break;
      case "redis-cpu": opts.redisCpu = Number(value); break;
      case "warmup": opts.warmupMs = Number(value) * 1000; break;
      case "spread": opts.spread = true; break;
      case "timeout": opts.timeout = Number(value); break;
      case "no-report": opts.report = false; break;
      case "label": opts.label = value; break;
      case "help": case "h":
        console.log(usageOf(import.meta.url));
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown option ${a} (see --help)`);
    }
  }
  opts.reps ??= opts.quick ? 1 : 3;
  opts.timeout ??= opts.quick ? 300 : 1200;
  if (!Number.isInteger(opts.reps) || opts.reps < 1 || opts.reps > 20) throw new UsageError(`--reps must be 1..20: got ${opts.reps}`);
  if (!opts.procs.every((p) => [1, 2, 3, 4].includes(p))) throw new UsageError("--procs must be among 1,2,3,4");
  if (!(opts.rate > 0 && opts.rate <= 20_000)) throw new UsageError("--rate must be in (0, 20000]");
  if (!(Number.isInteger(opts.clients) && opts.clients >= 8 && opts.clients <= 5000)) throw new UsageError("--clients must be 8..5000");
  if (!["bun", "node"].includes(opts.client)) throw new UsageError("--client must be bun or node");
  if (![0, 1].includes(opts.redisCpu)) throw new UsageError("--redis-cpu must be 0 or 1");
  if (opts.warmupMs !== undefined && !(opts.warmupMs >= 0 && opts.warmupMs <= 60_000)) throw new UsageError("--warmup must be 0..60 seconds");
  if (!opts.runtimes.every((r) => ["node", "bun"].includes(r))) throw new UsageError("--runtimes must be among node,bun");
  return opts;
}

function timing(quick, warmupMs) {
  const t = quick
    ? { settleMs: 300, warmupMs: 1000, windowMs: 1000, windows: 2, drainMs: 1500, tickMs: 5, textBytes: 48 }
    : { settleMs: 500, warmupMs: 2500, windowMs: 1000, windows: 3, drainMs: 2000, tickMs: 5, textBytes: 48 };
  return warmupMs === undefined ? t : { ...t, warmupMs };
}

// --- Processes ------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** redis-server on CPU 0, a free port on 127.0.0.1, no persistence; retried when another process takes the port first. */
async function startRedis(cpu) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = new Child([REDIS_SERVER, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "notice"], {
      cpu,
      cwd: os.tmpdir(),
      name: "redis-server",
    });
    try {
      await child.waitFor(/Ready to accept connections/, 10_000, "Ready to accept connections");
      return { child, port };
    } catch (error) {
      await child.kill();
      if (attempt >= 5) throw new Error(`redis-server did not start: ${error.message}`);
    }
  }
}

async function buildNodeServer() {
  const { build } = await import("esbuild");
  mkdirSync(path.dirname(NODE_BUILD.outfile), { recursive: true });
  await build({ entryPoints: [NODE_BUILD.entry], outfile: NODE_BUILD.outfile, bundle: true, format: "esm", platform: "node", target: NODE_BUILD.target, packages: "external", logLevel: "warning" });
}

/**
 * Waits (up to `maxMs`) until the machine is quiet: other processes below `QUIET_BELOW` of a core
 * on each CPU over half a second, with none of this bench's processes running. Returns the ms waited.
 */
const QUIET_BELOW = 0.15;
async function waitQuiet(maxMs) {
  const t0 = Date.now();
  for (;;) {
    const a = cpuCounters();
    await sleep(500);
    const b = cpuCounters();
    const busy = (cpu) => {
      const d = (f) => (b[cpu]?.[f] ?? 0) - (a[cpu]?.[f] ?? 0);
      return d("busy") / Math.max(1, d("busy") + d("idle") + d("iowait") + d("steal"));
    };
    const quiet = busy("cpu0") < QUIET_BELOW && busy("cpu1") < QUIET_BELOW;
    if (quiet || Date.now() - t0 > maxMs) return { waitedMs: Date.now() - t0, quiet };
  }
}

// --- One cell: Redis, P servers, one load generator ---------------------------------------------------

async function runCell(variant, procs, rep, opts) {
  const before = await waitQuiet(opts.quick ? 3_000 : 5_000);
  const started = Date.now();
  const cpus0 = cpuCounters();
  const cell = { variant: variant.id, lib: variant.lib, runtime: variant.runtime, procs, rep, result: null, error: null, serverStats: [], noise: null, flags: [] };
  let redis;
  const servers = [];
  let client;
  try {
    if (variant.redis) redis = await startRedis(opts.redisCpu);
    for (let i = 0; i < procs; i++) {
      servers.push(new Child(variant.cmd(redis?.port ?? 0), { cpu: opts.spread ? i % 2 : SERVER_CPU, cwd: REPO_DIR, name: `server ${variant.id} #${i + 1}` }));
    }
    const ports = await Promise.all(servers.map((s) => s.waitFor(/^READY (\d+)$/, 30_000, "READY <port>").then((m) => Number(m[1]))));
    const t = timing(opts.quick, opts.warmupMs);
    const config = {
      proto: variant.proto,
      serverRuntime: variant.runtime,
      servers: servers.map((s, i) => ({ pid: s.pid, port: ports[i] })),
      redis: redis ? { port: redis.port, pid: redis.child.pid } : null,
      clkTck: CLK_TCK,
      params: { clients: opts.clients, rate: opts.rate, ...t },
      timeLimitMs: t.settleMs + t.warmupMs + t.windowMs * t.windows + t.drainMs + 30_000,
    };
    const cmd = opts.client === "bun" ? [BUN, path.join(HERE, "load.mjs")] : [NODE, path.join(HERE, "load.mjs")];
    client = new Child(cmd, { cpu: CLIENT_CPU, cwd: REPO_DIR, env: { BENCH_CONFIG: JSON.stringify(config) }, name: "load generator" });
    const m = await client.waitFor(/^RESULT (.*)$/, config.timeLimitMs + 5_000, "RESULT");
    const result = JSON.parse(m[1]);
    if (result.error) cell.error = result.error;
    else cell.result = result;
    for (const s of servers) {
      const answer = s.waitFor(/^STATS (.*)$/, 3_000, "STATS").then((x) => JSON.parse(x[1]), () => null);
      s.send("stats");
      cell.serverStats.push(await answer);
    }
  } catch (error) {
    cell.error = error.message;
  }
  const redisTicks = redis ? processTicks(redis.child.pid) ?? 0 : 0;
  const ownTicks = servers.map((s) => processTicks(s.pid) ?? 0).reduce((a, b) => a + b, 0) + (opts.redisCpu === SERVER_CPU ? redisTicks : 0);
  const clientTicks = client ? (processTicks(client.pid) ?? 0) + (opts.redisCpu === CLIENT_CPU ? redisTicks : 0) : null;
  for (const s of servers) if (!s.running) cell.error ??= `${s.name} exited with ${s.exitCode}: ${s.stderrTail.trim().slice(-400)}`;
  if (process.env.SCALE_OUT_STDERR) for (const s of servers) console.error(`--- ${s.name}\n${s.stderrTail}`);
  if (cell.error) cell.stderr = servers.map((s) => s.stderrTail.trim().slice(-400)).filter(Boolean).join("\n---\n") || undefined;
  // Servers first (they close the connections, so TIME_WAIT lands on their throwaway ports), then the generator, then Redis.
  // Asked to exit first (so that a profile is written), killed by pid after a second.
  for (const s of servers) s.send("exit");
  await Promise.race([Promise.all(servers.map((s) => s.exited)), sleep(NODE_FLAGS.length ? 10_000 : 1000)]);
  await Promise.all(servers.map((s) => s.kill()));
  if (client) {
    client.send("exit");
    await Promise.race([client.exited, sleep(2000)]);
    await client.kill();
    if (cell.error && client.stderrTail.trim()) cell.clientStderr = client.stderrTail.trim().slice(-800);
  }
  if (redis) await redis.child.kill();
  const cpus1 = cpuCounters();
  const wall = (Date.now() - started) / 1000;
  const delta = (cpu, field) => (cpus1[cpu]?.[field] ?? 0) - (cpus0[cpu]?.[field] ?? 0);
  const total = (cpu) => delta(cpu, "busy") + delta(cpu, "idle") + delta(cpu, "iowait") + delta(cpu, "steal");
  const foreign = (cpu, own) => Number(Math.max(0, (delta(`cpu${cpu}`, "busy") - (own ?? 0)) / Math.max(1, total(`cpu${cpu}`))).toFixed(3));
  cell.wall = Number(wall.toFixed(2));
  cell.noise = { waitedForQuietMs: before.waitedMs, quietBefore: before.quiet, serverCoreForeign: foreign(SERVER_CPU, ownTicks), clientCoreForeign: foreign(CLIENT_CPU, clientTicks), steal: Number((delta("cpu", "steal") / Math.max(1, total("cpu"))).toFixed(3)) };
  if (cell.noise.serverCoreForeign > NOISY_FOREIGN_CPU || cell.noise.clientCoreForeign > NOISY_FOREIGN_CPU) cell.flags.push("noisy");
  const r = cell.result;
  if (r) {
    if (r.deliveredShare < 0.99) cell.flags.push("behind");
    if (r.clientCpuSec / r.seconds > 0.9) cell.flags.push("client-bound");
    if (r.skippedByGenerator > 0) cell.flags.push("generator-skipped");
    if ((r.serverCpuSec + (opts.redisCpu === SERVER_CPU ? r.redisCpuSec ?? 0 : 0)) / r.seconds > 0.9) cell.flags.push("core-0-saturated");
    const failed = cell.serverStats.reduce((n, s) => n + (s?.failed ?? 0), 0);
    if (failed > 0) cell.flags.push(`${failed}-record-failures`);
    const resyncs = cell.serverStats.reduce((n, s) => n + (s?.engine?.resyncs ?? 0), 0);
    if (resyncs > 0) cell.flags.push(`${resyncs}-resyncs`);
  }
  return cell;
}

function describeCell(cell) {
  if (cell.error) return `ERROR ${cell.error.split("\n")[0].slice(0, 200)}`;
  const r = cell.result;
  const k = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${Math.round(v)}`);
  const redis = r.redisCpuSec === null ? "" : `, ${k(r.delivered / r.redisCpuSec)} per Redis CPU-s (Redis ${((r.redisCpuSec / r.seconds) * 100).toFixed(0)}%)`;
  return `${k(r.deliveredPerSec)} delivered/s (${(r.deliveredShare * 100).toFixed(1)}%), ${k(r.delivered / r.serverCpuSec)} per server CPU-s (servers ${((r.serverCpuSec / r.seconds) * 100).toFixed(0)}%)${redis}, p50 ${r.latencyMs.p50?.toFixed(1)} ms p99 ${r.latencyMs.p99?.toFixed(1)} ms`;
}

// --- Main -----------------------------------------------------------------------------------------

function describeRun(opts) {
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(path.join(REPO_DIR, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return null;
    }
  };
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? os.cpus()[0]?.model ?? null;
  return {
    machine: { cpu, cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 1024 ** 3), kernel: `${os.type()} ${os.release()}`, loadavgAtStart: os.loadavg().map((v) => Number(v.toFixed(2))) },
    software: {
      node: process.version,
      bun: commandOutput(BUN, ["--version"]),
      redis: commandOutput(REDIS_SERVER, ["--version"])?.match(/v=(\S+)/)?.[1] ?? null,
      packages: Object.fromEntries(["ioredis", "ws", "socket.io", "engine.io", "@socket.io/redis-adapter", "@socket.io/redis-streams-adapter", "esbuild"].map((p) => [p, pkg(p)])),
      switchboard: {
        commit: commandOutput("git", ["-C", REPO_DIR, "rev-parse", "--short", "HEAD"]),
        uncommittedCoreChanges: (commandOutput("git", ["-C", REPO_DIR, "status", "--porcelain", "--", "src", "mod.ts"]) || "").split("\n").filter(Boolean).length,
      },
    },
    layout: { serverCpu: SERVER_CPU, clientCpu: CLIENT_CPU, redisCpu: opts.redisCpu, spread: !!opts.spread, loadGenerator: opts.client, noisyAbove: NOISY_FOREIGN_CPU },
    load: { clients: opts.clients, rate: opts.rate, ...timing(opts.quick, opts.warmupMs) },
  };
}

function outputPaths(opts) {
  const day = new Date().toISOString().slice(0, 10);
  const dir = path.join(HERE, "results");
  mkdirSync(dir, { recursive: true });
  const base = opts.quick ? `${day}-quick` : day;
  let stem = base;
  for (let i = 2; existsSync(path.join(dir, `${stem}.json`)); i++) stem = `${base}-${i}`;
  const json = path.join(dir, `${stem}.json`);
  return { json, md: opts.quick ? path.join(dir, `${stem}.md`) : path.join(HERE, "RESULTS.md") };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== "linux") throw new Error("the bench reads /proc: Linux only");
  if (commandOutput("taskset", ["-c", "0", "true"]) === null) throw new Error("taskset is missing (apt-get install -y util-linux)");
  if (os.cpus().length < 2) throw new Error("two CPUs are needed");
  if (commandOutput(REDIS_SERVER, ["--version"]) === null) throw new Error("redis-server not found (apt-get install -y redis-server)");
  if ((opts.client === "bun" || opts.runtimes.includes("bun")) && !existsSync(BUN)) throw new Error("node_modules/.bin/bun is missing: run npm ci");
  const t0 = Date.now();
  const all = variants(opts.runtimes).filter((v) => !opts.variants || opts.variants.includes(v.id));
  const cells = [];
  for (const v of all) for (const p of v.procs === "one" ? [1] : opts.procs) cells.push({ variant: v, procs: p });
  if (cells.length === 0) throw new Error("nothing to run: check --variants/--procs/--runtimes");
  if (all.some((v) => v.lib === "switchboard" && v.runtime === "node")) await buildNodeServer();
  const results = {
    meta: { startedAt: new Date().toISOString(), mode: opts.quick ? "quick" : "full", label: opts.label, reps: opts.reps, procs: opts.procs, ...describeRun(opts), variants: all.map(({ id, runtime, lib, label, redis, pair }) => ({ id, runtime, lib, label, redis, pair })) },
    cells: [],
  };
  const files = outputPaths(opts);
  const { save, abort, finish, isFinished } = resultsFile(results, files.json, t0, killAll);
  const globalTimer = setTimeout(() => abort(`global timeout of ${opts.timeout} s reached`), opts.timeout * 1000);
  process.on("SIGINT", () => abort("interrupted"));
  process.on("SIGTERM", () => abort("terminated"));

  const totalCells = cells.length * opts.reps;
  console.log(`scale-out bench: ${opts.quick ? "quick" : "full"} run, ${opts.reps} repetition(s), ${totalCells} cells; ${opts.clients} clients, ${opts.rate} msg/s published`);
  console.log(`servers and redis-server on CPU ${SERVER_CPU}, load generator (${opts.client}) on CPU ${CLIENT_CPU}; node ${process.version}, bun ${results.meta.software.bun}, redis ${results.meta.software.redis}`);
  let done = 0;
  for (let rep = 0; rep < opts.reps; rep++) {
    // Interleaved, the order reversed every other repetition, so drift hits every variant alike.
    const order = rep % 2 === 0 ? cells : [...cells].reverse();
    for (const { variant, procs } of order) {
      const cell = await runCell(variant, procs, rep, opts);
      if (isFinished()) return;
      results.cells.push(cell);
      done++;
      const elapsed = Math.round((Date.now() - t0) / 1000);
      const flags = cell.flags.length ? ` [${cell.flags.join(", ")}]` : "";
      console.log(`[${String(done).padStart(String(totalCells).length)}/${totalCells} ${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, "0")}] rep${rep + 1} ${variant.id} P=${procs}: ${describeCell(cell)}${flags}`);
      save(true);
      await sleep(200);
    }
  }
  clearTimeout(globalTimer);
  finish();
  results.meta.loadavgAtEnd = os.loadavg().map((v) => Number(v.toFixed(2)));
  results.summary = summarise(results);
  save(false);
  if (opts.report) {
    const json = path.relative(path.dirname(files.md), files.json);
    writeFileSync(files.md, renderMarkdown(results, results.summary, { json, findings: opts.quick ? undefined : readFindings() }));
  }
  console.log("");
  console.log(renderConsole(results, results.summary));
  console.log(`\n${done} cells in ${Math.round((Date.now() - t0) / 1000)} s`);
  console.log(`results: ${path.relative(process.cwd(), files.json)}${opts.report ? `, ${path.relative(process.cwd(), files.md)}` : ""}`);
}

main().catch(async (error) => {
  console.error(error instanceof UsageError ? `scale-out bench: ${error.message}` : error?.stack ?? error);
  await killAll();
  process.exit(1);
});
