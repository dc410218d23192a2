// The closing report: a table per runtime, then what went wrong, then the
// cross-runtime mismatches and notes. Returns the totals for the last line.

import { banner, fmtDuration, table } from "./format.mjs";
import { SEP, pretty } from "./junit/names.mjs";
import { summarise } from "./junit/result.mjs";
import { out } from "./output.mjs";

const MAX_LISTED = 50;
const MAX_NOTES = 10;

export function printSummary(runs, cmp) {
  const totals = { passed: 0, failed: 0, skipped: 0 };
  out(banner("summary"));
  const rows = [["runtime", "result", "passed", "failed", "skipped", "total", "duration", "exit"]];
  for (const r of runs) {
    const s = r.result ? summarise(r.result) : { passed: 0, failed: 0, skipped: 0 };
    // A runtime-level problem (no report, zero tests, missing tests, ...) counts
    // as one failure, so it shows in the last line even when no test failed.
    const runtimeFailure = r.problems.length > 0 ? 1 : 0;
    totals.passed += s.passed;
    totals.failed += s.failed + runtimeFailure;
    totals.skipped += s.skipped;
    const ok = !runtimeFailure && s.failed === 0;
    rows.push([
      r.name,
      ok ? "ok" : "FAIL",
      s.passed,
      s.failed + runtimeFailure,
      s.skipped,
      r.result ? r.result.tests.length + r.result.extraFailures.length : "-",
      fmtDuration(r.durationMs),
      r.exit ?? "-",
    ]);
  }
  for (const line of table(rows)) out(line);
  if (runs.some((r) => r.problems.length)) out("(failed includes +1 for each runtime with a runtime-level problem, listed below)");

  for (const r of runs) printFailures(r);
  printComparison(cmp);
  out("");
  return totals;
}

function printFailures(r) {
  const failed = r.result
    ? [
        ...r.result.tests.filter((t) => t.status === "failed").map((t) => ({ name: (t.file ? `${t.file}${SEP}` : "") + t.segs.map(pretty).join(SEP), message: t.message })),
        ...r.result.extraFailures,
      ]
    : [];
  if (!r.problems.length && !failed.length) return;
  out(`\n${r.name}:`);
  for (const p of r.problems) out(`  ! ${p}`);
  for (const f of failed.slice(0, MAX_LISTED)) out(`  ✗ ${pretty(f.name)}${f.message ? `\n      ${pretty(f.message)}` : ""}`);
  if (failed.length > MAX_LISTED) out(`  ... and ${failed.length - MAX_LISTED} more failed`);
}

function printComparison(cmp) {
  if (cmp.mismatches.length) {
    out(`\nTest name mismatch between runtimes (${cmp.mismatches.length}): every test must exist on every runtime (skipped counts as present)`);
    for (const m of cmp.mismatches.slice(0, MAX_LISTED)) out(`  ≠ ${m}`);
    if (cmp.mismatches.length > MAX_LISTED) out(`  ... and ${cmp.mismatches.length - MAX_LISTED} more`);
  }
  if (cmp.notes.length) {
    out(`\nNotes (${cmp.notes.length} reporter difference(s), not counted as failures):`);
    for (const n of cmp.notes.slice(0, MAX_NOTES)) out(`  - ${n}`);
    if (cmp.notes.length > MAX_NOTES) out(`  ... and ${cmp.notes.length - MAX_NOTES} more`);
  }
}
