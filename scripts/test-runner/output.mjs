// Where the runner writes, and the closing line CI reads.

export const out = (line = "") => process.stdout.write(line + "\n");
export const err = (line = "") => process.stderr.write(line + "\n");

/** "N passed, N failed, N skipped": always the very last line (CI parses it). */
export const summaryLine = (totals) => `${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`;

/** The closing line for runs that end before any runtime was counted. */
export const FAILED_LINE = summaryLine({ passed: 0, failed: 1, skipped: 0 });

export function finish(totals, code) {
  out(summaryLine(totals));
  process.exitCode = code;
}
