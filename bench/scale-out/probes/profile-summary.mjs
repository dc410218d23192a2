// Self time of V8 CPU profiles (.cpuprofile, from `node --cpu-prof`), grouped by where the code
// lives: a package in node_modules, a file of switchboard's src/, Node's internals, or (program),
// (garbage collector) and (idle). Used for the scale-out findings: which part of a server process
// grows when the same load is spread over more processes.
//
//   node bench/scale-out/probes/profile-summary.mjs DIR_OR_FILES... [--top=25] [--by=group|function]
//
// Profiles of one run: start the bench with SCALE_OUT_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR"
// (the runner adds them to every Node server, and lets the servers exit on their own so the
// profiles are written), for one variant and process count at a time. The profiler samples wall
// time while the thread runs JavaScript or native code: on a core shared with other processes a
// sample can include time the thread was preempted (a write that woke Redis on the same core, say),
// so compare shapes, not absolute times; `perf record -e cpu-clock -p <pids>` with
// SCALE_OUT_NODE_FLAGS=--perf-basic-prof samples on-CPU time only.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import process from "node:process";

const args = process.argv.slice(2);
const top = Number(args.find((a) => a.startsWith("--top="))?.slice(6) ?? 25);
const by = args.find((a) => a.startsWith("--by="))?.slice(5) ?? "group";
const files = args.filter((a) => !a.startsWith("--")).flatMap((p) =>
  statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith(".cpuprofile")).map((f) => path.join(p, f)) : [p]
);
if (files.length === 0) {
  console.error("usage: profile-summary.mjs DIR_OR_FILES... [--top=25] [--by=group|function]");
  process.exit(2);
}

function group(frame) {
  const url = frame.url || "";
  if (!url) return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const src = /\/(src\/[^?]+|bench\/[^?]+|\.tmp\/bench\/[^?]+)/.exec(url);
  return src ? src[1] : path.basename(url);
}

const totals = new Map();
let all = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // timeDeltas[i] is the time before samples[i]: charge it to that sample's node.
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  for (const [id, us] of self) {
    const node = byId.get(id);
    const f = node.callFrame;
    const key = by === "function" ? `${f.functionName || "(anonymous)"}  ${group(f)}:${f.lineNumber + 1}` : group(f);
    totals.set(key, (totals.get(key) ?? 0) + us);
    all += us;
  }
}
const idle = [...totals].filter(([k]) => k.startsWith("(idle)")).reduce((n, [, us]) => n + us, 0);
const busy = all - idle;
console.log(`${files.length} profile(s), ${(busy / 1e6).toFixed(2)} s busy (idle left out); self time by ${by}:`);
for (const [key, us] of [...totals].filter(([k]) => !k.startsWith("(idle)")).sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((us / busy) * 100).toFixed(1).padStart(6)} %  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${key}`);
}
