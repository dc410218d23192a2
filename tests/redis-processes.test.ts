/**
 * The Redis engine across REAL processes: the fixture
 * tests/fixtures/redis-feed-server.ts (a RelayFeed named "feed" on a
 * RedisEngine) spawned as separate Bun, Deno and Node processes on one
 * redis-server (helpers/spawn-server.ts), with raw clients on each. What
 * redis-engine.test.ts checks with two engines in one test process, here
 * with the runtimes mixed, and with a process crashed by kill -9.
 *
 * "mixed runtimes" spawns all three runtimes itself, so it runs once: when
 * this file runs under Node; under Bun and Deno it is an explicit, commented
 * skip of the same name (the runner wants the same tests on every runtime).
 * "kill -9 a process mid-flood" spawns processes of the runtime running the
 * test, so it runs on each.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { currentRuntime } from "../mod.ts";
import { type FeedMessage, FeedLog } from "./helpers/feed.ts";
import type { RawWebSocket } from "./helpers/raw-client.ts";
import { type RedisProcess, redisServerPath, startRedis } from "./helpers/redis-server.ts";
import { delay, waitFor } from "./helpers/server.ts";
import { runtimeBinaries, type ServerProcess, startFeedServer } from "./helpers/spawn-server.ts";

const runtime = currentRuntime();

// CI installs redis-server (.ci/run); a machine without it skips, saying why.
const noRedis = !redisServerPath && "redis-server is not installed (not on PATH nor in /usr/bin)";
const missing = (["bun", "deno", "node"] as const).filter((name) => !runtimeBinaries[name]);
// Spawning all three runtimes once is enough: from Node only (Bun and Deno skip it, same name).
const notMixedHere = runtime !== "node"
  ? "spawns Bun, Deno and Node processes itself, so it runs only when the tests run under Node"
  : missing.length > 0 && `no ${missing.join(", ")} binary (node_modules or PATH)`;

async function redis(t: TestContext): Promise<RedisProcess> {
  const server = await startRedis();
  t.after(() => server.stop());
  return server;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * One client over its connections: a FeedLog of the ids it was given, and
 * the `n` of each message that came live (a catch-up says ids only).
 * `open()` connects (with the last position, if any) and reads until the
 * connection ends.
 */
class Client {
  readonly name: string;
  readonly log: FeedLog = new FeedLog();
  /** The `n` of each live message, by id. */
  readonly live: Map<number, number> = new Map();
  /** Close codes of its connections that ended, in order. */
  readonly closes: number[] = [];
  ws: RawWebSocket | undefined;
  /** Resolves when the current connection has ended and its messages are read. */
  done: Promise<void> = Promise.resolve();
  #duplicates = 0;

  constructor(name: string) {
    this.name = name;
  }

  async open(server: ServerProcess): Promise<void> {
    this.log.connecting();
    const ws = await server.connect(`/feed${this.log.query}`, { timeoutMs: 5_000 });
    this.ws = ws;
    this.done = this.#read(ws);
  }

  async #read(ws: RawWebSocket): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const message = await ws.nextMessage(deadline - Date.now()).catch(() => undefined);
      if (!message) break;
      const parsed = JSON.parse(message.text()) as FeedMessage;
      this.log.take(parsed);
      if (parsed.type !== "msg") continue;
      if (this.live.has(parsed.id)) this.#duplicates++;
      this.live.set(parsed.id, parsed.n);
    }
    this.closes.push((await ws.closed).code);
  }

  caughtUp(): Promise<void> {
    return waitFor(() => this.log.position !== undefined, 5_000, `${this.name}'s catch-up`);
  }

  async close(): Promise<void> {
    this.ws?.close(1000);
    await this.done;
  }

  /**
   * Ids 1..total once each, in order; no resume incomplete, nothing live
   * before a catch-up; every message it got live is the one `reference`
   * got under that id. A client that was there from the start and never
   * resumed got every `n` 1..total live, once each.
   */
  check(total: number, reference: Client): void {
    assert.equal(this.log.liveBeforeCatchUp, 0, `${this.name}: nothing live before its catch-up`);
    assert.equal(this.log.incompleteResumes, 0, `${this.name}: every resume was complete`);
    assert.equal(this.#duplicates, 0, `${this.name}: no id twice`);
    assert.deepEqual(this.log.ids, range(1, total), `${this.name}: exactly ids 1..${total}, in order`);
    const mismatched = [...this.live].filter(([id, n]) => reference.live.get(id) !== n);
    assert.deepEqual(mismatched.slice(0, 5), [], `${this.name}: the same message under each id as ${reference.name} ([id, n])`);
    if (this.log.resumes === 0) {
      assert.deepEqual([...this.live.values()].sort((a, b) => a - b), range(1, total), `${this.name}: every n once`);
    }
  }
}

/** What a test has running, for its error messages. */
interface Scene {
  readonly clients: readonly Client[];
  readonly processes: readonly ServerProcess[];
}

/** Where every client is, and each process's engine stats and stderr. */
async function describeScene(scene: Scene): Promise<string> {
  const counts = scene.clients.map((c) => `${c.name}: ${c.log.ids.length}${c.closes.length ? ` (closed ${c.closes.join(", ")})` : ""}`).join(", ");
  const processes = await Promise.all(scene.processes.map(async (p) => {
    const stats = p.exited ? "exited" : await p.stats().then((s) => JSON.stringify(s.engine), (error: Error) => `unknown (${error.message})`);
    return `--- ${p.runtime} pid ${p.pid}: engine ${stats}${p.stderr.trim() ? `; stderr:\n${p.stderr.slice(-2_000)}` : ""}`;
  }));
  return [counts, ...processes].join("\n");
}

/** `wait`, its error with the scene. */
function explained<T>(scene: Scene, wait: Promise<T>): Promise<T> {
  return wait.catch(async (error: Error) => {
    throw new Error(`${error.message}\n${await describeScene(scene)}`);
  });
}

/** Waits until every client has `total` ids (or more: then check() says what is wrong). */
function allReceived(scene: Scene, total: number, timeoutMs: number): Promise<void> {
  return explained(scene, waitFor(() => scene.clients.every((c) => c.log.ids.length >= total), timeoutMs, `every client to get ${total} messages`));
}

/** Messages sent and not yet received by every sender, at most: each is a record on its process, one at a time per connection. */
const WINDOW = 150;

/**
 * Sends 1..total, `n` through `senders[n % senders.length]`, paced: never
 * more than WINDOW ahead of what every sender has received, so that no
 * connection's waiting messages come near maxPendingMessages (1 000: past
 * it the connection is closed with 1008), and a breather every 10. Runs
 * `after[n]` once `n` is sent.
 */
async function flood(scene: Scene, senders: readonly Client[], total: number, after: Record<number, () => Promise<void> | void> = {}): Promise<void> {
  for (let n = 1; n <= total; n++) {
    if (n % 10 === 1) {
      const behind = () => n - 1 - Math.min(...senders.map((s) => s.log.ids.length));
      await explained(scene, waitFor(() => behind() < WINDOW, 10_000, `the senders to get within ${WINDOW} of ${n - 1}`));
      await delay(1);
    }
    senders[n % senders.length]!.ws!.sendText(String(n));
    await after[n]?.();
  }
}

describe("Redis engine across processes", { skip: noRedis }, () => {
  test("mixed runtimes: Bun, Deno and Node processes are one endpoint; 1..1000 sent through all three reach every client once, in id order", { skip: notMixedHere, timeout: 60_000 }, async (t) => {
    const server = await redis(t);
    const processes = await Promise.all((["bun", "deno", "node"] as const).map((name) => startFeedServer(t, server.port, name)));
    assert.deepEqual(processes.map((p) => p.runtime), ["bun", "deno", "node"]);
    // On each process a sender (which reads too) and two readers.
    const senders = processes.map((p) => new Client(`sender on ${p.runtime}`));
    const readers = processes.flatMap((p) => [new Client(`reader 1 on ${p.runtime}`), new Client(`reader 2 on ${p.runtime}`)]);
    const clients = [...senders, ...readers];
    await Promise.all([
      ...senders.map((c, i) => c.open(processes[i]!)),
      ...readers.map((c, i) => c.open(processes[Math.floor(i / 2)]!)),
    ]);
    await Promise.all(clients.map((c) => c.caughtUp()));

    const total = 1_000;
    await flood({ clients, processes }, senders, total);
    await allReceived({ clients, processes }, total, 15_000);
    await delay(100); // anything extra would come now
    for (const client of clients) client.check(total, senders[0]!);
    for (const client of clients) assert.deepEqual(client.closes, [], `${client.name} was never closed`);
    for (const p of processes) assert.equal((await p.stats()).engine?.resyncs, 0, `${p.runtime}: no resync`);

    await Promise.all(clients.map((c) => c.close()));
    for (const p of processes) assert.equal(await p.stop(), 0, `${p.runtime} exits cleanly on SIGTERM; its stderr:\n${p.stderr}`);
  });

  test("kill -9 a process mid-flood: its clients resume on the others with their position and get the complete sequence", { timeout: 60_000 }, async (t) => {
    const server = await redis(t);
    const lease = 2_000;
    const [victim, ...others] = await Promise.all([0, 1, 2].map(() => startFeedServer(t, server.port, undefined, { PRESENCE_LEASE: String(lease) })));
    const survivors = others as [ServerProcess, ServerProcess];
    const victims = Array.from({ length: 6 }, (_, i) => new Client(`client ${i} of the killed process`));
    const senders = survivors.map((_, i) => new Client(`sender ${i}`));
    await Promise.all([...victims.map((c) => c.open(victim!)), ...senders.map((c, i) => c.open(survivors[i]!))]);
    await Promise.all([...victims, ...senders].map((c) => c.caughtUp()));

    const total = 3_000;
    const killAt = 1_000;
    let killed: Promise<void> | undefined;
    // Each of the killed process's clients, once its connection is gone, resumes on a survivor.
    const cutAt = victims.map(() => 0);
    const resumed = victims.map(async (client, i) => {
      await client.done;
      cutAt[i] = client.log.ids.length;
      await waitFor(() => killed !== undefined, 10_000, "the kill");
      await client.open(survivors[i % 2]!);
    });
    for (const resume of resumed) resume.catch(() => {}); // awaited below; a flood that fails first must not leave it unhandled
    const scene = { clients: [...senders, ...victims], processes: [victim!, ...survivors] };
    await flood(scene, senders, total, {
      // Mid-flood, with messages in flight to the victim's clients.
      [killAt]: () => void (killed = victim!.kill9()),
    });
    await killed;
    const killedAt = Date.now();
    assert.equal(victim!.exited, true);
    await Promise.all(resumed);
    // Presence: each connection is one (keyed by its id). The killed process's go by lease, found by a survivor's sweep.
    const live = victims.length + senders.length;
    let presences = -1;
    while (Date.now() < killedAt + lease * 1.25 + 2_000) {
      presences = (await survivors[0].presence()).length;
      if (presences === live) break;
      await delay(50);
    }
    assert.equal(presences, live, "the killed process's presences are gone, every live connection is one");
    const gone = Date.now() - killedAt;
    assert.ok(gone <= lease * 1.25 + 500, `the killed process's presences went ${gone} ms after the kill (lease ${lease} ms)`);
    await allReceived(scene, total, 15_000);
    await delay(100);
    for (const [i, client] of victims.entries()) {
      assert.deepEqual(client.closes, [1006], `${client.name}: its first connection ended without a close frame, the second is open`);
      assert.equal(client.log.resumes, 1, `${client.name} resumed once`);
      assert.ok(cutAt[i]! > 0 && cutAt[i]! < total, `${client.name} was cut mid-flood, after ${cutAt[i]} messages`);
    }
    for (const client of [...senders, ...victims]) client.check(total, senders[0]!);
    for (const client of senders) assert.deepEqual(client.closes, [], `${client.name} was never closed`);
    for (const p of survivors) assert.equal((await p.stats()).engine?.resyncs, 0, `pid ${p.pid}: no resync`);

    await Promise.all([...victims, ...senders].map((c) => c.close()));
    for (const p of survivors) assert.equal(await p.stop(), 0, `exits cleanly on SIGTERM; its stderr:\n${p.stderr}`);
  });
});
