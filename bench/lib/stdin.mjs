// The runner talks to its children (servers and load generators) by lines on their stdin.
import process from "node:process";

/**
 * Calls `onLine` with each line the runner sends (trimmed), except `exit`, which ends the
 * process, as does the end of stdin: a child never outlives its runner.
 */
export function onRunnerLines(onLine) {
  let pending = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line === "exit") process.exit(0);
      onLine(line);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}
