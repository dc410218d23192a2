// The results file of a bench run: written as it goes, and as a partial result when the run is stopped.
import { writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";

/**
 * `save(partial)` writes `results` (with its timing) to `file`; `abort(why)` stops every process
 * through `killAll`, saves what there is as partial and exits with 3; `finish()` marks the run
 * done, so that a late signal no longer aborts it; `isFinished()` says whether either happened.
 */
export function resultsFile(results, file, startedAt, killAll) {
  let finished = false;
  const save = (partial) => {
    results.meta.finishedAt = new Date().toISOString();
    results.meta.durationSec = Math.round((Date.now() - startedAt) / 1000);
    results.meta.partial = partial || undefined;
    writeFileSync(file, JSON.stringify(results, null, 1) + "\n");
  };
  const abort = async (why) => {
    if (finished) return;
    finished = true;
    console.error(`\n${why}: stopping every process`);
    await killAll();
    results.meta.aborted = why;
    save(true);
    console.error(`partial results: ${path.relative(process.cwd(), file)}`);
    process.exit(3);
  };
  const finish = () => {
    finished = true;
  };
  return { save, abort, finish, isFinished: () => finished };
}
