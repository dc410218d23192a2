// Cross-runtime comparison: every test must exist on every runtime.
//
// Tests are matched by keyOf(segs) (names.mjs), counting duplicates. A test
// missing on a runtime is a mismatch unless a known reporter difference
// explains it; those become notes instead:
//   - skipped everywhere it appears (bun omits describe.skip blocks);
//   - the runtime reported its parent as a single test (bun does not report
//     node:test subtests), or reported this test's subtests individually.

import { SEP, keyOf, pretty } from "./junit/names.mjs";

/** runs: [{ name, result }] with result as in junit/result.mjs.
 *  Returns { mismatches: [line], notes: [line], missingOn: Set(runtime) }. */
export function compareRuntimes(runs) {
  const index = new Map(); // key -> { segs, files: Set, per: Map(runtime -> { count, skipped, passed }) }
  const leafKeys = new Map(); // runtime -> Set(key)
  const containerKeys = new Map(); // runtime -> Set(key of every ancestor path)
  for (const run of runs) {
    const leaves = new Set();
    const containers = new Set();
    for (const t of run.result.tests) {
      const key = keyOf(t.segs);
      leaves.add(key);
      for (let i = 1; i < t.segs.length; i++) containers.add(keyOf(t.segs.slice(0, i)));
      let entry = index.get(key);
      if (!entry) index.set(key, (entry = { segs: t.segs, files: new Set(), per: new Map() }));
      if (t.file) entry.files.add(t.file);
      const p = entry.per.get(run.name) ?? { count: 0, skipped: 0, passed: 0 };
      p.count++;
      if (t.status === "skipped") p.skipped++;
      if (t.status === "passed") p.passed++;
      entry.per.set(run.name, p);
    }
    leafKeys.set(run.name, leaves);
    containerKeys.set(run.name, containers);
  }

  const mismatches = [];
  const notes = [];
  const missingOn = new Set();
  for (const [key, entry] of index) {
    const counts = runs.map((r) => entry.per.get(r.name)?.count ?? 0);
    const max = Math.max(...counts);
    const short = runs.filter((r, i) => counts[i] < max);
    if (!short.length) continue;
    const files = [...entry.files].sort();
    const label = files.length === 1 ? `${files[0]}${SEP}${entry.segs.map(pretty).join(SEP)}` : entry.segs.map(pretty).join(SEP) + (files.length ? `  (${files.join(", ")})` : "");
    const times = (i) => (counts[i] > 1 ? `×${counts[i]}` : "");
    const present = runs.map((r, i) => (counts[i] > 0 ? `${r.name}${times(i)}` : null)).filter(Boolean);
    const absent = runs.map((r, i) => (counts[i] === 0 ? r.name : null)).filter(Boolean);
    const fewer = runs.map((r, i) => (counts[i] > 0 && counts[i] < max ? r.name : null)).filter(Boolean);
    const where = [`on ${present.join(", ")}`, absent.length && `missing on ${absent.join(", ")}`, fewer.length && `fewer on ${fewer.join(", ")}`].filter(Boolean).join("; ");
    const skippedEverywhere = [...entry.per.values()].every((p) => p.skipped === p.count);
    if (skippedEverywhere) {
      notes.push(`${label} — skipped where present, not reported by ${short.map((r) => r.name).join(", ")} (e.g. bun omits describe.skip blocks)`);
      continue;
    }
    const unexplained = short.filter((r) => {
      // r ran the parent as a single test (bun does not report node:test subtests) ...
      const ancestors = entry.segs.slice(0, -1).map((_, i) => keyOf(entry.segs.slice(0, i + 1)));
      if (ancestors.some((a) => leafKeys.get(r.name).has(a))) return false;
      // ... or r reported this test's subtests individually.
      if (containerKeys.get(r.name).has(key)) return false;
      return true;
    });
    if (!unexplained.length) {
      notes.push(`${label} — reported as a test with/without its subtests depending on the runtime (${where})`);
      continue;
    }
    for (const r of unexplained) missingOn.add(r.name);
    const hint =
      absent.length === 1 && absent[0] === "bun" && [...entry.per.values()].every((p) => p.passed === p.count)
        ? " (an empty describe()? bun does not report those)"
        : "";
    mismatches.push(`${label}   [${where}]${hint}`);
  }
  return { mismatches, notes, missingOn };
}
