// Small text formatting for the runner's output.

/** "12.3s" under a minute, "8m00s" from there; "-" when unknown. */
export function fmtDuration(ms) {
  if (ms == null) return "-";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s`;
}

/** Aligned columns: the first two (names) left-aligned, the rest (numbers) right-aligned. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i === 0 || i === 1 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ").trimEnd());
}

export const RULE = "=".repeat(78);

/** A section heading between the runtimes' own output. */
export const banner = (title) => `\n${RULE}\n[run-tests] ${title}\n${RULE}`;
