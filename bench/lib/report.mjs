// Turns the raw cells of a run into medians, paired ratios, target verdicts, Markdown tables and
// an SVG chart (hand-written, no dependencies).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { BENCH_DIR, MAX_BUFFERED_AMOUNT } from "./plan.mjs";
import { iqr, median } from "./stats.mjs";

const MiB = 1024 * 1024;

// --- Metrics per scenario -------------------------------------------------------------------------

/** Each successful cell becomes one or more rows (memory has one per connection count). */
function expand(cell) {
  const r = cell.result;
  switch (cell.scenario) {
    case "fanout":
    case "broadcast":
      return [{ size: cell.sizeLabel, m: { msgsPerSec: r.msgsPerSec, msgsPerCpuSec: r.msgsPerCpuSec, serverCpu: r.serverCpu, rssPeakMiB: r.rssPeak / MiB } }];
    case "echo":
      return [{ size: cell.sizeLabel, m: { p50: r.p50, p90: r.p90, p99: r.p99 } }];
    case "memory":
      return r.sizes.map((s) => ({ size: `${s.connections} connections`, m: { bytesPerConn: s.bytesPerConn, heapPerConn: s.heapPerConn, rssMiB: s.rss / MiB } }));
    case "churn":
      return [{ size: cell.sizeLabel, m: { connsPerSec: r.connsPerSec, connsPerCpuSec: r.connsPerCpuSec, driftKiB: r.rssDrift / 1024, lateKiBPer1000: r.lateSlopePer1000 === null ? null : r.lateSlopePer1000 / 1024, openP50ms: r.openP50ms, openP99ms: r.openP99ms, failed: r.failed, serverCpu: r.serverCpu } }];
    case "slow":
      return [{
        size: cell.sizeLabel,
        m: {
          kept: r.keptThroughput,
          growthMiB: r.rssGrowth / MiB,
          growthGcMiB: typeof r.rssGrowthAfterGc === "number" ? r.rssGrowthAfterGc / MiB : null,
          fastA: r.phaseA.perReceiverPerSec,
          fastB: r.phaseB.perReceiverPerSec,
          peakBMiB: r.rssPeakB / MiB,
          closeCode: r.slowCloseCode,
        },
      }];
    default:
      return [];
  }
}

/** Which metric a ratio to the raw baseline is taken on, per scenario (the first is the headline). */
const RATIOS = { fanout: ["msgsPerCpuSec", "msgsPerSec"], broadcast: ["msgsPerCpuSec", "msgsPerSec"], churn: ["connsPerSec", "connsPerCpuSec"], slow: ["fastB"] };
/** Metrics compared as a difference to the raw baseline instead (latency, bytes). */
const DIFFS = { echo: ["p50", "p90", "p99"], memory: ["bytesPerConn", "heapPerConn"] };
const RATIO_METRIC = Object.fromEntries(Object.entries(RATIOS).map(([k, v]) => [k, v[0]]));
const DIFF_METRIC = Object.fromEntries(Object.entries(DIFFS).map(([k, v]) => [k, v[0]]));

export function summarise(results) {
  const variants = results.meta.variants;
  const byId = Object.fromEntries(variants.map((v) => [v.id, v]));
  // values[scenario][size][variant][rep] = metrics
  const values = {};
  const flags = {};
  const sizesOrder = {};
  for (const cell of results.cells) {
    const fkey = `${cell.scenario}|${cell.variant}`;
    flags[fkey] ??= { clientBound: 0, noisy: 0, errors: 0, runs: 0, errorText: null };
    const f = flags[fkey];
    f.runs++;
    if (cell.flags.includes("client-bound")) f.clientBound++;
    if (cell.flags.includes("noisy")) f.noisy++;
    if (cell.error) {
      f.errors++;
      f.errorText ??= cell.error;
      continue;
    }
    for (const row of expand(cell)) {
      ((values[cell.scenario] ??= {})[row.size] ??= {})[cell.variant] ??= {};
      values[cell.scenario][row.size][cell.variant][cell.rep] = row.m;
      (sizesOrder[cell.scenario] ??= []).includes(row.size) || sizesOrder[cell.scenario].push(row.size);
    }
  }
  const baselineOf = (runtime, role = "baseline") => variants.find((v) => v.runtime === runtime && v.role === role)?.id;

  /** Per-repetition pairs of one metric for two variants, combined by `op`; median over repetitions. */
  const paired = (scenario, size, a, b, metric, op) => {
    const va = values[scenario]?.[size]?.[a];
    const vb = values[scenario]?.[size]?.[b];
    if (!va || !vb) return null;
    const out = [];
    for (const rep of Object.keys(va)) {
      const x = va[rep]?.[metric];
      const y = vb[rep]?.[metric];
      if (typeof x === "number" && typeof y === "number" && Number.isFinite(x) && Number.isFinite(y)) out.push(op(x, y));
    }
    return out.length ? { median: median(out), n: out.length, values: out } : null;
  };
  const ratio = (s, size, a, b, metric) => paired(s, size, a, b, metric, (x, y) => (y === 0 ? NaN : x / y));
  const diff = (s, size, a, b, metric) => paired(s, size, a, b, metric, (x, y) => x - y);

  const groups = [];
  for (const scenario of results.meta.scenarios) {
    for (const size of sizesOrder[scenario.id] ?? []) {
      const rows = [];
      for (const v of variants) {
        const reps = values[scenario.id]?.[size]?.[v.id];
        const f = flags[`${scenario.id}|${v.id}`];
        if (!reps && !f) continue;
        const metrics = {};
        for (const m of reps ? Object.values(reps) : []) {
          for (const [k, val] of Object.entries(m)) (metrics[k] ??= []).push(val);
        }
        const stats = Object.fromEntries(Object.entries(metrics).map(([k, vals]) => [k, { median: median(vals), iqr: iqr(vals), n: vals.length }]));
        const base = baselineOf(v.runtime);
        const loop = baselineOf(v.runtime, "loop");
        const rm = RATIO_METRIC[scenario.id];
        const dm = DIFF_METRIC[scenario.id];
        rows.push({
          variant: v.id,
          label: v.label,
          runtime: v.runtime,
          lib: v.lib,
          role: v.role ?? null,
          separate: v.separate,
          stats,
          vsRaw: base && base !== v.id ? (rm ? ratio(scenario.id, size, v.id, base, rm) : dm ? diff(scenario.id, size, v.id, base, dm) : null) : null,
          ratios: base && base !== v.id ? Object.fromEntries((RATIOS[scenario.id] ?? []).map((k) => [k, ratio(scenario.id, size, v.id, base, k)])) : {},
          diffs: base && base !== v.id ? Object.fromEntries((DIFFS[scenario.id] ?? []).map((k) => [k, diff(scenario.id, size, v.id, base, k)])) : {},
          vsLoop: loop && loop !== v.id && rm ? ratio(scenario.id, size, v.id, loop, rm) : null,
          flags: f ?? { clientBound: 0, noisy: 0, errors: 0, runs: 0 },
        });
      }
      groups.push({ scenario: scenario.id, title: scenario.title, size, rows, ratioMetric: RATIO_METRIC[scenario.id] ?? null, diffMetric: DIFF_METRIC[scenario.id] ?? null });
    }
  }
  return { groups, targets: evaluateTargets(results, values, { ratio, diff, baselineOf, sizesOrder }) };
}

// --- Targets ----------------------------------------------------------------------------------------

function evaluateTargets(results, values, { ratio, diff, baselineOf, sizesOrder }) {
  const present = new Set(results.meta.variants.map((v) => v.id));
  const targets = [];
  const add = (id, text, runtime, scope, measured, pass) => targets.push({ id, text, runtime, scope, measured, pass });
  const fmtRatio = (r) => (r ? `${r.median.toFixed(2)}× (n=${r.n})` : "no data");
  const sizes = (s) => sizesOrder[s] ?? [];
  const bound = (scenario, size, variant) => {
    const reps = values[scenario]?.[size]?.[variant];
    if (!reps) return false;
    const cpus = Object.values(reps).map((m) => m.serverCpu).filter((x) => typeof x === "number");
    return cpus.length > 0 && median(cpus) < 0.8;
  };
  const boundNote = (scenario, size, ...ids) => {
    const b = ids.filter((id) => bound(scenario, size, id));
    return b.length ? ` — client-bound: ${b.join(", ")}` : "";
  };

  // Fan-out per server CPU-second against the raw baseline.
  for (const [runtime, base, min, name] of [["node", "node-ws", 0.95, "raw ws loop"], ["deno", "deno-raw", 0.95, "raw Deno loop"], ["bun", "bun-native", 0.9, "Bun native publish"]]) {
    const sb = `${runtime}-switchboard`;
    if (!present.has(sb) || !present.has(base)) continue;
    for (const size of sizes("fanout")) {
      const r = ratio("fanout", size, sb, base, "msgsPerCpuSec");
      add("fanout-raw", `Fan-out msgs per server CPU-s ≥ ${min} × ${name}`, runtime, size, fmtRatio(r) + boundNote("fanout", size, sb, base), r ? r.median >= min : null);
    }
  }
  // Ahead of crossws and Hono on every runtime.
  for (const runtime of ["bun", "deno", "node"]) {
    const sb = `${runtime}-switchboard`;
    if (!present.has(sb)) continue;
    for (const peer of ["crossws", "hono"]) {
      const id = `${runtime}-${peer}`;
      if (!present.has(id)) continue;
      for (const size of sizes("fanout")) {
        const r = ratio("fanout", size, sb, id, "msgsPerCpuSec");
        add("fanout-peers", `Fan-out msgs per server CPU-s ahead of ${peer}`, runtime, size, fmtRatio(r) + boundNote("fanout", size, sb, id), r ? r.median > 1 : null);
      }
    }
  }
  if (present.has("node-switchboard") && present.has("node-socketio")) {
    for (const size of sizes("fanout")) {
      const r = ratio("fanout", size, "node-switchboard", "node-socketio", "msgsPerCpuSec");
      add("fanout-socketio", "Fan-out msgs per server CPU-s ≥ 3 × socket.io", "node", size, fmtRatio(r), r ? r.median >= 3 : null);
    }
  }
  // Echo p50 within 5 µs of raw.
  for (const runtime of ["bun", "deno", "node"]) {
    const sb = `${runtime}-switchboard`;
    const base = baselineOf(runtime);
    if (!present.has(sb) || !base) continue;
    for (const size of sizes("echo")) {
      const d = diff("echo", size, sb, base, "p50");
      add("echo-p50", "Echo p50 within 5 µs of raw", runtime, size, d ? `${d.median >= 0 ? "+" : ""}${d.median.toFixed(1)} µs (n=${d.n})` : "no data", d ? d.median <= 5 : null);
    }
  }
  // Idle memory within 512 B per connection of raw, heartbeat on.
  for (const runtime of ["bun", "deno", "node"]) {
    const sb = `${runtime}-switchboard`;
    const base = baselineOf(runtime);
    if (!present.has(sb) || !base) continue;
    for (const size of sizes("memory")) {
      const d = diff("memory", size, sb, base, "bytesPerConn");
      add("memory", "Idle memory ≤ raw + 512 B per connection (heartbeat on)", runtime, size, d ? `${d.median >= 0 ? "+" : ""}${Math.round(d.median)} B/conn (n=${d.n})` : "no data", d ? d.median <= 512 : null);
    }
  }
  // No RSS drift over the churn run. The runtimes themselves grow while they warm up (JIT, heap
  // sizing), so the drift is taken against the raw server's in the same repetition.
  for (const runtime of ["bun", "deno", "node"]) {
    const sb = `${runtime}-switchboard`;
    const base = baselineOf(runtime);
    if (!present.has(sb) || !base) continue;
    for (const size of sizes("churn")) {
      const d = diff("churn", size, sb, base, "driftKiB");
      const reps = values.churn?.[size]?.[sb];
      const own = reps ? median(Object.values(reps).map((m) => m.driftKiB)) : null;
      const late = reps ? median(Object.values(reps).map((m) => m.lateKiBPer1000)) : null;
      add(
        "churn-drift",
        "No RSS drift over churn: growth from the first to the last 1,000 cycles (after GC) ≤ raw's + 1 MiB",
        runtime,
        size,
        d === null
          ? "no data"
          : `${d.median >= 0 ? "+" : ""}${Math.round(d.median)} KiB vs raw (own drift ${Math.round(own)} KiB; last-half slope ${late === null ? "n/a" : Math.round(late)} KiB per 1,000)`,
        d === null ? null : d.median <= 1024,
      );
    }
  }
  // Slow consumer: RSS within maxBufferedAmount + 10 %, fast clients keep 90 %.
  for (const runtime of ["bun", "deno", "node"]) {
    const sb = `${runtime}-switchboard`;
    if (!present.has(sb)) continue;
    for (const size of sizes("slow")) {
      const reps = values.slow?.[size]?.[sb];
      const growth = reps ? median(Object.values(reps).map((m) => m.growthMiB)) : null;
      const kept = reps ? median(Object.values(reps).map((m) => m.kept)) : null;
      const limit = (MAX_BUFFERED_AMOUNT * 1.1) / MiB;
      add("slow-rss", `Slow consumer: server RSS growth ≤ maxBufferedAmount + 10 % (${limit.toFixed(1)} MiB)`, runtime, size, growth === null ? "no data" : `+${growth.toFixed(1)} MiB`, growth === null ? null : growth <= limit);
      add("slow-kept", "Slow consumer: fast clients keep ≥ 90 % of their throughput", runtime, size, kept === null ? "no data" : `${(kept * 100).toFixed(0)} %`, kept === null ? null : kept >= 0.9);
    }
  }
  return targets;
}

// --- Formatting -------------------------------------------------------------------------------------

function num(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)} k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)} k`;
  return v.toFixed(digits);
}

const pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)} %`);
const med = (row, k) => row.stats[k]?.median ?? null;
const spread = (row, k) => {
  const s = row.stats[k];
  if (!s?.iqr || s.n < 3 || !s.median) return "";
  return ` ±${Math.round(((s.iqr[1] - s.iqr[0]) / 2 / Math.abs(s.median)) * 100)}%`;
};

function notes(row) {
  const out = [];
  if (row.flags.clientBound) out.push(`client-bound ${row.flags.clientBound}/${row.flags.runs}`);
  if (row.flags.noisy) out.push(`noisy ${row.flags.noisy}/${row.flags.runs}`);
  if (row.flags.errors) out.push(`errors ${row.flags.errors}/${row.flags.runs}: ${String(row.flags.errorText).slice(0, 90)}`);
  return out.join("; ");
}

function ratioCell(r) {
  return r ? `${r.median.toFixed(2)}×` : "–";
}

function diffCell(r, unit, digits = 1) {
  return r ? `${r.median >= 0 ? "+" : ""}${r.median.toFixed(digits)} ${unit}` : "–";
}

function table(header, rows) {
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((h, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}

function groupTable(group, rows) {
  const name = (r) => (r.lib === "switchboard" ? `**${r.label}**` : r.label);
  switch (group.scenario) {
    case "fanout":
    case "broadcast":
      return table(
        ["Variant", "msgs/s", "× raw", "msgs per server CPU-s", "× raw", "× Bun loop", "server CPU", "peak RSS", "notes"],
        rows.map((r) => [
          name(r),
          num(med(r, "msgsPerSec")) + spread(r, "msgsPerSec"),
          ratioCell(r.ratios?.msgsPerSec),
          num(med(r, "msgsPerCpuSec")) + spread(r, "msgsPerCpuSec"),
          ratioCell(r.vsRaw),
          r.runtime === "bun" ? ratioCell(r.vsLoop) : "",
          pct(med(r, "serverCpu")),
          `${num(med(r, "rssPeakMiB"))} MiB`,
          notes(r),
        ]),
      );
    case "echo":
      return table(
        ["Variant", "p50 µs", "vs raw", "p90 µs", "vs raw", "p99 µs", "vs raw", "notes"],
        rows.map((r) => [
          name(r),
          num(med(r, "p50"), 1),
          diffCell(r.diffs?.p50, "µs"),
          num(med(r, "p90"), 1),
          diffCell(r.diffs?.p90, "µs"),
          num(med(r, "p99"), 1),
          diffCell(r.diffs?.p99, "µs"),
          notes(r),
        ]),
      );
    case "memory":
      return table(
        ["Variant", "RSS bytes per idle connection", "vs raw", "JS heap bytes per connection", "vs raw", "RSS after GC", "notes"],
        rows.map((r) => [
          name(r),
          num(med(r, "bytesPerConn")),
          diffCell(r.diffs?.bytesPerConn, "B", 0),
          num(med(r, "heapPerConn")),
          diffCell(r.diffs?.heapPerConn, "B", 0),
          `${num(med(r, "rssMiB"), 1)} MiB`,
          notes(r),
        ]),
      );
    case "churn":
      return table(
        ["Variant", "connections/s", "× raw", "per server CPU-s", "× raw", "open p50 ms", "open p99 ms", "RSS drift", "last-half slope per 1,000", "failed", "server CPU", "notes"],
        rows.map((r) => [
          name(r),
          num(med(r, "connsPerSec")),
          ratioCell(r.vsRaw),
          num(med(r, "connsPerCpuSec")),
          ratioCell(r.ratios?.connsPerCpuSec),
          num(med(r, "openP50ms"), 2),
          num(med(r, "openP99ms"), 2),
          `${num(med(r, "driftKiB"))} KiB`,
          med(r, "lateKiBPer1000") === null ? "–" : `${num(med(r, "lateKiBPer1000"))} KiB`,
          num(med(r, "failed")),
          pct(med(r, "serverCpu")),
          notes(r),
        ]),
      );
    case "slow":
      return table(
        ["Variant", "fast client msgs/s before", "with a paused client", "× raw", "kept", "server RSS growth (peak)", "after GC", "peak RSS", "paused client closed with", "notes"],
        rows.map((r) => [
          name(r),
          num(med(r, "fastA")),
          num(med(r, "fastB")),
          ratioCell(r.vsRaw),
          pct(med(r, "kept")),
          `${num(med(r, "growthMiB"), 1)} MiB`,
          med(r, "growthGcMiB") === null ? "–" : `${num(med(r, "growthGcMiB"), 1)} MiB`,
          `${num(med(r, "peakBMiB"))} MiB`,
          med(r, "closeCode") ? String(med(r, "closeCode")) : "none seen",
          notes(r),
        ]),
      );
    default:
      return "";
  }
}

function targetTable(targets) {
  return table(
    ["Target", "Runtime", "Scope", "Measured (median)", "Result"],
    targets.map((t) => [t.text, t.runtime, t.scope, t.measured, t.pass === null ? "n/a" : t.pass ? "PASS" : "**MISS**"]),
  );
}

// --- Markdown -------------------------------------------------------------------------------------

/** bench/FINDINGS.md, or undefined when there is none. */
export function readFindings() {
  const file = path.join(BENCH_DIR, "FINDINGS.md");
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}

/**
 * The report. `findings` is the text of bench/FINDINGS.md (full runs only), set in after the
 * target table, so that every MISS in it sits next to the measurement that explains it.
 */
export function renderMarkdown(results, summary, { chart, json, compare, findings }) {
  const m = results.meta;
  const sw = m.software;
  const out = [];
  out.push("# Benchmarks");
  out.push("");
  out.push(`> Generated by \`npm run bench${m.mode === "quick" ? " -- --quick" : ""}\` on ${m.startedAt.slice(0, 16).replace("T", " ")} UTC — ${m.mode} run, ${m.reps} repetition(s), ${m.durationSec < 120 ? `${m.durationSec} s` : `${Math.round(m.durationSec / 60)} min`}. Raw data: [\`${json}\`](${json}). Do not edit by hand: re-run the benchmark.`);
  if (m.mode === "quick") out.push("> **Quick run:** one repetition, smallest sizes and short windows. A smoke test of the harness, not a measurement.");
  if (m.label) out.push(`> Label: ${m.label}`);
  out.push("");
  out.push(table(["", ""], [
    ["Machine", `${m.machine.cpu}, ${m.machine.cpus} CPUs, ${m.machine.memoryGiB} GiB, ${m.machine.kernel}`],
    ["Layout", `server pinned to CPU ${m.layout.serverCpu}, load generator (${m.layout.loadGenerator}) to CPU ${m.layout.clientCpu}, 127.0.0.1`],
    ["Runtimes", `Node ${sw.runtimes.node}, Bun ${sw.runtimes.bun}, ${sw.runtimes.deno}`],
    ["Packages", Object.entries(sw.packages).map(([k, v]) => `${k} ${v}`).join(", ")],
    ["switchboard", `${sw.switchboard.version} @ ${sw.switchboard.commit}${sw.switchboard.uncommittedCoreChanges ? ` + ${sw.switchboard.uncommittedCoreChanges} uncommitted core file(s)` : ""}`],
    ["Load average", `${m.machine.loadavgAtStart.join(" ")} at start, ${(m.loadavgAtEnd ?? []).join(" ")} at end`],
  ]));
  out.push("");
  out.push("## Targets for switchboard");
  out.push("");
  out.push(targetTable(summary.targets));
  out.push("");
  const passed = summary.targets.filter((t) => t.pass === true).length;
  const missed = summary.targets.filter((t) => t.pass === false).length;
  out.push(`${passed} PASS, ${missed} MISS, ${summary.targets.length - passed - missed} without data. Ratios are medians of per-repetition ratios (each variant against its runtime's raw baseline in the same repetition).`);
  out.push("");
  out.push(`![Fan-out messages per server CPU-second](${chart})`);
  out.push("");
  // Hand-written: what profiling found, and the measurement behind every MISS that stands.
  if (findings) out.push(findings.trim().replace(/^# .*\n+/, ""), "");
  if (compare) out.push(renderCompare(compare, summary), "");
  let lastScenario = null;
  for (const group of summary.groups) {
    const rows = group.rows.filter((r) => !r.separate);
    if (group.scenario !== lastScenario) {
      out.push(`## ${group.title}`, "", SCENARIO_NOTES[group.scenario] ?? "", "");
      lastScenario = group.scenario;
    }
    out.push(`### ${group.size}`, "", groupTable(group, rows), "");
  }
  const separate = summary.groups.filter((g) => g.rows.some((r) => r.separate));
  if (separate.length) {
    out.push("## socket.io on Node (reported separately)", "");
    out.push("socket.io carries its own framing (Engine.IO packets, `42[\"event\",…]` JSON arrays) and its own heartbeat, so it is not a like-for-like WebSocket library; the load generator speaks raw Engine.IO v4 over the same lean client. Ratios are against Node + ws.", "");
    for (const group of separate) {
      out.push(`### ${group.title} — ${group.size}`, "", groupTable(group, group.rows.filter((r) => r.separate || r.variant === "node-ws" || r.variant === "node-switchboard")), "");
    }
  }
  out.push(METHOD);
  const flagged = results.cells.filter((c) => c.error || c.flags.includes("noisy"));
  if (flagged.length) {
    out.push("", "## Cells with errors or noise", "");
    out.push(table(["Scenario", "Size", "Variant", "Rep", "Issue"], flagged.map((c) => [c.scenario, c.sizeLabel, c.variant, String(c.rep + 1), c.error ? `error: ${c.error.slice(0, 140)}` : `other load: ${pct(c.noise.serverCoreForeign)} of the server's core, ${pct(c.noise.clientCoreForeign)} of the load generator's`])));
  }
  out.push("");
  return out.join("\n");
}

function renderCompare(before, after) {
  const old = summarise(before);
  const rows = [];
  for (const g of after.groups) {
    const og = old.groups.find((x) => x.scenario === g.scenario && x.size === g.size);
    for (const r of g.rows.filter((x) => x.lib === "switchboard")) {
      const or = og?.rows.find((x) => x.variant === r.variant);
      const key = g.ratioMetric ?? g.diffMetric;
      if (!key || !or) continue;
      const rel = (x) => (x ? (g.ratioMetric ? `${x.median.toFixed(2)}×` : `${x.median >= 0 ? "+" : ""}${x.median.toFixed(1)}`) : "–");
      rows.push([`${g.title} — ${g.size}`, r.label, key, num(med(or, key), 1), num(med(r, key), 1), rel(or.vsRaw), rel(r.vsRaw)]);
    }
  }
  return [
    `## Before and after (against ${before.meta.label || before.meta.startedAt})`,
    "",
    table(["Scenario", "Variant", "Metric", "Before", "After", "vs raw before", "vs raw after"], rows),
  ].join("\n");
}

const SCENARIO_NOTES = {
  fanout:
    "N clients each send a batch of short chat lines (3–28 characters); the server broadcasts `\"<name>: <line>\"` to every client, the sender included; the next batch starts when every client has every message (checked by count and payload bytes). Batches are about 65,536 deliveries (N=16: 256 lines per client, N=64: 16, N=256: 1). msgs/s is the median 1-second window of delivered messages; msgs per server CPU-s is all delivered messages over the server's user+system CPU time in the measured windows.",
  broadcast:
    "One producer connection sends 20 lines per batch; the server broadcasts each to every connection (the same fan-out endpoint, so it isolates fan-out from ingress).",
  echo:
    "Closed loop, one message in flight per client; round-trip time measured by the load generator from write to the last byte of the echo. 2,000 warm-up round trips, then 20,000 samples in total (capped at 8 s).",
  memory:
    "Idle connections opened in waves of 250, each library with its default heartbeat (raw Node ws runs the heartbeat from ws's README). Server RSS after a forced GC (`Bun.gc(true)`, `gc()` with `--expose-gc`), median of 3 samples; per-connection figure is the slope from a 100-connection base, so one-off costs are left out. Kernel socket buffers are not in RSS.",
  churn:
    "Open, one echo, close handshake, at a concurrency of 16. RSS after a forced GC every 1,000 cycles; drift is the last checkpoint minus the first (after 1,000 cycles), and the last-half slope is a least-squares fit over the second half of the checkpoints (a leak keeps a slope, warm-up growth does not). Connections/s counts only the active time (GC pauses excluded); at a concurrency of 16 it is bound by round-trip latency as much as by the server, so connections per server CPU-second is given too.",
  slow:
    "31 clients fan out 8 KiB lines (phase A; 8 KiB so that the paused client's backlog gets past the kernel's socket buffers within seconds). Then one more client connects and stops reading (TCP backpressure, its receive window stays small), and after a fill period phase B is measured the same way. Kept = per-fast-client throughput B / A. RSS growth = peak RSS in B minus peak RSS in A (sampled every 100 ms; the target is on this one), and the same after a forced GC at the end of each phase (what is still held, without garbage awaiting collection). The paused client is resumed at the end to see how the server closed it.",
};

const METHOD = `## Method

- One server process per cell, pinned to CPU 0 with \`taskset\`; one load-generator process pinned to CPU 1. Both on 127.0.0.1; the server picks its port and prints it. Every process is started and killed by its pid; the server is killed first so TIME_WAIT stays on its side.
- The load generator is a raw RFC 6455 client (\`Bun.connect\`): it masks its frames (pre-built per batch), parses only frame headers inbound and counts messages and payload bytes per connection, with no object per frame. Server CPU comes from \`/proc/<pid>/stat\` (utime+stime, all threads); a row whose server used under 80 % of a core is flagged **client-bound** (the load generator, not the server, was the limit).
- Each scenario runs every variant once per repetition, interleaved, with the order reversed every other repetition; figures are medians over repetitions (± is half the interquartile range, relative), and every ratio is the median of per-repetition ratios against the runtime's raw baseline in the same repetition.
- Cells are flagged **noisy** when other processes used more than 10 % of the server's core or of the load generator's core during the cell (from \`/proc/stat\`, minus our own process's CPU time).
- Raw baselines: Bun.serve with native publish (\`ws.publishText\` + \`publishToSelf\`, as Bun's own chat benchmark) and with a JS loop; \`Deno.upgradeWebSocket\` with a JS loop; Node + ws (\`noServer\`) with a JS loop and the README heartbeat. Every library runs with its defaults (heartbeats on where it has one) and \`perMessageDeflate\` off.
- Servers: \`bench/servers/*\`; switchboard through its public API (\`serve()\` from \`mod.ts\`, a controller per endpoint). Load generator: \`bench/load/\`. Runner and report: \`bench/run.mjs\`, \`bench/lib/\`.`;

// --- Console ----------------------------------------------------------------------------------------

export function renderConsole(results, summary) {
  const out = ["Targets for switchboard", targetTable(summary.targets), ""];
  for (const group of summary.groups) {
    out.push(`${group.title} — ${group.size}`, groupTable(group, group.rows), "");
  }
  return out.join("\n");
}

// --- SVG chart --------------------------------------------------------------------------------------

const COLORS = { raw: "#6b7280", "raw-loop": "#9ca3af", switchboard: "#2563eb", crossws: "#f59e0b", hono: "#ef4444", "socket.io": "#7c3aed" };

function tick(v) {
  if (v >= 1e6) return `${v / 1e6} M`;
  if (v >= 1e3) return `${v / 1e3} k`;
  return String(v);
}

function esc(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Horizontal bars, log scale: fan-out messages per server CPU-second, one panel per N. */
export function renderSvg(results, summary) {
  const groups = summary.groups.filter((g) => g.scenario === "fanout");
  const width = 960;
  const left = 250;
  const right = 110;
  const barH = 14;
  const gap = 4;
  const panelHead = 34;
  const plotW = width - left - right;
  const values = groups.flatMap((g) => g.rows.map((r) => med(r, "msgsPerCpuSec")).filter((v) => v > 0));
  // Half a decade of room under the smallest bar, so it stays visible.
  const lo = values.length ? Math.pow(10, Math.floor(Math.log10(Math.min(...values) / 3))) : 1e4;
  const hi = values.length ? Math.pow(10, Math.ceil(Math.log10(Math.max(...values)))) : 1e7;
  const x = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  let y = 56;
  const parts = [];
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Chat fan-out: messages delivered per server CPU-second (log scale, higher is better)</text>`);
  parts.push(`<text x="${width / 2}" y="42" text-anchor="middle" font-size="11" fill="#555">${esc(`${results.meta.mode} run, ${results.meta.reps} repetition(s), median; server on 1 core; hatched = client-bound`)}</text>`);
  for (const g of groups) {
    const rows = g.rows.filter((r) => med(r, "msgsPerCpuSec") > 0);
    const panelH = panelHead + rows.length * (barH + gap) + 24;
    parts.push(`<text x="10" y="${y + 18}" font-size="13" font-weight="bold">${esc(g.size)}</text>`);
    const top = y + panelHead - 6;
    const bottom = top + rows.length * (barH + gap) + 4;
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      const xv = x(d);
      parts.push(`<line x1="${xv.toFixed(1)}" y1="${top}" x2="${xv.toFixed(1)}" y2="${bottom}" stroke="#e5e7eb"/>`);
      parts.push(`<text x="${xv.toFixed(1)}" y="${bottom + 13}" text-anchor="middle" font-size="10" fill="#555">${tick(d)}</text>`);
    }
    rows.forEach((r, i) => {
      const by = top + 4 + i * (barH + gap);
      if (i > 0 && rows[i - 1].runtime !== r.runtime) {
        parts.push(`<line x1="20" y1="${by - gap / 2}" x2="${width - 20}" y2="${by - gap / 2}" stroke="#d1d5db" stroke-dasharray="3 3"/>`);
      }
      const v = med(r, "msgsPerCpuSec");
      const w = Math.max(1, x(v) - left);
      const color = COLORS[r.lib] ?? "#444";
      const bound = r.flags.clientBound > r.flags.runs / 2;
      parts.push(`<text x="${left - 8}" y="${by + barH - 3}" text-anchor="end" font-size="11"${r.lib === "switchboard" ? ' font-weight="bold"' : ""}>${esc(r.label)}</text>`);
      parts.push(`<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"${bound ? ' fill-opacity="0.55"' : ""}/>`);
      if (bound) parts.push(`<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="url(#hatch)"/>`);
      const ratio = r.vsRaw ? ` (${r.vsRaw.median.toFixed(2)}× raw)` : "";
      parts.push(`<text x="${(left + w + 4).toFixed(1)}" y="${by + barH - 3}" font-size="10">${esc(num(v) + ratio)}</text>`);
    });
    y += panelH;
  }
  if (!groups.length) parts.push(`<text x="20" y="${y + 20}" font-size="12">No fan-out data in this run.</text>`);
  // Legend.
  let lx = left;
  for (const [lib, color] of Object.entries(COLORS)) {
    const label = lib === "raw" ? "raw runtime" : lib === "raw-loop" ? "raw, JS loop (Bun)" : lib;
    parts.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${lx + 16}" y="${y + 10}" font-size="11">${esc(label)}</text>`);
    lx += 36 + Math.ceil(label.length * 6.5);
  }
  y += 24;
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern></defs>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    `</svg>`,
    "",
  ].join("\n");
}
