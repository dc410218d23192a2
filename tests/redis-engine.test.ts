/**
 * The Redis engine, with a real redis-server, through the real adapter of
 * the runtime the test runs on. Each "process" is a RedisEngine with its own
 * Redis connections and its own server (helpers/redis-engine.ts); clients
 * move between them. Faults: connections cut and blocked by a TCP proxy,
 * Redis restarted empty, and a failover to a replica that missed writes.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { SwitchboardError } from "../mod.ts";
import { type FeedMessage, FeedLog } from "./helpers/feed.ts";
import { rawConnect, RawWebSocket } from "./helpers/raw-client.ts";
import { type EngineProcess, startEngineProcess } from "./helpers/redis-engine.ts";
import { type RedisProcess, redisServerPath, startRedis, waitForReplication } from "./helpers/redis-server.ts";
import { seededRandom } from "./helpers/latent-history.ts";
import { delay, waitFor } from "./helpers/server.ts";
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

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("Redis engine", { skip: noRedis }, () => {
  test("two processes are one endpoint: recorded messages from both reach every client once, in id order", async (t) => {
    const server = await redis(t);
    const a = await startEngineProcess(t, server.port);
    const b = await startEngineProcess(t, server.port);
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
    await Promise.all(readers.map((r) => r.close()));
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
    assert.equal((await a.feed.stats().catch(() => undefined))?.engine?.state ?? a.engine.state, "degraded");
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
