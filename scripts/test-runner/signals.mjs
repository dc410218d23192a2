// Ctrl-C and friends: the first signal is passed on to the running runtime's
// process group and stops the run after it (the summary still prints); a
// second one kills the group and exits at once.

import { FAILED_LINE, err, out } from "./output.mjs";
import { killGroup } from "./process-group.mjs";
import { currentChild } from "./run-process.mjs";

let interrupted = false;

export const isInterrupted = () => interrupted;

function forwardSignal(signal) {
  const child = currentChild();
  if (interrupted) {
    // Second signal: give up immediately.
    if (child?.pid) killGroup(child.pid, "SIGKILL");
    out(FAILED_LINE);
    process.exit(130);
  }
  interrupted = true;
  err(`\n[run-tests] received ${signal}, stopping (send again to force)`);
  if (child?.pid) killGroup(child.pid, signal);
}

export function handleSignals() {
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => forwardSignal(s));
}
