// Aggregates two V8 heap snapshots by node type and name, and prints the growth per connection.
// Usage: node bench/probes/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> <connections>
import fs from "node:fs";
function agg(file) {
  const s = JSON.parse(fs.readFileSync(file, "utf8"));
  const f = s.snapshot.meta.node_fields; const types = s.snapshot.meta.node_types[0];
  const nf = f.length, ti = f.indexOf("type"), ni = f.indexOf("name"), si = f.indexOf("self_size");
  const m = new Map();
  for (let i = 0; i < s.nodes.length; i += nf) {
    const type = types[s.nodes[i + ti]]; let name = s.strings[s.nodes[i + ni]];
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "(string)";
    if (type === "code" || type === "hidden") name = `(${type})`;
    const k = `${type}:${name.slice(0, 60)}`;
    const e = m.get(k) ?? [0, 0]; e[0]++; e[1] += s.nodes[i + si]; m.set(k, e);
  }
  return m;
}
const [a, b, n] = [agg(process.argv[2]), agg(process.argv[3]), Number(process.argv[4])];
const rows = [];
let total = 0;
for (const [k, [c, sz]] of b) { const [c0, s0] = a.get(k) ?? [0, 0]; const d = sz - s0; total += d; rows.push([k, (c - c0) / n, d / n]); }
rows.sort((x, y) => y[2] - x[2]);
for (const r of rows.slice(0, 30)) console.log(r[2].toFixed(0).padStart(6), "B/conn", r[1].toFixed(2).padStart(6), "obj/conn ", r[0]);
console.log("total", (total / n).toFixed(0), "B/conn");
