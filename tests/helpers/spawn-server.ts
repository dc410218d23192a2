/**
 * Real server processes for the multi-process tests: a fixture of
 * tests/fixtures/ (redis-feed-server.ts, wire-server.ts) started under Bun,
 * Deno or Node, by default whichever runtime runs the test. Each is tracked by pid: stopped with
 * SIGTERM (then SIGKILL after a bound) in the test's `after`, or crashed
 * with `kill9()`, and, as a last resort, killed when the test process
 * exits. Only `node:child_process`, so it runs unchanged on all three.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import process from "node:process";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import type { ControllerStats } from "../../mod.ts";
import { currentRuntime } from "../../src/runtime.ts";
import { connectOrThrow, type RawConnectOptions, type RawWebSocket } from "./raw-client.ts";

export type Runtime = "bun" | "deno" | "node";

const root = fileURLToPath(new URL("../..", import.meta.url));
const FEED_FIXTURE = "redis-feed-server.ts";

/** How long a server may take to print its line; Deno and tsx compile the sources first. */
const START_TIMEOUT_MS = 20_000;
/** How long a SIGTERM may take before the process is killed. */
const STOP_TIMEOUT_MS = 5_000;
/** The tail of a process's stderr kept for error messages. */
const LOG_LIMIT = 8_192;

function executable(file: string): string | undefined {
  try {
    accessSync(file, constants.X_OK);
    return file;
  } catch {
    return undefined;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const found = executable(path.join(dir, name));
    if (found) return found;
  }
  return undefined;
}

const running: Runtime = currentRuntime();

/**
 * Each runtime's binary: this process's own for the runtime running the
 * test, else the ones the repo pins (node_modules; for Deno the real binary,
 * not .bin's shim), else Node on PATH. Undefined when not installed.
 */
export const runtimeBinaries: Readonly<Record<Runtime, string | undefined>> = {
  bun: running === "bun" ? process.execPath : executable(path.join(root, "node_modules", ".bin", "bun")),
  deno: running === "deno" ? process.execPath : executable(path.join(root, "node_modules", "deno", "deno")),
  node: running === "node" ? process.execPath : onPath("node"),
};

/** The command line of a fixture under `runtime`, as scripts/test-runner/commands.mjs runs the tests. */
function command(runtime: Runtime, fixture: string, fixtureArgs: readonly string[]): { cmd: string; args: string[] } {
  const cmd = runtimeBinaries[runtime];
  if (!cmd) throw new Error(`no ${runtime} binary (looked in node_modules and on PATH)`);
  const args = {
    bun: [fixture],
    // The repo's deno.json maps ioredis and the other bare imports; -A as `deno test` allows what it needs.
    deno: ["run", "-A", `--config=${path.join(root, "deno.json")}`, fixture],
    // tsx runs the TypeScript, resolved from the repo (cwd), as the runner does.
    node: ["--import", "tsx", fixture],
  }[runtime];
  return { cmd, args: [...args, ...fixtureArgs] };
}

/** What the fixture prints once listening. */
export interface ServerLine {
  port: number;
  pid: number;
  runtime: Runtime;
}

/** A running fixture process. */
export class ServerProcess {
  readonly runtime: Runtime;
  readonly port: number;
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #exit: Promise<{ code: number | null; signal: string | null }>;
  #stderr: { text: string };
  #exited = false;

  /** @internal */
  constructor(runtime: Runtime, line: ServerLine, child: ChildProcess, exit: Promise<{ code: number | null; signal: string | null }>, stderr: { text: string }) {
    this.runtime = runtime;
    this.port = line.port;
    this.pid = line.pid;
    this.#child = child;
    this.#exit = exit.then((result) => {
      this.#exited = true;
      return result;
    });
    this.#stderr = stderr;
  }

  /** `ws://127.0.0.1:<port><path>`. */
  ws(pathname: string): string {
    return `ws://127.0.0.1:${this.port}${pathname}`;
  }

  /** Opens a raw client, failing unless the upgrade succeeds. */
  connect(pathname: string, options?: RawConnectOptions): Promise<RawWebSocket> {
    return connectOrThrow(this.ws(pathname), options);
  }

  /** The room "feed"'s presences, as the process lists them (GET /presence; redis-feed-server.ts only). */
  async presence(): Promise<{ key: string; data: unknown }[]> {
    const response = await fetch(`http://127.0.0.1:${this.port}/presence`, { signal: AbortSignal.timeout(1_000) });
    if (!response.ok) throw new Error(`GET /presence: HTTP ${response.status}`);
    return (await response.json()) as { key: string; data: unknown }[];
  }

  /** Its controller's `stats()` (GET /stats); rejects after 1 s. */
  async stats(): Promise<ControllerStats> {
    const response = await fetch(`http://127.0.0.1:${this.port}/stats`, { signal: AbortSignal.timeout(1_000) });
    if (!response.ok) throw new Error(`GET /stats: HTTP ${response.status}`);
    return (await response.json()) as ControllerStats;
  }

  /** What it wrote on stderr (the last few KB). */
  get stderr(): string {
    return this.#stderr.text;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** Resolves with how it ended, keeping the test process alive until then. */
  exit(): Promise<{ code: number | null; signal: string | null }> {
    if (!this.#exited) this.#child.ref();
    return this.#exit;
  }

  /** Crashes it: SIGKILL, and resolves once it is reaped. */
  async kill9(): Promise<void> {
    signal(this.pid, "SIGKILL");
    await this.exit();
    live.delete(this);
  }

  /**
   * Stops it: SIGTERM (it closes its clients and connections and exits),
   * SIGKILL if it has not exited within the bound. Resolves with its exit
   * code (null when it had to be killed, or was killed before); idempotent.
   */
  async stop(): Promise<number | null> {
    if (!this.#exited) {
      signal(this.pid, "SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const bound = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), STOP_TIMEOUT_MS)));
      const ended = await Promise.race([this.exit(), bound]);
      clearTimeout(timer);
      if (ended === "late") signal(this.pid, "SIGKILL");
    }
    const { code } = await this.exit();
    live.delete(this);
    return code;
  }

  /** For the exit hook: no waiting is possible there. */
  killNow(): void {
    if (!this.#exited) signal(this.pid, "SIGKILL");
  }
}

function signal(pid: number, name: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(pid, name);
  } catch {
    // it exited since: nothing to signal
  }
}

/** Every process not stopped yet, for the exit hook. */
const live = new Set<ServerProcess>();

/**
 * Starts the fixture under `runtime` (default: the runtime running the
 * test) on the Redis at `redisPort`, and resolves once it has printed its
 * line. Stopped in `t.after`. Rejects, with its stderr, if it exits first
 * or prints nothing within the bound.
 */
export function startFeedServer(t: TestContext, redisPort: number, runtime: Runtime = running, env: Record<string, string> = {}): Promise<ServerProcess> {
  return startFixtureServer(t, FEED_FIXTURE, [String(redisPort)], runtime, env);
}

/**
 * Starts `tests/fixtures/<name>` with `args` under `runtime`, and resolves
 * once it has printed its line (`{"port","pid","runtime"}`), as
 * {@linkcode startFeedServer} does.
 */
export function startFixtureServer(
  t: TestContext,
  name: string,
  fixtureArgs: readonly string[],
  runtime: Runtime = running,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const fixture = path.join(root, "tests", "fixtures", name);
  const { cmd, args } = command(runtime, fixture, fixtureArgs);
  const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", ...env } });
  const stderr = { text: "" };
  let stdout = "";
  let onExit!: (result: { code: number | null; signal: string | null }) => void;
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => (onExit = resolve));
  child.once("exit", (code, sig) => onExit({ code, signal: sig }));
  const decoder = new TextDecoder();
  // Read both pipes to the end: a full pipe would block the server.
  child.stderr!.on("data", (chunk: Uint8Array) => (stderr.text = (stderr.text + decoder.decode(chunk)).slice(-LOG_LIMIT)));
  const what = `${runtime} ${path.relative(root, fixture)}`;

  const started = new Promise<ServerProcess>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => failed(`printed no line within ${START_TIMEOUT_MS} ms (stdout so far: ${JSON.stringify(stdout)})`), START_TIMEOUT_MS);
    const failed = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.pid !== undefined) signal(child.pid, "SIGKILL");
      reject(new Error(`${what}: ${reason}; its stderr:\n${stderr.text || "(empty)"}`));
    };
    child.once("error", (error) => failed(`cannot spawn ${cmd}: ${error.message}`));
    void exit.then(({ code, signal: sig }) => failed(`exited (code ${code}, signal ${sig}) before printing its line`));
    child.stdout!.on("data", (chunk: Uint8Array) => {
      if (stdout.includes("\n")) return; // the line is read; the rest is drained
      stdout += decoder.decode(chunk);
      const newline = stdout.indexOf("\n");
      if (newline < 0) return;
      clearTimeout(timer);
      let line: ServerLine;
      try {
        line = JSON.parse(stdout.slice(0, newline)) as ServerLine;
      } catch {
        return failed(`printed ${JSON.stringify(stdout.slice(0, newline))}, not its JSON line`);
      }
      if (line.pid !== child.pid || line.runtime !== runtime || !(line.port > 0)) {
        return failed(`printed ${JSON.stringify(line)}, expected pid ${child.pid} and runtime ${runtime}`);
      }
      settled = true;
      const server = new ServerProcess(runtime, line, child, exit, stderr);
      live.add(server);
      resolve(server);
    });
  });
  // From the spawn on, whatever happens: stopped when the test ends.
  t.after(async () => {
    const server = await started.catch(() => undefined);
    if (server) await server.stop();
    else if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      // It failed to start, and was killed then: wait until it is reaped (a process that never spawned has no exit).
      signal(child.pid, "SIGKILL");
      child.ref();
      await exit;
    }
  });
  // A forgotten process must not keep the test process alive; exit() refs it again while waited for.
  child.unref();
  for (const pipe of [child.stdout, child.stderr]) (pipe as { unref?: () => void } | null)?.unref?.();
  return started;
}

// A last resort for a run that ends early: kill them as the test process
// exits. `deno test` emits no "exit" on `process`, only "unload" on globalThis.
const killLive = (): void => {
  for (const server of live) server.killNow();
};
process.on("exit", killLive);
(globalThis as { addEventListener?: (type: string, listener: () => void) => void }).addEventListener?.("unload", killLive);
