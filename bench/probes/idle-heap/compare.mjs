// JS heap bytes per idle connection, for switchboard at two or more source trees and for the raw
// runtime, on Bun, Deno and Node: the least-squares slope of heapUsed after a forced GC, from 100 to
// 5,100 open connections. Rounds interleave the variants (reversed every other round), and the
// deltas are paired by round.
//
//   node bench/probes/idle-heap/compare.mjs [options] <name>=<dir or git revision> ...
//   node bench/probes/idle-heap/compare.mjs --rounds=3 --runtimes=bun,deno,node before=34575a2 after=.
//
// A tree is a directory holding switchboard's mod.ts and deno.json (as it is, uncommitted changes
// included), or a git revision of this repository, checked out in a temporary worktree that is
// removed at the end. The first tree is the base of the deltas. See ../trees.mjs for how each tree
// runs on each runtime (Node: an esbuild bundle). Options:
//   --rounds=3              repetitions of every variant on every runtime
//   --runtimes=bun,deno,node
//   --raw=yes               also measure the runtime's own server (the "raw" row); --raw=no skips it
//   --points=100,1100,2100,3100,4100,5100   connection counts the slope is fitted over
//   --timeout-min=90        no trial starts after this
//
// Each trial: one server pinned to CPU 0 (server.ts), one Node process of ws clients pinned to
// CPU 1 (clients.mjs). At each point the clients are opened, then after 400 ms the server runs a full
// GC three times, 100 ms apart, and the median heapUsed is the point's value. Per trial the raw
// data go to .tmp/probes/idle-heap/results-<time>.jsonl; the tables (Markdown) to stdout.
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { REPO_DIR } from "../../lib/plan.mjs";
import { Child, killAll } from "../../lib/procs.mjs";
import { median } from "../../lib/stats.mjs";
import { parseOptions, parseTreeArgs, prepareVariants } from "../trees.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const { options, rest } = parseOptions(process.argv.slice(2), {
  rounds: "3",
  runtimes: "bun,deno,node",
  raw: "yes",
  points: "100,1100,2100,3100,4100,5100",
  "timeout-min": "90",
});
const trees = parseTreeArgs(rest);
if (trees.length === 0) throw new Error("give at least one tree: name=<dir or revision>");
const rounds = Number(options.rounds);
const runtimes = options.runtimes.split(",");
const points = options.points.split(",").map(Number);
const deadline = Date.now() + Number(options["timeout-min"]) * 60_000;
const outDir = path.join(REPO_DIR, ".tmp", "probes", "idle-heap");
mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, `results-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`);

process.on("SIGINT", async () => {
  await killAll();
  process.exit(130); // the exit handler of trees.mjs removes the worktrees
});

/** Least-squares slope of ys over xs. */
function slope(xs, ys) {
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

/** Sends `line` and resolves with the match of the first line matching `re`. */
function ask(child, line, re, timeoutMs) {
  const answer = child.waitFor(re, timeoutMs);
  child.send(line);
  return answer;
}

const numbers = (line) => Object.fromEntries(line.split(" ").slice(1).map((kv) => kv.split("=")).map(([k, v]) => [k, Number(v)]));

async function trial(runtime, variant, round) {
  const server = new Child(variant.cmd[runtime], { cpu: SERVER_CPU, cwd: variant.cwd, name: `${runtime} ${variant.name} server` });
  let clients;
  try {
    const port = Number((await server.waitFor(/^READY (\d+)/, 60_000))[1]);
    clients = new Child([process.execPath, path.join(HERE, "clients.mjs"), String(port)], { cpu: CLIENT_CPU, cwd: REPO_DIR, name: "clients" });
    const pts = [];
    for (const n of points) {
      const opened = (await ask(clients, `open ${n}`, /^(OPENED|FAILED).*/, 120_000))[0];
      if (!opened.endsWith(`OPENED ${n} closed=0`)) throw new Error(`clients: ${opened}`);
      await sleep(400);
      const reads = [];
      for (let i = 0; i < 3; i++) {
        reads.push(numbers((await ask(server, "gc", /^HEAP .*/, 60_000))[0]));
        await sleep(100);
      }
      pts.push({ n, heapUsed: median(reads.map((r) => r.heapUsed)), external: median(reads.map((r) => r.external)), reads: reads.map((r) => r.heapUsed) });
    }
    const xs = pts.map((p) => p.n);
    const record = {
      runtime,
      variant: variant.name,
      round,
      heapPerConn: slope(xs, pts.map((p) => p.heapUsed)),
      externalPerConn: slope(xs, pts.map((p) => p.external)),
      pts,
    };
    appendFileSync(outFile, JSON.stringify(record) + "\n");
    console.error(`${runtime} ${variant.name} r${round}: heap ${record.heapPerConn.toFixed(1)} B/conn, external ${record.externalPerConn.toFixed(1)}`);
    return record.heapPerConn;
  } finally {
    // Server first, so the TIME_WAIT sockets stay on its throwaway port.
    await server.kill();
    if (clients) await clients.kill();
    await sleep(700);
  }
}

const fmt = (x) => (x === null || x === undefined ? "–" : `${x >= 0 ? "" : "−"}${Math.abs(x).toFixed(1)}`);
const signed = (x) => (x === null || x === undefined ? "–" : `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(1)}`);
const spread = (xs, f) => (xs.length ? `${f(median(xs))} (${f(Math.min(...xs))}..${f(Math.max(...xs))})` : "–");

/** Paired per round: b[r] - a[r] where both exist. */
function paired(a, b) {
  const out = [];
  for (const r of Object.keys(b)) if (a[r] !== undefined) out.push(b[r] - a[r]);
  return out;
}

const { variants: all, cleanup } = await prepareVariants(trees, { probe: "idle-heap", serverModule: path.join(HERE, "server.ts"), runtimes });
const variants = [...all.slice(1), ...(options.raw === "no" ? [] : all.slice(0, 1))];
const results = {}; // runtime -> variant -> round -> heap per connection
try {
  console.error(`idle-heap: ${rounds} rounds, ${runtimes.join(",")}; raw data in ${path.relative(REPO_DIR, outFile)}`);
  for (const v of variants) console.error(`  ${v.name}: ${v.label}`);
  outer: for (let round = 1; round <= rounds; round++) {
    for (const runtime of runtimes) {
      for (const variant of round % 2 ? variants : [...variants].reverse()) {
        if (Date.now() > deadline) {
          console.error("timeout: no more trials");
          break outer;
        }
        try {
          ((results[runtime] ??= {})[variant.name] ??= {})[round] = await trial(runtime, variant, round);
        } catch (error) {
          console.error(`${runtime} ${variant.name} r${round}: FAILED ${error.message}`);
        }
      }
    }
  }
} finally {
  await killAll();
  cleanup();
}

const base = trees[0].name;
for (const runtime of runtimes) {
  const byVariant = results[runtime] ?? {};
  console.log(`\n${runtime}: JS heap per idle connection, bytes (median and min..max of ${rounds} rounds; Δ paired by round)\n`);
  console.log(`| variant | heap/conn | Δ vs ${base} | Δ vs raw |`);
  console.log("|---|---:|---:|---:|");
  for (const v of variants) {
    const mine = byVariant[v.name] ?? {};
    const own = Object.values(mine);
    const vsBase = v.name === base || v.name === "raw" ? [] : paired(byVariant[base] ?? {}, mine);
    const vsRaw = v.name === "raw" ? [] : paired(byVariant.raw ?? {}, mine);
    console.log(`| ${v.name} | ${spread(own, fmt)} | ${spread(vsBase, signed)} | ${spread(vsRaw, signed)} |`);
  }
}
