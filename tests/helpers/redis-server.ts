/**
 * Real redis-server processes for the Redis engine's tests, on 127.0.0.1 and
 * a free port, primaries and replicas, with no persistence. Every process is
 * tracked by pid and killed by `stop()`, `stopAllRedis()` or, as a last
 * resort, when the test process exits. Only `node:child_process` and
 * `node:net`, so it runs unchanged on Node, Bun and Deno.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";
import { parseInfo, redisCommand } from "./redis-command.ts";

/** The redis-server binary on PATH or in /usr/bin; undefined when Redis is not installed (tests skip, saying so). */
export const redisServerPath: string | undefined = findRedisServer();

function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), "/usr/bin"];
  for (const dir of dirs) {
    const candidate = path.join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: try the next directory
    }
  }
  return undefined;
}

/** How long a server may take to answer PING (and a replica to link up) after it is spawned. */
const START_TIMEOUT_MS = 5_000;
/** Attempts at a free port: another process may take the port between our probe and Redis's bind. */
const PORT_ATTEMPTS = 5;
/** The log kept per process for error messages: its last few KB. */
const LOG_LIMIT = 8_192;

/** A signal a test may send to a server: crash it, freeze it, thaw it, or ask it to shut down. */
export type RedisSignal = "SIGKILL" | "SIGSTOP" | "SIGCONT" | "SIGTERM";

/** One redis-server process, restartable on the same port. */
export interface RedisProcess {
  readonly port: number;
  /** The pid of the current process (a restart changes it). */
  readonly pid: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** One command over a fresh connection, the reply as text (nil is "", arrays one item per line); rejects on an error reply or after 2 s. */
  command(...args: string[]): Promise<string>;
  /** Sends `signal` (default SIGKILL) to the current process and returns at once; see {@linkcode exited}. */
  kill(signal?: RedisSignal): void;
  /** Resolves once the current process has exited and been reaped (its pid is gone). */
  exited(): Promise<void>;
  /** Kills the process (-9) and starts an empty one on the same port; a replica links up to its primary again. */
  restart(): Promise<void>;
  /** Kills the process (-9) and waits for it to exit; idempotent, and the server cannot be restarted afterwards. */
  stop(): Promise<void>;
}

/** A spawned process and what it printed. */
interface Spawned {
  readonly child: ChildProcess;
  /** Set once spawned. */
  pid: number;
  readonly exited: Promise<void>;
  hasExited: boolean;
  /** The tail of its stdout and stderr (Redis logs to stdout). */
  log: string;
}

let spawnCount = 0;

function redisArgs(port: number, replicaOf: number | undefined): string[] {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"];
  // A primary starts a full sync at once, instead of waiting 5 s (the default) for more replicas.
  args.push("--repl-diskless-sync-delay", "0");
  // A replica loads a full sync through a file, which it then deletes (it has no persistence). Not
  // in memory (repl-diskless-load swapdb): then Redis 7.0 waits for the replica's first periodic
  // ACK, and the first writes after the link is up reach the replica only ~1 s later.
  args.push("--repl-diskless-load", "disabled", "--rdb-del-sync-files", "yes");
  // Files go to the temp directory, never the repo, under a name no later start loads (a restart is empty).
  args.push("--dir", tmpdir(), "--dbfilename", `switchboard-redis-${process.pid}-${port}-${++spawnCount}.rdb`);
  if (replicaOf !== undefined) args.push("--replicaof", "127.0.0.1", String(replicaOf));
  return args;
}

function spawnRedis(port: number, replicaOf: number | undefined): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(redisServerPath!, redisArgs(port, replicaOf), { stdio: ["ignore", "pipe", "pipe"] });
    let onExit!: () => void;
    const exited = new Promise<void>((done) => (onExit = done));
    const spawned: Spawned = { child, pid: 0, exited, hasExited: false, log: "" };
    const append = (chunk: Uint8Array): void => {
      spawned.log = (spawned.log + new TextDecoder().decode(chunk)).slice(-LOG_LIMIT);
    };
    // Read both pipes to the end: a full pipe would block the server's logging.
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    child.once("exit", () => {
      spawned.hasExited = true;
      onExit();
    });
    child.once("error", (error) => reject(new Error(`spawning ${redisServerPath}: ${error.message}`)));
    child.once("spawn", () => {
      spawned.pid = child.pid!;
      resolve(spawned);
    });
    // A server a test forgot to stop must not keep the test process alive (Node would hang after
    // its last test): the exit hook kills it. Waiting for its exit refs it again (waitExit).
    // The pipes are sockets on all three runtimes, though typed as plain Readables.
    child.unref();
    for (const pipe of [child.stdout, child.stderr]) (pipe as { unref?: () => void } | null)?.unref?.();
  });
}

/** Resolves once the process has exited, keeping the test process alive until then. */
function waitExit(spawned: Spawned): Promise<void> {
  if (!spawned.hasExited) spawned.child.ref();
  return spawned.exited;
}

/** Sends `signal` to a process that may already be gone. */
function signal(spawned: Spawned, name: RedisSignal): void {
  if (spawned.hasExited) return;
  try {
    process.kill(spawned.pid, name);
  } catch {
    // it exited since: nothing to signal
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the process answers PING as itself (not another server that
 * took the port) and, for a replica, until its link to the primary is up.
 * Throws with the process's log, tagged `bind` when the port was taken.
 */
async function waitReady(spawned: Spawned, port: number, replicaOf: number | undefined): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (spawned.hasExited) {
      const error = new Error(`redis-server on port ${port} exited while starting; its log:\n${spawned.log}`);
      if (/Address already in use/.test(spawned.log)) error.name = "RedisBindError";
      throw error;
    }
    try {
      const info = parseInfo(await redisCommand(port, ["INFO"], 500));
      if (info.get("process_id") !== String(spawned.pid)) last = `port ${port} answered as pid ${info.get("process_id")}`;
      else if (replicaOf === undefined || info.get("master_link_status") === "up") return;
      else last = `master_link_status:${info.get("master_link_status")}`;
    } catch (error) {
      last = (error as Error).message; // not listening yet
    }
    await delay(20);
  }
  const what = replicaOf === undefined ? "answer as itself" : `link up to its primary on ${replicaOf}`;
  throw new Error(`redis-server on port ${port} (pid ${spawned.pid}) did not ${what} within ${START_TIMEOUT_MS} ms (${last}); its log:\n${spawned.log}`);
}

/** Every server not stopped yet, for stopAllRedis() and the exit hook. */
const live = new Set<RedisServer>();

class RedisServer implements RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly #replicaOf: number | undefined;
  #spawned: Spawned;
  #stopped = false;

  constructor(port: number, replicaOf: number | undefined, spawned: Spawned) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.#replicaOf = replicaOf;
    this.#spawned = spawned;
  }

  get pid(): number {
    return this.#spawned.pid;
  }

  command(...args: string[]): Promise<string> {
    return redisCommand(this.port, args);
  }

  kill(name: RedisSignal = "SIGKILL"): void {
    signal(this.#spawned, name);
  }

  exited(): Promise<void> {
    return waitExit(this.#spawned);
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new Error(`redis-server on port ${this.port} was stopped; start a new one`);
    await this.#kill9();
    // The port is ours again at once (Redis binds with SO_REUSEADDR), unless another process took it meanwhile.
    for (let attempt = 1; ; attempt++) {
      this.#spawned = await spawnRedis(this.port, this.#replicaOf);
      try {
        return await waitReady(this.#spawned, this.port, this.#replicaOf);
      } catch (error) {
        await this.#kill9();
        if ((error as Error).name !== "RedisBindError" || attempt === PORT_ATTEMPTS) throw error;
        await delay(100);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#kill9();
    live.delete(this);
  }

  /** Kills the current process, even a stopped (SIGSTOP) one, and waits until it is reaped. */
  async #kill9(): Promise<void> {
    signal(this.#spawned, "SIGKILL");
    await waitExit(this.#spawned);
  }

  /** For the exit hook: no waiting is possible there. */
  killNow(): void {
    signal(this.#spawned, "SIGKILL");
  }
}

/** A free port on 127.0.0.1: bound to 0 by a throwaway server, which is then closed. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a redis-server with no persistence on a free 127.0.0.1 port and
 * waits until it answers; with `replicaOf` (a primary's port), as a replica
 * of it, and until its replication link is up. Stop it in `after()`.
 */
export async function startRedis(options: { replicaOf?: number } = {}): Promise<RedisProcess> {
  if (!redisServerPath) throw new Error("redis-server is not installed (checked PATH and /usr/bin); skip on redisServerPath");
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const spawned = await spawnRedis(port, options.replicaOf);
    const server = new RedisServer(port, options.replicaOf, spawned);
    live.add(server); // from now on, so that stopAllRedis() reaches it even while it starts
    try {
      await waitReady(spawned, port, options.replicaOf);
      return server;
    } catch (error) {
      await server.stop();
      if ((error as Error).name !== "RedisBindError" || attempt === PORT_ATTEMPTS) throw error;
    }
  }
}

/** Stops every server started and not stopped yet, and waits for them to exit. */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...live].map((server) => server.stop()));
}

// A last resort for a test that forgot to stop its servers or a run that
// ends early: kill them as the test process exits (no waiting is possible
// then). `deno test` emits no "exit" on `process`, only "unload" on globalThis.
const killLive = (): void => {
  for (const server of live) server.killNow();
};
process.on("exit", killLive);
(globalThis as { addEventListener?: (type: string, listener: () => void) => void }).addEventListener?.("unload", killLive);

/**
 * Resolves once `replica` is linked to `primary` and has applied everything
 * it sent: the two `master_repl_offset` values are equal. Rejects after
 * `timeoutMs`, with both offsets in the message.
 */
export async function waitForReplication(primary: RedisProcess, replica: RedisProcess, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sent = parseInfo(await primary.command("INFO", "replication"));
    const applied = parseInfo(await replica.command("INFO", "replication"));
    const linked = applied.get("master_port") === String(primary.port) && applied.get("master_link_status") === "up";
    if (linked && applied.get("master_repl_offset") === sent.get("master_repl_offset")) return;
    if (Date.now() > deadline) {
      throw new Error(
        `replica on ${replica.port} did not catch up with ${primary.port} within ${timeoutMs} ms: ` +
          `master_port ${applied.get("master_port")}, link ${applied.get("master_link_status")}, ` +
          `offsets ${sent.get("master_repl_offset")} (primary) and ${applied.get("master_repl_offset")} (replica)`,
      );
    }
    await delay(10);
  }
}
