// Child processes pinned to one CPU with taskset, driven by line protocols on stdin/stdout,
// stopped by their pid only. Plus /proc readers for the whole machine's CPU counters.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Every child still running, so a timeout or Ctrl-C can stop them all, one pid at a time. */
export const live = new Set();

export class Child {
  /**
   * @param {string[]} cmd  program and arguments
   * @param {{ cpu?: number, env?: Record<string,string>, cwd?: string, name: string }} options
   */
  constructor(cmd, { cpu, env, cwd, name }) {
    this.name = name;
    const argv = cpu === undefined ? cmd : ["taskset", "-c", String(cpu), ...cmd];
    // taskset execs the program, so the pid is the runtime's own.
    this.proc = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    this.pid = this.proc.pid;
    this.exitCode = undefined;
    this.stderrTail = "";
    this.stdoutTail = "";
    this.listeners = [];
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        this.exitCode = code ?? signal;
        live.delete(this);
        resolve(this.exitCode);
      });
      this.proc.on("error", (error) => {
        this.exitCode = `spawn error: ${error.message}`;
        this.stderrTail += error.message;
        live.delete(this);
        resolve(this.exitCode);
      });
    });
    live.add(this);
    let pending = "";
    this.proc.stdout.setEncoding("utf8");
    this.proc.stdout.on("data", (chunk) => {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        this.stdoutTail = (this.stdoutTail + line + "\n").slice(-2000);
        for (const listener of [...this.listeners]) listener(line);
      }
    });
    this.proc.stderr.setEncoding("utf8");
    this.proc.stderr.on("data", (chunk) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
    });
    this.proc.stdin.on("error", () => {});
  }

  get running() {
    return this.exitCode === undefined;
  }

  onLine(listener) {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Resolves with the first line matching `re` (its match), rejects on exit or after `timeoutMs`. */
  waitFor(re, timeoutMs, what = String(re)) {
    return new Promise((resolve, reject) => {
      let off = () => {};
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      off = this.onLine((line) => {
        const m = re.exec(line);
        if (!m) return;
        clearTimeout(timer);
        off();
        resolve(m);
      });
      this.exited.then((code) => {
        clearTimeout(timer);
        off();
        reject(new Error(`${this.name} exited (${code}) before ${what}: ${this.stderrTail.trim().slice(-600)}`));
      });
    });
  }

  send(line) {
    if (this.running && this.proc.stdin.writable) this.proc.stdin.write(line + "\n");
  }

  /** SIGKILL by pid, then wait (bounded) for the exit. */
  async kill(timeoutMs = 5000) {
    if (this.running) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, timeoutMs))]);
  }
}

/** Stops every live child by pid (used on timeout and interruption). */
export async function killAll() {
  await Promise.all([...live].map((child) => child.kill(2000)));
}

/** Per-CPU counters from /proc/stat: { cpu0: {busy, idle, steal, iowait}, ... }. */
export function cpuCounters() {
  const out = {};
  for (const line of readFileSync("/proc/stat", "latin1").split("\n")) {
    if (!line.startsWith("cpu")) continue;
    const [name, ...fields] = line.trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);
    out[name] = { busy: user + nice + system + irq + softirq, idle, iowait, steal };
  }
  return out;
}

/** utime + stime of a process in clock ticks, or null once it is gone. */
export function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

export function commandOutput(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}
