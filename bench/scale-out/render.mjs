#!/usr/bin/env node
// Re-renders the scale-out report from a results file, without re-running (FINDINGS.md included for a full run).
//
//   node bench/scale-out/render.mjs bench/scale-out/results/<date>.json             -> bench/scale-out/RESULTS.md
//   node bench/scale-out/render.mjs bench/scale-out/results/<date>.json --md=FILE
//   node bench/scale-out/render.mjs bench/scale-out/results/<date>.json --print     (tables to stdout only)
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { readFindings, renderConsole, renderMarkdown, summarise } from "./report.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
if (!file) {
  console.error("usage: node bench/scale-out/render.mjs <results.json> [--md=FILE] [--print]");
  process.exit(1);
}
const results = JSON.parse(readFileSync(file, "utf8"));
const summary = summarise(results);
if (args.includes("--print")) {
  console.log(renderConsole(results, summary));
  process.exit(0);
}
const md = path.resolve(args.find((a) => a.startsWith("--md="))?.slice(5) ?? path.join(HERE, "RESULTS.md"));
const findings = results.meta.mode === "full" ? readFindings() : undefined;
writeFileSync(md, renderMarkdown(results, summary, { json: path.relative(path.dirname(md), path.resolve(file)), findings }));
console.log(`wrote ${path.relative(process.cwd(), md)}`);
