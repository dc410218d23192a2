/**
 * The Redis engine, with a real redis-server, through the real adapter of
 * the runtime the test runs on. Each "process" is a RedisEngine with its own
 * Redis connections and its own server (helpers/redis-engine.ts); clients
 * move between them. Faults: connections cut and blocked by a TCP proxy,
 * Redis restarted empty, and a failover to a replica that missed writes.
 */
import assert from "node:assert/strict";
import { type AddressInfo, createServer } from "node:net";
import { describe, test, type TestContext } from "node:test";
import { type Connection, type PresenceChange, type PresenceEntry, SwitchboardError, type UpgradeRequest, WebSocketController } from "../mod.ts";
import { RedisEngine } from "../src/redis/mod.ts";
import { type FeedMessage, FeedLog } from "./helpers/feed.ts";
import { rawConnect, RawWebSocket } from "./helpers/raw-client.ts";
import { type ClientLibrary, type EngineProcess, fastClient, startEngineProcess } from "./helpers/redis-engine.ts";
import { type RedisProcess, redisServerPath, startRedis, waitForReplication } from "./helpers/redis-server.ts";
import { seededRandom } from "./helpers/latent-history.ts";
import { delay, startServer, type TestServer, waitFor } from "./helpers/server.ts";
import { startTcpProxy } from "./helpers/tcp-proxy.ts";

// CI installs redis-server (.ci/run); a machine without it skips, saying why.
const noRedis = !redisServerPath && "redis-server is not installed (not on PATH nor in /usr/bin)";

async function redis(t: TestContext, options?: { replicaOf?: number }): Promise<RedisProcess> {
  const server = await startRedis(options);
  t.after(() => server.stop());
  return server;
}

/** One client connection to a process's /feed, reading into `log` until told to stop. */
class Reader {
  readonly log: FeedLog;
  readonly ws: RawWebSocket;
  readonly done: Promise<void>;
  closeCode: number | undefined;
  #stop = false;

  private constructor(log: FeedLog, ws: RawWebSocket) {
    this.log = log;
    this.ws = ws;
    this.done = this.#read();
  }

  static async open(process: EngineProcess, log: FeedLog = new FeedLog()): Promise<Reader> {
    log.connecting();
    const ws = await process.server.connect(`/feed${log.query}`);
    return new Reader(log, ws);
  }

  async #read(): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!this.#stop && Date.now() < deadline) {
      const message = await this.ws.nextMessage(deadline - Date.now()).catch(() => undefined);
      if (!message) break;
      this.log.take(JSON.parse(message.text()) as FeedMessage);
    }
    this.closeCode = await Promise.race([this.ws.closed.then((c) => c.code), delay(2_000).then(() => undefined)]);
  }

  /** Resolves once the catch-up has arrived. */
  caughtUp(): Promise<void> {
    return waitFor(() => this.log.position !== undefined, 5_000, "the catch-up");
  }

  async close(): Promise<void> {
    this.ws.close(1000);
    await this.done;
  }

  cut(): void {
    this.#stop = true;
    this.ws.destroy();
  }
}

/** A 127.0.0.1 port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("Redis engine", { skip: noRedis }, () => {
  for (const library of ["ioredis", "iovalkey"] as const) {
    test(`two processes are one endpoint (${library}): recorded messages from both reach every client once, in id order`, async (t) => {
      await twoProcessesAreOneEndpoint(t, library);
    });
  }

  async function twoProcessesAreOneEndpoint(t: TestContext, library: ClientLibrary): Promise<void> {
    const server = await redis(t);
    const a = await startEngineProcess(t, server.port, { library });
    const b = await startEngineProcess(t, server.port, { library });
    const readers = await Promise.all([Reader.open(a), Reader.open(a), Reader.open(b), Reader.open(b)]);
    await Promise.all(readers.map((r) => r.caughtUp()));
    const sends: Promise<unknown>[] = [];
    for (let n = 1; n <= 200; n++) sends.push((n % 2 ? a : b).feed.send(n));
    const entries = (await Promise.all(sends)) as { id: number }[];
    assert.deepEqual(entries.map((e) => e.id).sort((x, y) => x - y), range(1, 200), "ids are gapless across processes");
    await waitFor(() => readers.every((r) => r.log.ids.length >= 200), 5_000, "every message everywhere");
    for (const [i, reader] of readers.entries()) assert.deepEqual(reader.log.ids, range(1, 200), `client ${i}`);
    // Unrecorded broadcasts cross too, minus `except`, which names a connection of another process.
    const excluded = [...b.feed.connections.keys()][0]!;
    assert.equal(a.feed.broadcastJson({ type: "msg", id: 0, epoch: "x", n: 0 }, { room: "feed", except: excluded }), 2, "a's own two clients");
    await waitFor(() => readers.filter((r) => r.log.ids.length === 201).length === 3, 5_000, "the unrecorded broadcast");
    await delay(100);
    assert.equal(readers.filter((r) => r.log.ids.length === 201).length, 3, "all but the excluded one");
    assert.equal((await a.feed.stats()).engine?.state, "up");
    assert.equal((await a.feed.stats()).engine?.rooms, 1, "a is subscribed to the room its clients are in");
    await Promise.all(readers.map((r) => r.close()));
    // The room's subscription goes with its last local member.
    for (const p of [a, b]) await waitFor(() => p.feed.connections.size === 0, 5_000, "the clients to go");
    for (const p of [a, b]) assert.equal((await p.feed.stats()).engine?.rooms, 0, "no subscription left");
    assert.equal(await server.command("PUBSUB", "NUMSUB", "sb:{feed:feed}:msg"), "sb:{feed:feed}:msg\n0", "Redis agrees");
  }

  test("a healthy start reports no outage; a Redis that cannot be reached is reported with ioredis's error", async (t) => {
    const server = await redis(t);
    const clients = [fastClient(server.port), fastClient(await closedPort())];
    const [healthy, unreachable] = clients.map((client) => new RedisEngine({ client })) as [RedisEngine, RedisEngine];
    const events: string[] = [];
    let reason: unknown;
    healthy.addEventListener("degraded", () => events.push("healthy degraded"));
    healthy.addEventListener("up", () => events.push("healthy up"));
    unreachable.addEventListener("degraded", (event) => {
      events.push("unreachable degraded");
      reason = (event as CustomEvent<{ error?: Error }>).detail.error;
    });
    t.after(async () => {
      for (const engine of [healthy, unreachable]) await engine.close();
      for (const client of clients) client.disconnect(); // the engine leaves the clients it was given open
    });
    await waitFor(() => events.includes("healthy up") && events.includes("unreachable degraded"), 5_000, "both to settle");
    events.sort();
    assert.deepEqual(events, ["healthy up", "unreachable degraded"].sort(), "the healthy engine said it was up, and nothing of the time it took");
    assert.match(String((reason as Error)?.message), /ECONNREFUSED/);
    assert.equal(unreachable.lastError, reason);
  });

  test("clients resuming on the other process with their position, while 600 messages are recorded from both, each get exactly 1..600", async (t) => {
    const server = await redis(t);
    const processes = [await startEngineProcess(t, server.port), await startEngineProcess(t, server.port)];
    const random = seededRandom(11);
    const total = 600;
    let sending = true;
    const logs = Array.from({ length: 10 }, () => new FeedLog());
    const visits = logs.map(async (log, i) => {
      const deadline = Date.now() + 30_000;
      for (let visit = 0; (sending || log.ids.at(-1) !== total) && Date.now() < deadline; visit++) {
        const reader = await Reader.open(processes[(i + visit) % 2]!, log);
        await delay(30 + Math.floor(random() * 150));
        if (random() < 0.5) reader.cut();
        else await reader.close();
        await reader.done;
      }
    });
    const sends: Promise<unknown>[] = [];
    for (let n = 1; n <= total; n++) {
      sends.push(processes[n % 2]!.feed.send(n));
      if (n % 5 === 0) await delay(5);
    }
    await Promise.all(sends);
    sending = false;
    await Promise.all(visits);
    for (const [i, log] of logs.entries()) {
      assert.equal(log.liveBeforeCatchUp, 0, `client ${i}: nothing live before its catch-up`);
      assert.equal(log.incompleteResumes, 0, `client ${i}: every resume was complete`);
      assert.ok(log.resumes >= 3, `client ${i} resumed ${log.resumes} times`);
      assert.deepEqual(log.ids, range(1, total), `client ${i}: exactly the sent sequence`);
    }
  });

  test("a cut subscriber link loses nothing: the process fills the gap from the stream before delivering", async (t) => {
    const server = await redis(t);
    const proxy = await startTcpProxy(server.port);
    t.after(() => proxy.close());
    const a = await startEngineProcess(t, server.port, { subscriberPort: proxy.port });
    const b = await startEngineProcess(t, server.port);
    let outages = 0;
    a.engine.addEventListener("degraded", () => outages++);
    const readers = await Promise.all([Reader.open(a), Reader.open(a)]);
    await Promise.all(readers.map((r) => r.caughtUp()));
    const total = 400;
    for (let n = 1; n <= total; n++) {
      await b.feed.send(n);
      if (n % 100 === 50) proxy.cut(); // a's subscriber drops; messages published meanwhile never reach it
    }
    await waitFor(() => readers.every((r) => r.log.ids.length >= total), 10_000, "every message on a");
    for (const [i, reader] of readers.entries()) assert.deepEqual(reader.log.ids, range(1, total), `client ${i}`);
    const stats = (await a.feed.stats()).engine!;
    assert.ok(outages >= 1, `the cuts were outages (${outages})`);
    assert.equal(stats.resyncs, 0, "no resync: the stream had everything");
    assert.equal(a.feed.connections.size, 2, "nobody was closed");
    await Promise.all(readers.map((r) => r.close()));
  });

  test("link loss: reported, recorded broadcasts reject, clients closed with 1013 after the grace, rooms filled in when it is back", async (t) => {
    const server = await redis(t);
    const proxy = await startTcpProxy(server.port);
    t.after(() => proxy.close());
    const a = await startEngineProcess(t, proxy.port, { subscriberPort: proxy.port, degradedGrace: 1_500 });
    const b = await startEngineProcess(t, server.port);
    const events: string[] = [];
    for (const name of ["degraded", "up"]) a.engine.addEventListener(name, () => events.push(name));
    const staying = await Reader.open(a);
    await staying.caughtUp();
    await b.feed.send(1);
    await waitFor(() => staying.log.ids.length === 1, 5_000, "message 1");

    proxy.block();
    await waitFor(() => a.engine.state === "degraded", 5_000, "the degraded state");
    assert.deepEqual(events, ["degraded"]);
    const stats = await a.feed.stats(); // resolves while degraded: it is where the state is read
    assert.equal(stats.engine?.state, "degraded");
    assert.ok(stats.engine!.degradedSince > 0);
    assert.ok(Number.isNaN(stats.messagesInHistory), "the history cannot be counted now");
    await assert.rejects(a.feed.send(99), (error: unknown) => {
      assert.ok(error instanceof SwitchboardError && error.code === "HISTORY_FAILED");
      assert.ok(error.cause instanceof SwitchboardError && error.cause.code === "ENGINE_UNAVAILABLE");
      return true;
    });
    for (let n = 2; n <= 11; n++) await b.feed.send(n); // recorded on b while a cannot see them
    proxy.unblock();
    await waitFor(() => a.engine.state === "up", 5_000, "the link back");
    await waitFor(() => staying.log.ids.length >= 11, 5_000, "the missed messages on a");
    assert.deepEqual(staying.log.ids, range(1, 11), "filled in from the stream, in order");
    assert.deepEqual(events, ["degraded", "up"]);

    // Past the grace, the clients go with "try again later", so that a load balancer moves them.
    proxy.block();
    await waitFor(() => a.engine.state === "degraded", 5_000, "degraded again");
    const started = Date.now();
    await staying.done;
    assert.equal(staying.closeCode, 1013);
    assert.ok(Date.now() - started >= 1_000, "not before the grace");
    const refused = await rawConnect(a.server.ws("/feed"));
    assert.ok(!(refused instanceof RawWebSocket), "no new connection while past the grace");
    assert.equal(refused.status, 503);
    proxy.unblock();
    await waitFor(() => a.engine.state === "up", 5_000, "the link back");
    const again = await Reader.open(a);
    await again.caughtUp();
    await again.close();
  });

  test("a room first joined while the link was down can be joined with catch-up once the link is back", async (t) => {
    const server = await redis(t);
    const proxy = await startTcpProxy(server.port);
    t.after(() => proxy.close());
    const a = await startEngineProcess(t, proxy.port, { subscriberPort: proxy.port, degradedGrace: 30_000 });
    proxy.block();
    await waitFor(() => a.engine.state === "degraded", 5_000, "the degraded state");
    const plain = await a.server.connect("/feed?plain"); // its join subscribes the room, and that fails
    await waitFor(() => a.feed.room("feed").size === 1, 5_000, "the plain join");
    proxy.unblock();
    await waitFor(() => a.engine.state === "up", 5_000, "the link back");
    const reader = await Reader.open(a);
    await reader.caughtUp();
    await a.feed.send(1);
    await waitFor(() => reader.log.ids.length === 1, 5_000, "message 1 live");
    assert.deepEqual(reader.log.ids, [1]);
    await reader.close();
    plain.close(1000);
  });

  test("a room left while the subscriber was down is unsubscribed once it is back (ioredis subscribes its old channels again)", async (t) => {
    const server = await redis(t);
    const proxy = await startTcpProxy(server.port);
    t.after(() => proxy.close());
    const a = await startEngineProcess(t, server.port, { subscriberPort: proxy.port, degradedGrace: 30_000 });
    const subscribers = async (channel: string) => Number((await server.command("PUBSUB", "NUMSUB", channel)).split("\n").at(-1));
    const reader = await Reader.open(a);
    await reader.caughtUp();
    assert.equal(await subscribers("sb:{feed:feed}:msg"), 1);
    proxy.block();
    await waitFor(() => a.engine.state === "degraded", 5_000, "the degraded state");
    await reader.close(); // the room's last member here leaves while the subscriber is down
    await waitFor(() => a.feed.room("feed").size === 0, 5_000, "the room empty");
    proxy.unblock();
    await waitFor(() => a.engine.state === "up", 5_000, "the link back");
    await waitFor(() => a.engine.state === "up" && a.feed.connections.size === 0, 5_000, "settled");
    const deadline = Date.now() + 2_000;
    while ((await subscribers("sb:{feed:feed}:msg")) !== 0 && Date.now() < deadline) await delay(20);
    assert.equal(await subscribers("sb:{feed:feed}:msg"), 0, "nobody here is in the room: its messages must not come here");
    assert.equal(await subscribers("sb:feed:all"), 1, "the endpoint's own channel stays");
  });

  test("Redis restarted empty: no resume is answered complete; live clients are told to resync (1012)", async (t) => {
    const server = await redis(t);
    const a = await startEngineProcess(t, server.port);
    const live = await Reader.open(a);
    const leaving = await Reader.open(a);
    await Promise.all([live.caughtUp(), leaving.caughtUp()]);
    for (let n = 1; n <= 5; n++) await a.feed.send(n);
    await waitFor(() => leaving.log.ids.length === 5 && live.log.ids.length === 5, 5_000, "1..5");
    await leaving.close();

    await server.restart();
    await waitFor(() => a.engine.state === "up", 10_000, "the engine back on the new server");
    await a.feed.send(101); // id 1 again, in a new epoch
    await live.done;
    assert.equal(live.closeCode, 1012, "the live client's view of the room may be wrong: resync");

    const back = await Reader.open(a, leaving.log);
    await waitFor(() => back.log.ids.length === 6, 5_000, "the catch-up");
    assert.equal(back.log.incompleteResumes, 1, "the resume is not complete: the log it continued is gone");
    assert.notEqual(back.log.position?.epoch, live.log.position?.epoch, "a new epoch");
    await back.close();
  });

  test("failover to a replica that missed writes: the reissued ids are in a new epoch, so no resume is wrongly complete", async (t) => {
    const primary = await redis(t);
    const replica = await redis(t, { replicaOf: primary.port });
    const proxy = await startTcpProxy(primary.port); // the address clients know, as behind a virtual IP
    t.after(() => proxy.close());
    const a = await startEngineProcess(t, proxy.port, { subscriberPort: proxy.port, degradedGrace: 30_000 });
    const atFive = await Reader.open(a);
    await atFive.caughtUp();
    for (let n = 1; n <= 5; n++) await a.feed.send(n);
    await waitFor(() => atFive.log.ids.length === 5, 5_000, "1..5");
    await waitForReplication(primary, replica);
    await atFive.close();
    const atEight = await Reader.open(a);
    await atEight.caughtUp();

    // 6..8 reach the primary only: the replica is frozen and cut off first (a frozen replica alone
    // would still find them in its socket's buffer when it wakes).
    replica.kill("SIGSTOP");
    await primary.command("CLIENT", "KILL", "TYPE", "replica");
    for (let n = 6; n <= 8; n++) await a.feed.send(n);
    await waitFor(() => atEight.log.ids.at(-1) === 8, 5_000, "6..8");
    atEight.cut();
    primary.kill("SIGKILL");
    await primary.exited();
    replica.kill("SIGCONT");
    await replica.command("REPLICAOF", "NO", "ONE");
    proxy.retarget(replica.port);
    proxy.cut();
    await waitFor(() => a.engine.state === "up", 10_000, "the engine on the promoted replica");

    const entry = await a.feed.send(66);
    assert.equal(entry.id, 6, "the promoted replica issues id 6 again, for another message");
    assert.notEqual(entry.epoch, atEight.log.position!.epoch, "but in a new epoch");
    for (const log of [atFive.log, atEight.log]) {
      const back = await Reader.open(a, log);
      await back.caughtUp();
      await waitFor(() => back.log.resumes > 0, 5_000, "the resume");
      await back.close();
      assert.equal(log.incompleteResumes, 1, "complete: false, never a wrong replay");
      assert.equal(log.position?.epoch, entry.epoch, "now in the new epoch");
    }
  });
});

/** Joins "lobby" with a presence keyed by `?key=`, and keeps every presence change this process reports. */
class Roster extends WebSocketController<{ key: string }> {
  readonly changes: string[] = [];
  override onUpgrade(request: UpgradeRequest): { userData: { key: string } } {
    return { userData: { key: request.query.get("key") ?? "anonymous" } };
  }
  override async onConnect(conn: Connection<{ key: string }>): Promise<void> {
    conn.join("lobby");
    await conn.setPresence("lobby", { name: conn.userData.key.toUpperCase() }, { key: conn.userData.key });
    conn.sendText("tracked");
  }
  override onPresence(change: PresenceChange): void {
    this.changes.push(`${change.type} ${change.key}`);
  }
}

/** A Roster on its own engine and server, as one process. */
async function startRoster(t: TestContext, port: number, options: { presenceLease?: number; presenceGrace?: number } = {}) {
  const client = fastClient(port);
  const engine = new RedisEngine({ client, presenceLease: options.presenceLease });
  const roster = new Roster({ name: "roster", engine, presenceGrace: options.presenceGrace ?? 300 });
  const server = await startServer({ "/roster": roster });
  await waitFor(() => engine.state === "up", 5_000, "the engine to be up");
  const stop = async () => {
    await server.stop();
    await engine.close(); // closes the subscriber it made
    client.disconnect();
  };
  t.after(stop);
  /** A crash: the process's command connection goes without a word (no renewal, no removal), and its server with it. */
  const crash = async () => {
    client.disconnect();
    await server.stop();
  };
  return { roster, server, engine, stop, crash };
}

async function visit(server: TestServer, key: string): Promise<RawWebSocket> {
  const ws = await server.connect(`/roster?key=${key}`);
  assert.equal((await ws.nextMessage(5_000)).text(), "tracked");
  return ws;
}

const names = (entries: readonly PresenceEntry[]): string[] => entries.map((e) => e.key).sort();

describe("presence", () => {
  test("in one process (no engine): one join per key over two tabs, no change for a reconnect within the grace, a leave after it", async (t) => {
    const roster = new Roster({ presenceGrace: 300 });
    const server = await startServer({ "/roster": roster });
    t.after(() => server.stop());
    const tab1 = await visit(server, "ada");
    const tab2 = await visit(server, "ada");
    assert.deepEqual(names(await roster.presence("lobby")), ["ada"]);
    tab1.close(1000);
    tab2.destroy();
    await Promise.all([tab1.closed, tab2.closed]);
    const back = await visit(server, "ada"); // within the grace
    await delay(500);
    assert.deepEqual(roster.changes, ["join ada"], "no leave, no second join");
    back.close(1000);
    await waitFor(() => roster.changes.length === 2, 3_000, "the leave");
    assert.deepEqual(roster.changes, ["join ada", "leave ada"]);
    assert.deepEqual(await roster.presence("lobby"), []);
  });

  test("across processes on Redis: listed everywhere, each change reported once, a move to another process within the grace changes nothing, a crashed process's presences go within the lease", { skip: noRedis }, async (t) => {
    const server = await redis(t);
    const lease = 1_000;
    const a = await startRoster(t, server.port, { presenceLease: lease });
    const b = await startRoster(t, server.port, { presenceLease: lease });
    const c = await startRoster(t, server.port, { presenceLease: lease });
    const ada = await visit(a.server, "ada");
    const bob = await visit(b.server, "bob");
    const eve = await visit(c.server, "eve");
    for (const p of [a, b, c]) assert.deepEqual(names(await p.roster.presence("lobby")), ["ada", "bob", "eve"]);
    const all = () => [...a.roster.changes, ...b.roster.changes, ...c.roster.changes].sort();
    assert.deepEqual(all(), ["join ada", "join bob", "join eve"], "each join reported once, by one process");

    ada.destroy(); // ada's connection drops, and she comes back on another process within the grace
    await ada.closed;
    const adaAgain = await visit(b.server, "ada");
    await delay(600);
    assert.deepEqual(all(), ["join ada", "join bob", "join eve"], "no leave, no join");

    bob.close(1000);
    await waitFor(() => all().includes("leave bob"), 3_000, "bob's leave");
    assert.equal(all().filter((x) => x === "leave bob").length, 1);

    const crashed = Date.now();
    await c.crash(); // eve's process dies without a word
    await waitFor(() => all().includes("leave eve"), lease * 2 + 1_000, "eve's leave from another process's sweep");
    assert.ok(Date.now() - crashed <= lease * 1.25 + 500, `within the lease: ${Date.now() - crashed} ms`);
    assert.deepEqual(names(await a.roster.presence("lobby")), ["ada"]);
    eve.destroy();
    adaAgain.close(1000);
    await adaAgain.closed;
  });
});
