#!/usr/bin/env node
// The benchmark runner: switchboard against the raw runtimes, crossws, Hono and socket.io.
//
//   npm run bench                       full run (5 repetitions, every size) -> bench/results/<date>.json + bench/RESULTS.md
//   npm run bench -- --quick            smoke run (1 repetition, smallest sizes, short windows), under two minutes
//   npm run bench -- --scenarios=fanout,echo --runtimes=node --libs=raw,switchboard --reps=3
//
// Options:
//   --quick                 1 repetition, smallest sizes, short windows; writes bench/results/<date>-quick.{json,md,svg}
//   --reps=N                repetitions (default 5, quick 1)
//   --scenarios=a,b         fanout, broadcast, echo, memory, churn, slow (default: all)
//   --runtimes=a,b          bun, deno, node (default: all)
//   --libs=a,b              raw, raw-loop, switchboard, crossws, hono, socket.io (default: all)
//   --variants=a,b          variant ids, e.g. node-ws,node-switchboard (default: all)
//   --client=bun|node       runtime of the load generator (default bun)
//   --timeout=SECONDS       global time limit (default 10800, quick 118)
//   --no-report             write the JSON only
//   --label=TEXT            stored in the JSON (e.g. "before" / "after" a core change)
//   --compare=FILE.json     add a before/after table for switchboard against an earlier run
//
// Layout: each server runs pinned to CPU 0 and the load generator to CPU 1 (taskset), on
// 127.0.0.1 with a port the server picks and reports ("READY <port>"). Every process is started
// and stopped by its pid; every client loop is bounded in count and time; one global timeout.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { BENCH_DIR, BINARIES, BROADCASTING, REPO_DIR, scenarios, VARIANTS } from "./lib/plan.mjs";
import { Child, commandOutput, cpuCounters, killAll, processTicks } from "./lib/procs.mjs";
import { readFindings, renderConsole, renderMarkdown, renderSvg, summarise } from "./lib/report.mjs";
import { resultsFile } from "./lib/results-file.mjs";
import { usageOf } from "./lib/usage.mjs";

const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const CLIENT_FILE = path.join(BENCH_DIR, "load", "client.mjs");
const CLIENT_BOUND = 0.8;
const NOISY_FOREIGN_CPU = 0.1;

// --- Options ------------------------------------------------------------------------------------

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { quick: false, reps: undefined, scenarios: null, runtimes: null, libs: null, variants: null, client: "bun", timeout: undefined, report: true, label: "", compare: null };
  const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
  for (const a of argv) {
    const [key, value = ""] = a.startsWith("--") ? [a.slice(2, a.includes("=") ? a.indexOf("=") : undefined), a.includes("=") ? a.slice(a.indexOf("=") + 1) : ""] : [a, ""];
    switch (key) {
      case "quick": opts.quick = true; break;
      case "reps": opts.reps = Number(value); break;
      case "scenarios": opts.scenarios = list(value); break;
      case "runtimes": opts.runtimes = list(value); break;
      case "libs": opts.libs = list(value); break;
      case "variants": opts.variants = list(value); break;
      case "client": opts.client = value; break;
      case "timeout": opts.timeout = Number(value); break;
      case "no-report": opts.report = false; break;
      case "label": opts.label = value; break;
      case "compare": opts.compare = value; break;
      case "help": case "h":
        console.log(usageOf(import.meta.url));
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown option ${a} (see --help)`);
    }
  }
  opts.reps ??= opts.quick ? 1 : 5;
  opts.timeout ??= opts.quick ? 118 : 3 * 3600;
  if (!Number.isInteger(opts.reps) || opts.reps < 1 || opts.reps > 50) throw new UsageError(`--reps must be 1..50: got ${opts.reps}`);
  if (!(opts.timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds`);
  if (!["bun", "node"].includes(opts.client)) throw new UsageError(`--client must be bun or node`);
  return opts;
}

// --- Preflight and machine description ----------------------------------------------------------

function preflight(opts) {
  if (process.platform !== "linux") throw new Error("the harness reads /proc: Linux only");
  if (commandOutput("taskset", ["-c", "0", "true"]) === null) {
    throw new Error("taskset is missing or cannot pin to CPU 0 (on Debian/Ubuntu: apt-get install -y util-linux)");
  }
  if (os.cpus().length < 2) throw new Error("two CPUs are needed: the server runs on CPU 0, the load generator on CPU 1");
  for (const [name, bin] of Object.entries(BINARIES)) {
    if (!existsSync(bin)) throw new Error(`${name} not found at ${bin}: run npm ci`);
  }
  if (opts.client === "bun" && !existsSync(BINARIES.bun)) throw new Error("the Bun load generator needs node_modules/.bin/bun");
}

function version(cmd, args) {
  return commandOutput(cmd, args)?.split("\n")[0] ?? null;
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(path.join(REPO_DIR, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

function readText(file) {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

function describeMachine() {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readText("/proc/cpuinfo") ?? "")?.[1] ?? os.cpus()[0]?.model ?? null;
  return {
    kernel: `${os.type()} ${os.release()}`,
    cpu: cpuModel,
    cpus: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    loadavgAtStart: os.loadavg().map((v) => Number(v.toFixed(2))),
    nofile: commandOutput("sh", ["-c", "ulimit -n"]),
    ephemeralPorts: readText("/proc/sys/net/ipv4/ip_local_port_range")?.replace(/\s+/, "-") ?? null,
    tcpTwReuse: readText("/proc/sys/net/ipv4/tcp_tw_reuse"),
    tcpRmem: readText("/proc/sys/net/ipv4/tcp_rmem"),
    tcpWmem: readText("/proc/sys/net/ipv4/tcp_wmem"),
  };
}

function describeSoftware() {
  const git = commandOutput("git", ["-C", REPO_DIR, "rev-parse", "--short", "HEAD"]);
  const dirty = commandOutput("git", ["-C", REPO_DIR, "status", "--porcelain", "--", "src", "mod.ts"]);
  return {
    runtimes: {
      node: process.version,
      bun: version(BINARIES.bun, ["--version"]),
      deno: version(BINARIES.deno, ["--version"]),
    },
    packages: Object.fromEntries(
      ["ws", "crossws", "hono", "@hono/node-server", "socket.io", "engine.io", "socket.io-client", "esbuild"].map((p) => [p, packageVersion(p)]),
    ),
    switchboard: {
      version: JSON.parse(readFileSync(path.join(REPO_DIR, "package.json"), "utf8")).version,
      commit: git,
      uncommittedCoreChanges: dirty ? dirty.split("\n").length : 0,
    },
  };
}

function timeWaitCount() {
  const out = commandOutput("ss", ["-s"]);
  const m = out && /timewait (\d+)/.exec(out);
  return m ? Number(m[1]) : null;
}

/**
 * Compiles a TypeScript server to one JavaScript file, from the current sources, before any cell
 * runs (see NODE_SWITCHBOARD_BUILD in lib/plan.mjs). Packages stay external, as in dist/.
 */
async function buildServer({ entry, outfile, target }) {
  const { build } = await import("esbuild");
  mkdirSync(path.dirname(outfile), { recursive: true });
  await build({ entryPoints: [entry], outfile, bundle: true, format: "esm", platform: "node", target, packages: "external", logLevel: "warning" });
}

// --- One cell: one server, one client, one scenario size -------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = Number(commandOutput("getconf", ["CLK_TCK"]) ?? 100);
const PAGE_SIZE = Number(commandOutput("getconf", ["PAGESIZE"]) ?? 4096);

async function runCell(variant, scenario, size, rep, opts) {
  const started = Date.now();
  const cpus0 = cpuCounters();
  const server = new Child(variant.cmd, { cpu: SERVER_CPU, cwd: REPO_DIR, name: `server ${variant.id}` });
  const cell = {
    scenario: scenario.id,
    size: JSON.stringify(size),
    sizeLabel: scenario.sizeLabel(size),
    variant: variant.id,
    runtime: variant.runtime,
    lib: variant.lib,
    rep,
    result: null,
    error: null,
    gc: null,
    noise: null,
    flags: [],
  };
  let client;
  try {
    const port = Number((await server.waitFor(/^READY (\d+)$/, 30_000, "READY <port>"))[1]);
    cell.startupMs = Date.now() - started;
    const config = {
      scenario: scenario.id,
      host: "127.0.0.1",
      port,
      serverPid: server.pid,
      clkTck: CLK_TCK,
      pageSize: PAGE_SIZE,
      proto: variant.proto ?? "ws",
      params: scenario.params(size),
      timeLimitMs: scenario.limitMs(size),
    };
    const clientCmd = opts.client === "bun" ? [BINARIES.bun, CLIENT_FILE] : [BINARIES.node, CLIENT_FILE];
    client = new Child(clientCmd, { cpu: CLIENT_CPU, cwd: REPO_DIR, env: { BENCH_CONFIG: JSON.stringify(config) }, name: "load generator" });
    client.onLine((line) => {
      if (!line.startsWith("SYNC gc")) return;
      const done = server.waitFor(/^GC_DONE (.*)$/, 20_000, "GC_DONE");
      server.send("gc");
      done.then(
        (m) => {
          cell.gc = m[1].split(" ")[0];
          client.send(`GO ${m[1]}`);
        },
        () => {
          cell.gc = "no answer";
          client.send("GO");
        },
      );
    });
    const m = await client.waitFor(/^RESULT (.*)$/, config.timeLimitMs + 15_000, "RESULT");
    const result = JSON.parse(m[1]);
    if (result.error) cell.error = result.error;
    else cell.result = result;
  } catch (error) {
    cell.error = error.message;
  }
  const serverTicks = processTicks(server.pid);
  const clientTicks = client ? processTicks(client.pid) : null;
  if (!server.running) cell.error ??= `server exited with ${server.exitCode}`;
  if (cell.error) cell.stderr = server.stderrTail.trim().slice(-800) || undefined;
  // Server first: it closes the connections, so TIME_WAIT lands on its (throwaway) port.
  await server.kill();
  if (client) {
    client.send("exit");
    await Promise.race([client.exited, sleep(2000)]);
    await client.kill();
    if (cell.error && client.stderrTail.trim()) cell.clientStderr = client.stderrTail.trim().slice(-800);
  }
  const cpus1 = cpuCounters();
  const wall = (Date.now() - started) / 1000;
  const delta = (cpu, field) => (cpus1[cpu]?.[field] ?? 0) - (cpus0[cpu]?.[field] ?? 0);
  const total = (cpu) => delta(cpu, "busy") + delta(cpu, "idle") + delta(cpu, "iowait") + delta(cpu, "steal");
  cell.wall = Number(wall.toFixed(2));
  const foreign = (cpu, ownTicks) => Number(Math.max(0, (delta(`cpu${cpu}`, "busy") - (ownTicks ?? 0)) / Math.max(1, total(`cpu${cpu}`))).toFixed(3));
  cell.noise = {
    // Time on each pinned core not spent by our process: other processes sharing the core.
    serverCoreForeign: foreign(SERVER_CPU, serverTicks),
    clientCoreForeign: foreign(CLIENT_CPU, clientTicks),
    clientCpu: clientTicks === null ? null : Number((clientTicks / CLK_TCK / wall).toFixed(3)),
    steal: Number((delta("cpu", "steal") / Math.max(1, total("cpu"))).toFixed(3)),
  };
  if (cell.noise.serverCoreForeign > NOISY_FOREIGN_CPU || cell.noise.clientCoreForeign > NOISY_FOREIGN_CPU) cell.flags.push("noisy");
  const r = cell.result;
  const serverCpu = r && (scenario.id === "slow" ? r.phaseB?.serverCpu : r.serverCpu);
  if (typeof serverCpu === "number" && scenario.id !== "echo" && serverCpu < CLIENT_BOUND) cell.flags.push("client-bound");
  return cell;
}

function describeCell(cell) {
  if (cell.error) return `ERROR ${cell.error.split("\n")[0].slice(0, 160)}`;
  const r = cell.result;
  const k = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${Math.round(v)}`);
  switch (cell.scenario) {
    case "fanout":
    case "broadcast":
      return `${k(r.msgsPerSec)} msg/s, ${k(r.msgsPerCpuSec ?? 0)} per CPU-s, server ${(r.serverCpu * 100).toFixed(0)}%`;
    case "echo":
      return `p50 ${r.p50.toFixed(1)} µs, p90 ${r.p90.toFixed(1)}, p99 ${r.p99.toFixed(1)} (${r.samples} samples)`;
    case "memory":
      return r.sizes.map((s) => `${s.connections}: ${Math.round(s.bytesPerConn)} B/conn`).join(", ");
    case "churn":
      return `${k(r.connsPerSec)} conn/s, drift ${(r.rssDrift / 1024).toFixed(0)} KiB, ${r.failed} failed`;
    case "slow":
      return `kept ${(r.keptThroughput * 100).toFixed(0)}% of fast throughput, RSS +${(r.rssGrowth / 1048576).toFixed(1)} MiB, slow client close ${r.slowCloseCode || "none"}`;
    default:
      return "";
  }
}

// --- Main -----------------------------------------------------------------------------------------

function outputPaths(opts) {
  const day = new Date().toISOString().slice(0, 10);
  const dir = path.join(BENCH_DIR, "results");
  mkdirSync(dir, { recursive: true });
  let stem = opts.quick ? `${day}-quick` : day;
  for (let i = 2; existsSync(path.join(dir, `${stem}.json`)); i++) stem = `${opts.quick ? `${day}-quick` : day}-${i}`;
  const json = path.join(dir, `${stem}.json`);
  if (opts.quick) return { json, md: path.join(dir, `${stem}.md`), svg: path.join(dir, `${stem}.svg`) };
  return { json, md: path.join(BENCH_DIR, "RESULTS.md"), svg: path.join(BENCH_DIR, "chart.svg") };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  preflight(opts);
  const t0 = Date.now();
  const plan = scenarios(opts.quick).filter((s) => !opts.scenarios || opts.scenarios.includes(s.id));
  const variants = VARIANTS.filter((v) =>
    (!opts.runtimes || opts.runtimes.includes(v.runtime)) &&
    (!opts.libs || opts.libs.includes(v.lib)) &&
    (!opts.variants || opts.variants.includes(v.id))
  );
  if (plan.length === 0 || variants.length === 0) throw new Error("nothing to run: check --scenarios/--runtimes/--libs/--variants");
  for (const variant of variants) if (variant.build) await buildServer(variant.build);
  const results = {
    meta: {
      startedAt: new Date().toISOString(),
      mode: opts.quick ? "quick" : "full",
      label: opts.label,
      reps: opts.reps,
      layout: { serverCpu: SERVER_CPU, clientCpu: CLIENT_CPU, loadGenerator: opts.client, clientBoundBelow: CLIENT_BOUND, noisyAbove: NOISY_FOREIGN_CPU },
      machine: describeMachine(),
      software: describeSoftware(),
      variants: variants.map(({ id, runtime, lib, role, label, separate }) => ({ id, runtime, lib, role, label, separate: !!separate })),
      scenarios: plan.map((s) => ({ id: s.id, title: s.title, sizes: s.sizes.map((x) => ({ size: JSON.stringify(x), label: s.sizeLabel(x), params: s.params(x) })) })),
      timeWait: {},
    },
    cells: [],
  };
  const files = outputPaths(opts);
  const { save, abort, finish, isFinished } = resultsFile(results, files.json, t0, killAll);
  const globalTimer = setTimeout(() => abort(`global timeout of ${opts.timeout} s reached`), opts.timeout * 1000);
  process.on("SIGINT", () => abort("interrupted"));
  process.on("SIGTERM", () => abort("terminated"));

  const cellsPerRep = plan.reduce((n, s) => n + s.sizes.length * variants.filter((v) => !v.broadcastOnly || BROADCASTING.has(s.id)).length, 0);
  const totalCells = cellsPerRep * opts.reps;
  console.log(`switchboard bench: ${opts.quick ? "quick" : "full"} run, ${opts.reps} repetition(s), ${totalCells} cells, ${variants.length} variants`);
  console.log(`server on CPU ${SERVER_CPU}, load generator (${opts.client}) on CPU ${CLIENT_CPU}; node ${process.version}, bun ${results.meta.software.runtimes.bun}, ${results.meta.software.runtimes.deno}`);
  let done = 0;
  for (const scenario of plan) {
    results.meta.timeWait[scenario.id] = timeWaitCount();
    const applicable = variants.filter((v) => !v.broadcastOnly || BROADCASTING.has(scenario.id));
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const size of scenario.sizes) {
        // Interleaved, and the order reversed every other repetition, so drift hits every variant alike.
        const order = rep % 2 === 0 ? applicable : [...applicable].reverse();
        for (const variant of order) {
          const cell = await runCell(variant, scenario, size, rep, opts);
          if (isFinished()) return;
          results.cells.push(cell);
          done++;
          const elapsed = Math.round((Date.now() - t0) / 1000);
          const flags = cell.flags.length ? ` [${cell.flags.join(", ")}]` : "";
          console.log(
            `[${String(done).padStart(String(totalCells).length)}/${totalCells} ${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, "0")}] ` +
              `${scenario.id} ${cell.sizeLabel} rep${rep + 1} ${variant.id}: ${describeCell(cell)}${flags}`,
          );
          await sleep(opts.quick ? 20 : 100);
        }
      }
    }
  }
  clearTimeout(globalTimer);
  finish();
  results.meta.timeWait.end = timeWaitCount();
  results.meta.loadavgAtEnd = os.loadavg().map((v) => Number(v.toFixed(2)));
  const summary = summarise(results);
  results.summary = summary;
  save(false);
  const compare = opts.compare ? JSON.parse(readFileSync(opts.compare, "utf8")) : null;
  if (opts.report) {
    const svg = renderSvg(results, summary);
    writeFileSync(files.svg, svg);
    writeFileSync(files.md, renderMarkdown(results, summary, { chart: path.relative(path.dirname(files.md), files.svg), json: path.relative(path.dirname(files.md), files.json), compare, findings: opts.quick ? undefined : readFindings() }));
  }
  console.log("");
  console.log(renderConsole(results, summary));
  console.log(`\n${done} cells in ${Math.round((Date.now() - t0) / 1000)} s`);
  console.log(`results: ${path.relative(process.cwd(), files.json)}${opts.report ? `, ${path.relative(process.cwd(), files.md)}, ${path.relative(process.cwd(), files.svg)}` : ""}`);
}

main().catch(async (error) => {
  console.error(error instanceof UsageError ? `bench: ${error.message}` : error?.stack ?? error);
  await killAll();
  process.exit(1);
});
