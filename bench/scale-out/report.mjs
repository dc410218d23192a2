// The scale-out bench's report: medians per variant and process count, ratios paired within a
// repetition (switchboard against socket.io on the same load; each variant against the one-process
// reference of its library), Markdown for RESULTS.md and a console table.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "../lib/stats.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The issue's figure for Centrifugo: delivered messages per second per Redis. */
export const CENTRIFUGO_DELIVERED_PER_REDIS = 650_000;

/** Figures of one cell, derived from the load generator's counters. */
function figures(r) {
  const redis = r.redisCpuSec;
  const total = r.serverCpuSec + (redis ?? 0);
  return {
    deliveredPerSec: r.deliveredPerSec,
    deliveredShare: r.deliveredShare,
    serverCores: r.serverCpuSec / r.seconds,
    perServerCpuSec: r.serverCpuSec > 0 ? r.delivered / r.serverCpuSec : null,
    redisCores: redis === null ? null : redis / r.seconds,
    perRedisCpuSec: redis ? r.delivered / redis : null,
    perTotalCpuSec: total > 0 ? r.delivered / total : null,
    redisUsPerPublished: redis === null ? null : (redis * 1e6) / r.sent,
    redisNsPerDelivered: redis === null ? null : (redis * 1e9) / r.delivered,
    serverUsPerDelivered: (r.serverCpuSec * 1e6) / r.delivered,
    serverSystemShare: r.serverSystemSec === null || r.serverSystemSec === undefined ? null : r.serverSystemSec / r.serverCpuSec,
    clientCores: r.clientCpuSec / r.seconds,
    // Deliveries per write(2)/writev(2) of the servers: how many frames one system call carries.
    deliveredPerWrite: r.serverWrites ? r.delivered / r.serverWrites : null,
    // Event-loop wake-ups (voluntary context switches of the servers' main threads) a second, all servers together.
    wakeupsPerSec: r.serverMainWakeups === null || r.serverMainWakeups === undefined ? null : r.serverMainWakeups / r.seconds,
    redisWritesPerPublished: r.redisWrites === null || r.redisWrites === undefined ? null : r.redisWrites / r.sent,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
  };
}

const FIELDS = ["deliveredPerSec", "deliveredShare", "serverCores", "perServerCpuSec", "redisCores", "perRedisCpuSec", "perTotalCpuSec", "redisUsPerPublished", "redisNsPerDelivered", "serverUsPerDelivered", "serverSystemShare", "clientCores", "deliveredPerWrite", "wakeupsPerSec", "redisWritesPerPublished", "p50", "p99"];

export function summarise(results) {
  const ok = results.cells.filter((c) => c.result);
  const byKey = new Map();
  for (const c of ok) {
    const key = `${c.variant}|${c.procs}`;
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key).push(c);
  }
  const rows = [];
  for (const v of results.meta.variants) {
    for (const procs of [1, 2, 3, 4]) {
      const cells = byKey.get(`${v.id}|${procs}`);
      if (!cells) continue;
      const f = cells.map((c) => figures(c.result));
      const row = { variant: v.id, label: v.label, lib: v.lib, runtime: v.runtime, redis: v.redis, procs, n: cells.length, flags: [...new Set(cells.flatMap((c) => c.flags))] };
      for (const k of FIELDS) row[k] = median(f.map((x) => x[k]));
      rows.push(row);
    }
  }
  const errors = results.cells.filter((c) => c.error).map((c) => ({ variant: c.variant, procs: c.procs, rep: c.rep, error: c.error }));
  // Paired within a repetition: the same load, minutes apart at most.
  const cellOf = (variant, procs, rep) => ok.find((c) => c.variant === variant && c.procs === procs && c.rep === rep);
  const ratio = (a, b, field) => (a && b && figures(a.result)[field] && figures(b.result)[field] ? figures(a.result)[field] / figures(b.result)[field] : null);
  const versus = [];
  for (const v of results.meta.variants.filter((x) => x.pair)) {
    for (const procs of [1, 2, 3, 4]) {
      const pairs = [];
      for (let rep = 0; rep < results.meta.reps; rep++) {
        const a = cellOf(v.id, procs, rep);
        const b = cellOf(v.pair, procs, rep);
        if (a && b) pairs.push([a, b]);
      }
      if (pairs.length === 0) continue;
      versus.push({
        variant: v.id,
        pair: v.pair,
        procs,
        n: pairs.length,
        perServerCpuSec: median(pairs.map(([a, b]) => ratio(a, b, "perServerCpuSec"))),
        perTotalCpuSec: median(pairs.map(([a, b]) => ratio(a, b, "perTotalCpuSec"))),
        perRedisCpuSec: median(pairs.map(([a, b]) => ratio(a, b, "perRedisCpuSec"))),
      });
    }
  }
  // Each variant against its library's one-process reference, per CPU-second of servers and Redis together.
  const reference = (v) => (v.lib === "switchboard" ? (v.runtime === "bun" ? "bun-sb-local" : "sb-local") : "sio-local");
  const efficiency = [];
  for (const v of results.meta.variants.filter((x) => x.redis)) {
    for (const procs of [1, 2, 3, 4]) {
      const pairs = [];
      for (let rep = 0; rep < results.meta.reps; rep++) {
        const a = cellOf(v.id, procs, rep);
        const b = cellOf(reference(v), 1, rep);
        if (a && b) pairs.push([a, b]);
      }
      if (pairs.length === 0) continue;
      efficiency.push({
        variant: v.id,
        reference: reference(v),
        procs,
        n: pairs.length,
        perTotalCpuSec: median(pairs.map(([a, b]) => (figures(a.result).perTotalCpuSec ?? 0) / figures(b.result).perServerCpuSec)),
        perServerCpuSec: median(pairs.map(([a, b]) => (figures(a.result).perServerCpuSec ?? 0) / figures(b.result).perServerCpuSec)),
      });
    }
  }
  return { rows, versus, efficiency, errors };
}

// --- Formatting -----------------------------------------------------------------------------------

const k = (v) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(0)}k` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${Math.round(v)}`);
const x = (v) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : `${v.toFixed(2)}×`);
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(0)} %`);
const share = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)} %`);
const fixed = (v, d = 1) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(d));

function table(head, rows, align) {
  const a = align ?? head.map((_, i) => (i === 0 ? "---" : "---:"));
  return [`| ${head.join(" | ")} |`, `|${a.join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** bench/scale-out/FINDINGS.md, or undefined. */
export function readFindings() {
  const file = path.join(HERE, "FINDINGS.md");
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}

export function renderMarkdown(results, summary, { json, findings }) {
  const m = results.meta;
  const sw = m.software;
  const load = m.load;
  const offered = load.rate * load.clients;
  const out = [];
  out.push("# Scale-out on Redis");
  out.push("");
  out.push(`> Generated by \`node bench/scale-out/run.mjs${m.mode === "quick" ? " --quick" : ""}\` on ${m.startedAt.slice(0, 16).replace("T", " ")} UTC — ${m.mode} run, ${m.reps} repetition(s), ${m.durationSec < 120 ? `${m.durationSec} s` : `${Math.round(m.durationSec / 60)} min`}. Raw data: [\`${json}\`](${json}). Do not edit by hand: re-run the bench.`);
  if (m.mode === "quick") out.push("> **Quick run:** one repetition, short windows: a smoke test of the harness, not a measurement.");
  if (m.label) out.push(`> Label: ${m.label}`);
  out.push("");
  out.push(table(["", ""], [
    ["Machine", `${m.machine.cpu}, ${m.machine.cpus} CPUs, ${m.machine.memoryGiB} GiB, ${m.machine.kernel}`],
    ["Layout", (m.layout.redisCpu ?? m.layout.serverCpu) === m.layout.serverCpu
      ? `redis-server and every server process pinned to CPU ${m.layout.serverCpu}; the load generator (${m.layout.loadGenerator}) to CPU ${m.layout.clientCpu}; 127.0.0.1`
      : `every server process pinned to CPU ${m.layout.serverCpu}; redis-server and the load generator (${m.layout.loadGenerator}) to CPU ${m.layout.clientCpu}; 127.0.0.1`],
    ["Load", `${load.clients} clients in one room, spread round robin over the server processes; ${load.rate} messages/s published in all (one publisher connection per process, ${load.rate} / P each, sent every ${load.tickMs} ms); each message (${load.textBytes} B of text) goes to every client: ${k(offered)} deliveries/s offered. Warm-up ${load.warmupMs / 1000} s, then ${load.windows} windows of ${load.windowMs / 1000} s`],
    ["Software", `Node ${sw.node}, Bun ${sw.bun}, Redis ${sw.redis}; ${Object.entries(sw.packages).map(([a, b]) => `${a} ${b}`).join(", ")}`],
    ["switchboard", `${sw.switchboard.commit}${sw.switchboard.uncommittedCoreChanges ? ` + ${sw.switchboard.uncommittedCoreChanges} uncommitted core file(s)` : ""}`],
    ["Load average", `${m.machine.loadavgAtStart.join(" ")} at start, ${(m.loadavgAtEnd ?? []).join(" ")} at end`],
  ]));
  out.push("");
  out.push("**Caveat: 2 cores for everything.** The server processes and Redis share CPU 0, the load generator has CPU 1. Two or three processes cannot add capacity here, so the rate is fixed below saturation and the figures of merit are CPU-seconds: delivered messages per CPU-second of the servers, of Redis, and of both. On a real deployment each process and Redis would have cores of their own; per-CPU-second figures carry over, the delivered/s column does not (it is the offered load whenever the share is 100 %).");
  out.push("");
  out.push("## Switchboard against socket.io, per CPU-second");
  out.push("");
  out.push("Ratios of delivered messages per CPU-second, switchboard over socket.io, paired within each repetition (the same load minutes apart), median over the repetitions. Unrecorded switchboard is compared with socket.io's pub/sub adapter, recorded switchboard (stream + publish, gapless ids, catch-up) with its streams adapter (stream, connection-state recovery).");
  out.push("");
  out.push(table(["switchboard", "socket.io", "P", "per server CPU-s", "per server + Redis CPU-s", "per Redis CPU-s", "n"], summary.versus.map((r) => [
    r.variant,
    r.pair,
    String(r.procs),
    x(r.perServerCpuSec),
    x(r.perTotalCpuSec),
    x(r.perRedisCpuSec),
    String(r.n),
  ]), ["---", "---", "---:", "---:", "---:", "---:", "---:"]));
  out.push("");
  out.push("## Every cell");
  out.push("");
  out.push("Medians over the repetitions. *Share*: every delivery counted once the drain after the windows settled, over every message sent (warm-up included) × clients (100 % keeps up, nothing lost). *Servers*, *Redis*: cores busy (CPU-seconds per second). *Server kernel share*: the part of the servers' CPU spent in the kernel (stime). *Deliveries / server write*: frames delivered per `write`/`writev` call of the servers (`/proc/<pid>/io`; not counted on Bun, which sends with `send`). *Server wake-ups/s*: times the servers' main threads went to sleep and were woken (voluntary context switches, `/proc/<pid>/status`), all processes together. Latency: from the publisher's send to the arrival at two probe clients per process (the publisher and one more), in the load generator's clock.");
  out.push("");
  out.push(table(["Variant", "P", "delivered/s", "share", "servers", "Redis", "per server CPU-s", "server kernel share", "per Redis CPU-s", "per server + Redis CPU-s", "Redis µs / published", "deliveries / server write", "server wake-ups/s", "p50 ms", "p99 ms", "flags"], summary.rows.map((r) => [
    r.label,
    String(r.procs),
    k(r.deliveredPerSec),
    share(r.deliveredShare),
    pct(r.serverCores),
    r.redis ? pct(r.redisCores) : "–",
    k(r.perServerCpuSec),
    pct(r.serverSystemShare),
    r.redis ? k(r.perRedisCpuSec) : "–",
    k(r.perTotalCpuSec),
    r.redis ? fixed(r.redisUsPerPublished, 1) : "–",
    fixed(r.deliveredPerWrite, 2),
    k(r.wakeupsPerSec),
    fixed(r.p50, 2),
    fixed(r.p99, 2),
    r.flags.join(", ") || "",
  ]), ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]));
  out.push("");
  if (summary.efficiency.length) {
    out.push("## Against the one-process reference");
    out.push("");
    out.push("Delivered per CPU-second of the P processes and Redis together, over delivered per CPU-second of the same library in one process without Redis (switchboard with no engine; socket.io with its in-memory adapter), paired within each repetition. 1.00× would be a scale-out that costs nothing.");
    out.push("");
    out.push(table(["Variant", "reference", "P", "per server + Redis CPU-s", "per server CPU-s", "n"], summary.efficiency.map((r) => [r.variant, r.reference, String(r.procs), x(r.perTotalCpuSec), x(r.perServerCpuSec), String(r.n)])));
    out.push("");
  }
  const redisRows = summary.rows.filter((r) => r.redis && r.perRedisCpuSec);
  if (redisRows.length) {
    out.push("## Redis CPU per delivered message, next to Centrifugo");
    out.push("");
    out.push(`Centrifugo's published figure, as the issue quotes it: about ${k(CENTRIFUGO_DELIVERED_PER_REDIS)} delivered messages per second per Redis, i.e. about ${fixed(1e9 / CENTRIFUGO_DELIVERED_PER_REDIS, 0)} ns of a Redis core per delivered message if that Redis was saturated. Redis works per *published* message (a command, and one write to each subscribed process), not per client: what it costs per delivered message is that cost spread over the clients a message reaches, ${load.clients} here. So the table gives the cost per published message, what it comes to per delivered message here, the deliveries one Redis core would carry at this fan-out (an upper bound: Redis shares CPU 0 with the servers), and the fan-out below which one Redis core would carry fewer than ${k(CENTRIFUGO_DELIVERED_PER_REDIS)} deliveries a second at this cost per published message.`);
    out.push("");
    out.push(table(["Variant", "P", "Redis µs / published", "Redis ns / delivered", "delivered/s per Redis core at this fan-out", "vs 650k", "fan-out for 650k/s"], redisRows.map((r) => [
      r.label,
      String(r.procs),
      fixed(r.redisUsPerPublished, 1),
      fixed(r.redisNsPerDelivered, 0),
      k(r.perRedisCpuSec),
      x(r.perRedisCpuSec / CENTRIFUGO_DELIVERED_PER_REDIS),
      fixed((r.redisUsPerPublished * 1e3) / (1e9 / CENTRIFUGO_DELIVERED_PER_REDIS), 0),
    ])));
    out.push("");
  }
  if (summary.errors.length) {
    out.push("## Cells that failed");
    out.push("");
    out.push(table(["Variant", "P", "rep", "error"], summary.errors.map((e) => [e.variant, String(e.procs), String(e.rep + 1), e.error.replaceAll("|", "\\|").slice(0, 200)]), ["---", "---:", "---:", "---"]));
    out.push("");
  }
  out.push("Flags: *behind* — under 99 % delivered; *core-0-saturated* — servers and Redis above 90 % of CPU 0; *client-bound* — the load generator above 90 % of CPU 1; *noisy* — other processes took more than 10 % of a core; *generator-skipped* — the generator fell a second behind and dropped messages; *N-record-failures* — recorded broadcasts that rejected.");
  out.push("");
  if (findings) {
    out.push(findings.trim());
    out.push("");
  }
  return out.join("\n");
}

export function renderConsole(results, summary) {
  const lines = [];
  const pad = (s, n) => String(s).padEnd(n);
  lines.push(`${pad("variant", 18)}${pad("P", 3)}${pad("delivered/s", 13)}${pad("share", 8)}${pad("srv", 6)}${pad("redis", 7)}${pad("/srv CPU-s", 12)}${pad("/redis CPU-s", 14)}${pad("/total CPU-s", 14)}${pad("p50", 8)}p99`);
  for (const r of summary.rows) {
    lines.push(`${pad(r.variant, 18)}${pad(r.procs, 3)}${pad(k(r.deliveredPerSec), 13)}${pad(share(r.deliveredShare), 8)}${pad(pct(r.serverCores), 6)}${pad(r.redis ? pct(r.redisCores) : "–", 7)}${pad(k(r.perServerCpuSec), 12)}${pad(r.redis ? k(r.perRedisCpuSec) : "–", 14)}${pad(k(r.perTotalCpuSec), 14)}${pad(fixed(r.p50, 2), 8)}${fixed(r.p99, 2)}${r.flags.length ? `  [${r.flags.join(", ")}]` : ""}`);
  }
  lines.push("");
  for (const r of summary.versus) lines.push(`${r.variant} / ${r.pair} P=${r.procs}: ${x(r.perServerCpuSec)} per server CPU-s, ${x(r.perTotalCpuSec)} per server+Redis CPU-s (n=${r.n})`);
  for (const e of summary.errors) lines.push(`ERROR ${e.variant} P=${e.procs} rep${e.rep + 1}: ${e.error.slice(0, 200)}`);
  return lines.join("\n");
}
