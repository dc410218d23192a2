// One runtime, start to end: its command, the run, its report, its problems.

import fs from "node:fs";
import path from "node:path";
import { exitProblems, resultProblems } from "./checks.mjs";
import { runtimeCommand, showCommand } from "./commands.mjs";
import { banner } from "./format.mjs";
import { readReport } from "./junit/read.mjs";
import { out } from "./output.mjs";
import { runProcess } from "./run-process.mjs";
import { isInterrupted } from "./signals.mjs";

/** Returns the run: { name, problems, result, exit, durationMs, xml, aborted }.
 *  result is null when there is no readable report; exit is the exit code, the
 *  signal name, "spawn-error", or null when it did not run. */
export async function runRuntime(name, files, { testRoot, resultsDir, limitMs }) {
  const run = { name, problems: [], result: null, exit: null, durationMs: null, xml: path.join(resultsDir, `${name}.xml`) };
  if (isInterrupted()) {
    run.problems.push("not run (interrupted)");
    return run;
  }
  fs.rmSync(run.xml, { force: true }); // never read a stale report
  const { cmd, args, problem } = runtimeCommand(name, files, run.xml);
  out(banner(`${name}: ${showCommand(cmd, args)}`));
  if (problem) run.problems.push(problem);
  if (!fs.existsSync(cmd)) {
    run.problems.push(`binary not found: ${cmd} (run npm ci)`);
    return run;
  }

  const res = await runProcess(cmd, args, { cwd: testRoot, limitMs });
  run.durationMs = res.durationMs;
  run.exit = res.spawnError ? "spawn-error" : res.signal ? res.signal : res.code;
  const interrupted = isInterrupted();
  run.aborted = res.timedOut || interrupted;
  run.problems.push(...exitProblems(res, { interrupted, limitMs }));

  if (!fs.existsSync(run.xml)) {
    run.problems.push(`no JUnit report written (${path.relative(process.cwd(), run.xml) || run.xml})`);
  } else {
    try {
      run.result = readReport(name, fs.readFileSync(run.xml, "utf8"), { files, testRoot });
    } catch (e) {
      run.problems.push(`could not parse JUnit report: ${e.message}`);
    }
  }
  run.problems.push(...resultProblems(run, files));
  return run;
}
