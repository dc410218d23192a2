// Runs one runtime to the end: output straight to the terminal, a wall-clock
// limit (SIGTERM to the group, SIGKILL after a grace period), and nothing of
// it left running afterwards.

import { spawn } from "node:child_process";
import { err } from "./output.mjs";
import { groupAlive, groupMembers, killGroup } from "./process-group.mjs";

const KILL_GRACE_MS = 5000;

let current = null;

/** The runtime's process while one is running, for the signal handlers. */
export const currentChild = () => current;

/** Resolves (never rejects) with { code, signal, spawnError, timedOut, durationMs }. */
export function runProcess(cmd, args, { cwd, limitMs }) {
  return new Promise((resolve) => {
    const started = Date.now();
    let settled = false;
    let timedOut = false;
    let timer = null;
    let killTimer = null;
    let child;

    const settle = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      current = null;
      resolve({ ...result, timedOut, durationMs: Date.now() - started });
    };

    try {
      // detached: the child leads its own process group, so the whole tree
      // (node --test workers, servers spawned by tests, ...) can be killed at once.
      child = spawn(cmd, args, { cwd, stdio: "inherit", detached: true, env: process.env });
    } catch (e) {
      settle({ code: null, signal: null, spawnError: e });
      return;
    }
    current = child;

    timer = setTimeout(() => {
      timedOut = true;
      err(`\n[run-tests] wall-clock limit of ${limitMs} ms reached, killing process group ${child.pid}`);
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
    }, limitMs);

    child.on("error", (e) => {
      if (child.pid === undefined) settle({ code: null, signal: null, spawnError: e });
      else err(`[run-tests] child process error: ${e.message}`);
    });
    child.on("exit", (code, signal) => {
      // Don't let leftovers (servers, workers) of this runtime leak into the next one.
      if (child.pid !== undefined && groupAlive(child.pid)) {
        if (!timedOut) {
          const members = groupMembers(child.pid);
          if (members.length) err(`[run-tests] killing processes left behind:\n${members.map((m) => `  ${m}`).join("\n")}`);
        }
        killGroup(child.pid, "SIGKILL");
      }
      settle({ code, signal, spawnError: null });
    });
  });
}
