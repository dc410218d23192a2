#!/usr/bin/env node
// Re-renders the Markdown report and the SVG chart from a results file, without re-running.
//
//   node bench/report.mjs bench/results/<date>.json                       -> bench/RESULTS.md + bench/chart.svg
//   node bench/report.mjs bench/results/<date>.json --compare=bench/results/<before>.json
//   node bench/report.mjs bench/results/<date>.json --md=/tmp/r.md --svg=/tmp/r.svg
//   node bench/report.mjs bench/results/<date>.json --print               (tables to stdout only)
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { BENCH_DIR } from "./lib/plan.mjs";
import { readFindings, renderConsole, renderMarkdown, renderSvg, summarise } from "./lib/report.mjs";

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
const opt = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (!file) {
  console.error("usage: node bench/report.mjs <results.json> [--md=FILE] [--svg=FILE] [--compare=OLD.json] [--print]");
  process.exit(1);
}
const results = JSON.parse(readFileSync(file, "utf8"));
const summary = summarise(results);
if (args.includes("--print")) {
  console.log(renderConsole(results, summary));
  process.exit(0);
}
const md = path.resolve(opt("md") ?? path.join(BENCH_DIR, "RESULTS.md"));
const svg = path.resolve(opt("svg") ?? path.join(BENCH_DIR, "chart.svg"));
const compare = opt("compare") ? JSON.parse(readFileSync(opt("compare"), "utf8")) : null;
writeFileSync(svg, renderSvg(results, summary));
const findings = results.meta.mode === "full" ? readFindings() : undefined;
writeFileSync(md, renderMarkdown(results, summary, { chart: path.relative(path.dirname(md), svg), json: path.relative(path.dirname(md), path.resolve(file)), compare, findings }));
console.log(`wrote ${path.relative(process.cwd(), md)} and ${path.relative(process.cwd(), svg)}`);
