// Compares two V8 heap snapshots and prints what grew, per connection, by object type and name
// (the 30 largest), then the total.
//
//   node bench/probes/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> <connections added>
import { readFileSync } from "node:fs";
import process from "node:process";

/** Bytes and object counts per "type:name" in one snapshot. */
function totalsByKind(file) {
  const snapshot = JSON.parse(readFileSync(file, "utf8"));
  const fields = snapshot.snapshot.meta.node_fields;
  const typeNames = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const totals = new Map();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = typeNames[snapshot.nodes[i + typeAt]];
    // Strings and code are named by their content: group them by type instead.
    const name = type.includes("string") ? "(string)" : type === "code" || type === "hidden" ? `(${type})` : snapshot.strings[snapshot.nodes[i + nameAt]].slice(0, 60);
    const entry = totals.get(`${type}:${name}`) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snapshot.nodes[i + sizeAt];
    totals.set(`${type}:${name}`, entry);
  }
  return totals;
}

const [beforeFile, afterFile, added] = process.argv.slice(2);
const connections = Number(added);
const before = totalsByKind(beforeFile);
const rows = [...totalsByKind(afterFile)].map(([kind, { count, bytes }]) => ({
  kind,
  objects: (count - (before.get(kind)?.count ?? 0)) / connections,
  bytes: (bytes - (before.get(kind)?.bytes ?? 0)) / connections,
}));
rows.sort((a, b) => b.bytes - a.bytes);
for (const r of rows.slice(0, 30)) console.log(`${r.bytes.toFixed(0).padStart(6)} B/conn ${r.objects.toFixed(2).padStart(6)} obj/conn  ${r.kind}`);
console.log(`total ${(rows.reduce((sum, r) => sum + r.bytes, 0)).toFixed(0)} B/conn`);
