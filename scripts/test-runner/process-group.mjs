// A runtime's process group: every runtime is spawned as a group leader, so
// it and whatever it started (node --test workers, servers spawned by tests)
// can be signalled, checked and listed as one.

import fs from "node:fs";

/** Signals the whole group; false if it is gone (or was never there). */
export function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

export function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** "pid command line" of each live member. Linux only (reads /proc), empty
 *  elsewhere; used to say what is being killed. */
export function groupMembers(pgid) {
  const found = [];
  let pids = [];
  try {
    pids = fs.readdirSync("/proc").filter((d) => /^[0-9]+$/.test(d));
  } catch {
    return found;
  }
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state ppid pgrp ...
      if (Number(fields[2]) !== pgid || fields[0] === "Z") continue;
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      found.push(`${pid} ${cmdline.length > 120 ? cmdline.slice(0, 117) + "..." : cmdline}`);
    } catch {
      /* gone */
    }
  }
  return found;
}
