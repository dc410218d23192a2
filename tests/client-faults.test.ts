/**
 * `switchboard/client` through faults, over real sockets on the runtime
 * running the test: an in-process WireFeed (tests/helpers/wire-feed.ts)
 * behind a TCP proxy (tests/helpers/tcp-proxy.ts) that cuts, blocks and
 * stalls the link. Each case checks that the room's delivered sequence is
 * exactly 1..N (nothing lost, nothing twice, in order), what `duplicates`
 * counted, and that a closed client leaves nothing behind: no connection on
 * the server or the proxy, no timer (process.getActiveResourcesInfo()), no
 * attempt after close().
 *
 * Deno's adapter cannot cut a socket (capabilities.terminate is false):
 * `conn.terminate()` there only makes the core forget it, and the client
 * learns of it by silence ("No pong"), so the terminate case runs with a
 * short ping everywhere and checks the close it expects per runtime.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { ClientError, type ClientOptions, connect, type SwitchboardClient, type WebSocketConstructor } from "../src/client/mod.ts";
import { activeTimers, type ClientLog, recordClient, sequenceProblems, type Tap, tapWebSocket } from "./helpers/client-log.ts";
import { capabilities, delay, standardWebSocket, startServer, type TestServer, waitFor, within } from "./helpers/server.ts";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy.ts";
import { WireFeed } from "./helpers/wire-feed.ts";

const Standard = (await standardWebSocket()) as unknown as WebSocketConstructor;

/** Fast reconnects; no liveness unless a case asks. */
const FAST: ClientOptions = { minDelay: 20, maxDelay: 100, pingInterval: 0 };

/** A feed served in process (Deno: the core forgets a closing socket after 200 ms). */
async function feedServer(t: TestContext, feed = new WireFeed({ closeTimeout: 200 })): Promise<{ feed: WireFeed; server: TestServer }> {
  const server = await startServer({ "/feed": feed });
  t.after(() => server.stop());
  return { feed, server };
}

interface Rig {
  feed: WireFeed;
  server: TestServer;
  proxy: TcpProxy;
  client: SwitchboardClient;
  log: ClientLog;
  tap: Tap;
  /** Closes the client and checks that nothing of it is left; then stops the proxy and the server. */
  finish(): Promise<void>;
}

/**
 * A feed, a proxy in front of it, and a client (named `name`) through the
 * proxy. The timers of the process are counted first, so `finish()` can
 * check they are back to that count.
 */
async function rig(t: TestContext, options: ClientOptions = {}, name = "c1", feed?: WireFeed): Promise<Rig> {
  const timersBefore = activeTimers();
  const { feed: f, server } = await feedServer(t, feed);
  const proxy = await startTcpProxy(server.server.port);
  t.after(() => proxy.close());
  const tap = tapWebSocket(Standard);
  const client = connect(`ws://127.0.0.1:${proxy.port}/feed?client=${name}`, { ...FAST, WebSocket: tap.WebSocket, ...options });
  t.after(() => client.close());
  const log = recordClient(client);
  const it: Rig = {
    feed: f,
    server,
    proxy,
    client,
    log,
    tap,
    async finish() {
      client.close();
      assert.equal(client.state, "closed");
      assert.equal(client.queued, 0, "nothing held");
      await waitFor(() => it.feed.connections.size === 0, 2_000, "the server to see the client's close");
      await waitFor(() => proxy.connections === 0, 2_000, "the proxy to hold no connection");
      const attempts = tap.attempts.length;
      await proxy.close();
      await it.server.stop();
      if (timersBefore !== undefined) {
        // Back to the timers there were before the case, at once: none of the client's, none of the servers'.
        assert.ok(activeTimers()! <= timersBefore, `the timers are back to ${timersBefore}: ${activeTimers()}`);
      }
      await delay(150); // a retry timer left running would fire by now
      assert.equal(tap.attempts.length, attempts, "no attempt after close()");
    },
  };
  return it;
}

/** Records n = from..to in "feed", one after another, sleeping 1 ms every `pace` messages; `at(n)` runs before n is recorded. */
async function flood(feed: WireFeed, to: number, at: (n: number) => void | Promise<void> = () => {}, pace = 4, from = 1): Promise<void> {
  for (let n = from; n <= to; n++) {
    await at(n);
    await feed.publish(n);
    if (n % pace === 0) await delay(1);
  }
}

/** Terminates every connection of the feed. */
function terminateAll(feed: WireFeed): number {
  const conns = [...feed.connections.values()];
  for (const conn of conns) conn.terminate();
  return conns.length;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("client faults: cuts mid-flood", () => {
  test("server-side terminate 4 times during a flood of 2000: exactly 1..2000, no duplicate", { timeout: 25_000 }, async (t) => {
    // A short ping everywhere: on Deno it is how the client learns of a terminate at all.
    const r = await rig(t, { pingInterval: 100, pongTimeout: 200 });
    await waitFor(() => r.client.state === "open" && r.log.welcomes === 1, 5_000, "the first welcome");
    let terminated = 0;
    await flood(r.feed, 2000, async (n) => {
      if (![300, 700, 1100, 1500].includes(n)) return;
      // Each terminate hits a live connection that has had part of the flood.
      await waitFor(() => r.client.state === "open" && r.feed.connections.size === 1, 5_000, `the client to be open at ${n}`);
      terminated += terminateAll(r.feed);
    });
    await waitFor(() => r.log.ns("feed").length >= 2000, 10_000, "all 2000");
    await delay(50);

    assert.equal(terminated, 4);
    assert.equal(sequenceProblems(r.log.ns("feed"), 2000), "", "exactly 1..2000");
    // The core's catch-up is exact and live messages continue from it: nothing reaches the client twice.
    assert.equal(r.client.duplicates, 0);
    assert.deepEqual(r.log.resyncs, []);
    const losses = r.log.states.filter((s) => s.state === "reconnecting");
    assert.ok(losses.length >= 4, `${losses.length} reconnections for 4 terminates`);
    const expected = capabilities.terminate ? "1006" : "4000 No pong";
    for (const loss of losses) assert.equal(loss.code === 1006 ? "1006" : `${loss.code} ${loss.reason}`, expected);
    // Every connection after the first resumed from the URL: a welcome with resumed:true, no resync.
    assert.ok(r.log.welcomes >= 5);
    assert.ok(r.tap.attempts.slice(1).every((a) => new URL(a.url).searchParams.has("resume")));
    await r.finish();
  });

  test("the proxy cuts the link 3 times and blocks it for 1 s mid-flood: exactly 1..2000, failed attempts while blocked", { timeout: 25_000 }, async (t) => {
    const r = await rig(t);
    await waitFor(() => r.client.state === "open" && r.log.welcomes === 1, 5_000, "the first welcome");
    let blockedAt = 0;
    let unblockedAt = 0;
    await flood(r.feed, 2000, async (n) => {
      if ([300, 700, 1100, 1400].includes(n)) await waitFor(() => r.client.state === "open", 5_000, `the client to be open at ${n}`);
      if ([300, 700, 1100].includes(n)) r.proxy.cut();
      if (n === 1400) {
        r.proxy.block();
        blockedAt = performance.now();
      }
      if (n === 1500) {
        // 100 recorded while it is out; then the rest of the second out.
        await delay(1_000 - (performance.now() - blockedAt));
        r.proxy.unblock();
        unblockedAt = performance.now();
      }
    });
    await waitFor(() => r.log.ns("feed").length >= 2000, 10_000, "all 2000");
    await delay(50);

    assert.equal(sequenceProblems(r.log.ns("feed"), 2000), "", "exactly 1..2000");
    assert.equal(r.client.duplicates, 0);
    assert.deepEqual(r.log.resyncs, []);
    const whileBlocked = r.log.states.filter((s) => s.state === "reconnecting" && s.at > blockedAt && s.at < unblockedAt);
    assert.ok(whileBlocked.length >= 3, `attempts refused while blocked: ${whileBlocked.length}`);
    assert.ok(whileBlocked.every((s) => s.code === 1006));
    assert.ok(whileBlocked.at(-1)!.attempt >= 2, "no frame on a refused attempt: the backoff went on");
    const reopened = r.log.states.find((s) => s.state === "open" && s.at > unblockedAt);
    assert.ok(reopened, "open again after unblock()");
    assert.equal(r.log.opens, 5, "the first connection, one after each cut, one after the block");
    await r.finish();
  });

  test("a dead link (stall) mid-flood is noticed within pingInterval + pongTimeout, and resumed after unstall: exactly 1..1500", { timeout: 25_000 }, async (t) => {
    const r = await rig(t, { pingInterval: 300, pongTimeout: 300, connectTimeout: 400 });
    await waitFor(() => r.client.state === "open" && r.log.welcomes === 1, 5_000, "the first welcome");
    let stalledAt = 0;
    let unstalledAt = 0;
    await flood(r.feed, 1500, async (n) => {
      if (n === 500) {
        r.proxy.stall();
        stalledAt = performance.now();
      }
      if (n === 700) {
        // Stalled for 1.2 s: given up within 600 ms, then attempts that hang until connectTimeout.
        await waitFor(() => r.client.state === "reconnecting", 2_000, "the client to give the dead link up");
        await delay(1_200 - (performance.now() - stalledAt));
        r.proxy.unstall();
        unstalledAt = performance.now();
      }
    });
    await waitFor(() => r.log.ns("feed").length >= 1500, 10_000, "all 1500");
    await delay(50);

    const lost = r.log.states.find((s) => s.state === "reconnecting")!;
    assert.deepEqual([lost.code, lost.reason], [4000, "No pong"]);
    const lastFrame = r.tap.frames.filter((f) => f.at < lost.at).at(-1)!.at;
    const silence = lost.at - lastFrame;
    // One timer: a ping after 300 ms of silence, given up 300 ms later; timers may run late, not early.
    assert.ok(silence >= 590 && silence <= 600 + 250, `given up ${silence.toFixed(0)} ms after the last frame (bound 600)`);
    assert.ok(lost.at - stalledAt <= 600 + 250, `given up ${(lost.at - stalledAt).toFixed(0)} ms after the stall`);
    // A link given up for dead is cut, not left waiting for a closing handshake that cannot come (ws would
    // keep the socket and a 30 s timer). Deno's WebSocket has no way to cut: it stays closing until the TCP
    // connection dies (here, the cut at the end).
    const dead = r.tap.sockets[0]!;
    if (typeof dead.terminate === "function") assert.equal(dead.readyState, 3, "the dead socket is closed at once");
    const hung = r.log.states.filter((s) => s.state === "reconnecting" && s.reason === "Connect timeout");
    assert.ok(hung.length >= 1, "an attempt during the stall hung and was abandoned at connectTimeout");
    assert.ok(r.log.states.some((s) => s.state === "open" && s.at > unstalledAt), "open again after unstall()");
    assert.equal(sequenceProblems(r.log.ns("feed"), 1500), "", "exactly 1..1500");
    assert.equal(r.client.duplicates, 0);
    assert.deepEqual(r.log.resyncs, []);
    // The stalled connection is still open for the server (nothing closed it); cut it, and the live one with it.
    const opens = r.log.opens;
    r.proxy.cut();
    await waitFor(() => r.log.opens > opens && r.feed.connections.size === 1, 5_000, "the reconnection after the cut");
    await r.finish();
  });
});

/** A feed that cuts or blocks the proxy from inside a publish's effect: the effect ran, its ack is lost. */
class FaultyFeed extends WireFeed {
  readonly received: number[] = [];
  faults = new Map<number, () => void>();
  override onTextMessage(conn: Parameters<WireFeed["onTextMessage"]>[0], text: string): Promise<void> {
    const n = (JSON.parse(text) as { n?: number }).n;
    if (typeof n === "number") this.received.push(n);
    return super.onTextMessage(conn, text);
  }
  override publish(n: number, room?: string): ReturnType<WireFeed["publish"]> {
    const fault = this.faults.get(n);
    this.faults.delete(n);
    const recorded = super.publish(n, room);
    fault?.();
    return recorded;
  }
}

describe("client faults: sends", () => {
  test("50 acked publishes across a cut and a block: every promise resolves, each effect runs once, each message is recorded and received once", { timeout: 20_000 }, async (t) => {
    const feed = new FaultyFeed({ closeTimeout: 200 });
    const r = await rig(t, {}, "sender", feed);
    await waitFor(() => r.client.state === "open" && r.log.welcomes === 1, 5_000, "the first welcome");
    // The cut comes as the 10th effect runs, the block as the 30th: both effects ran, both acks are lost.
    feed.faults.set(10, () => r.proxy.cut());
    feed.faults.set(30, () => r.proxy.block());
    const send = (n: number) => r.client.send({ type: "publish", n }, { ack: true });
    const sends = range(1, 25).map(send); // in the middle of these, the cut
    await waitFor(() => r.client.state === "open" && r.log.opens === 2, 5_000, "the reconnection after the cut");
    sends.push(...range(26, 40).map(send)); // in the middle of these, the block
    await waitFor(() => r.client.state === "reconnecting", 5_000, "the block");
    sends.push(...range(41, 50).map(send)); // offline: queued
    assert.ok(r.client.queued >= 10, `held while offline: ${r.client.queued}`);
    await delay(300);
    r.proxy.unblock();
    const outcomes = await within(Promise.allSettled(sends), 10_000, "every ack");
    assert.deepEqual(outcomes.filter((o) => o.status !== "fulfilled"), [], "every promise resolved");
    await waitFor(() => r.log.ns("feed").length >= 50, 5_000, "the 50 recorded messages");
    await delay(50);

    const published = feed.published.get("feed") ?? [];
    assert.deepEqual([...published].sort((a, b) => a - b), range(1, 50), "each effect ran once");
    const history = (await feed.history.recent("feed")).map((e) => (JSON.parse(e.data as string) as { n: number }).n);
    assert.deepEqual([...history].sort((a, b) => a - b), range(1, 50), "the room's history holds each once");
    assert.deepEqual(r.log.ns("feed"), history, "the client received each recorded message once, in the room's order");
    assert.equal(r.client.duplicates, 0);
    // The retries the faults forced: the sends whose acks were lost came again, and were not run again.
    for (const n of [10, 30]) assert.ok(feed.received.filter((m) => m === n).length >= 2, `${n} was sent again`);
    assert.ok(feed.received.length > 50, `${feed.received.length} sends received for 50 publishes`);
    assert.equal(r.client.queued, 0);
    await r.finish();
  });

  test("the queue bound offline: maxQueue 5 keeps 5 of 8 plain frames, drops 3 (false + dropped), rejects acked past it with queue_full; the 5 go out in order", { timeout: 20_000 }, async (t) => {
    const r = await rig(t, { maxQueue: 5 }, "bounded");
    await waitFor(() => r.client.state === "open" && r.log.welcomes === 1, 5_000, "the first welcome");
    r.proxy.block();
    await waitFor(() => r.client.state === "reconnecting", 5_000, "offline");

    const results = range(1, 8).map((n) => r.client.send({ type: "publish", n }));
    assert.deepEqual(results, [true, true, true, true, true, false, false, false]);
    assert.deepEqual(r.log.dropped, [6, 7, 8].map((n) => ({ type: "publish", n })));
    assert.equal(r.client.queued, 5);
    const refused = await r.client.send({ type: "publish", n: 9 }, { ack: true }).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof ClientError && refused.code === "queue_full", `rejected with ${String(refused)}`);
    assert.equal(r.log.dropped.length, 4, "the refused acked send is reported as dropped too");
    assert.equal(r.client.queued, 5);

    r.proxy.unblock();
    await waitFor(() => (r.feed.published.get("feed") ?? []).length >= 5 && r.log.ns("feed").length >= 5, 5_000, "the 5 queued to be published");
    await delay(50);
    assert.deepEqual(r.feed.published.get("feed"), [1, 2, 3, 4, 5], "the 5 kept, in order, once each");
    assert.deepEqual(r.log.ns("feed"), [1, 2, 3, 4, 5]);
    assert.equal(r.client.queued, 0);

    // Unacknowledged sends count toward the bound too: 3 acked + 2 plain fill it.
    r.proxy.block();
    await waitFor(() => r.client.state === "reconnecting", 5_000, "offline again");
    const acked = [10, 11, 12].map((n) => r.client.send({ type: "publish", n }, { ack: true }));
    assert.deepEqual([13, 14, 15].map((n) => r.client.send({ type: "publish", n })), [true, true, false]);
    r.proxy.unblock();
    await within(Promise.all(acked), 5_000, "the 3 acks");
    await waitFor(() => r.log.ns("feed").length >= 10, 5_000, "10 recorded");
    assert.deepEqual(r.feed.published.get("feed"), [1, 2, 3, 4, 5, 10, 11, 12, 13, 14], "acked first, then the plain ones");
    assert.deepEqual(r.log.ns("feed"), [1, 2, 3, 4, 5, 10, 11, 12, 13, 14]);
    assert.deepEqual(r.log.dropped.at(-1), { type: "publish", n: 15 });
    await r.finish();
  });
});

describe("client faults: servers going away", () => {
  test("a restart in memory (new epoch): resync before the new room's messages, all of them delivered, nothing of the old epoch after", { timeout: 20_000 }, async (t) => {
    const r = await rig(t, {}, "restart");
    await waitFor(() => r.client.state === "open" && r.log.welcomes === 1, 5_000, "the first welcome");
    await flood(r.feed, 100);
    await waitFor(() => r.log.ns("feed").length >= 100, 5_000, "the first 100");
    const before = r.client.position("feed")!;
    assert.equal(before.id, 100);

    // The new process: its history is empty, a new epoch, and it has 150 messages (ids 1..150) before the client is back.
    const { feed: fresh, server: restarted } = await feedServer(t);
    await flood(fresh, 150);
    const epoch2 = (await fresh.history.position("feed")).epoch;
    assert.notEqual(epoch2, before.epoch);
    r.proxy.retarget(restarted.server.port);
    await r.server.stop(); // 1001 to the client, which reconnects, now to the new server
    await waitFor(() => r.log.ns("feed").length >= 250, 5_000, "the new room's 150");
    await flood(fresh, 200, undefined, 4, 151);
    await waitFor(() => r.log.ns("feed").length >= 300, 5_000, "50 live ones");
    await delay(50);

    assert.deepEqual(r.log.resyncs.map((s) => [s.room, s.position]), [["feed", before]], "one resync, of the old position");
    const resyncAt = r.log.events.indexOf(`resync:feed:${before.epoch}/100`);
    const firstNew = r.log.events.findIndex((e) => e.startsWith(`message:feed:${epoch2}/`));
    assert.ok(resyncAt >= 0 && resyncAt < firstNew, "the resync came before the new epoch's first message");
    assert.ok(r.log.events.slice(resyncAt).every((e) => !e.startsWith(`message:feed:${before.epoch}/`)), "nothing of the old epoch after it");
    const delivered = r.log.delivered("feed");
    assert.equal(sequenceProblems(delivered.filter((m) => m.epoch === before.epoch).map((m) => m.n), 100), "");
    // Ids 1..100 again, in the new epoch: new messages, not duplicates of the old ones.
    assert.equal(sequenceProblems(delivered.filter((m) => m.epoch === epoch2).map((m) => m.id), 200), "", "ids 1..200 of the new epoch");
    assert.equal(r.client.duplicates, 0);
    assert.deepEqual(r.client.position("feed"), { epoch: epoch2, id: 200 });
    // finish() checks the server the client is on now (the first one is stopped).
    r.feed = fresh;
    r.server = restarted;
    await r.finish();
  });

  test("shutdown({ reconnectWithin }): each client waits exactly the server's reconnect delay before its next attempt", { timeout: 20_000 }, async (t) => {
    const timersBefore = activeTimers();
    const { feed, server } = await feedServer(t);
    const { feed: next, server: nextServer } = await feedServer(t);
    const proxy = await startTcpProxy(server.server.port);
    t.after(() => proxy.close());
    // A backoff of up to 5 s: a client that ignored the frame would not come back on the server's time.
    const clients = range(1, 4).map((i) => {
      const tap = tapWebSocket(Standard);
      const client = connect(`ws://127.0.0.1:${proxy.port}/feed?client=s${i}`, { WebSocket: tap.WebSocket, minDelay: 5_000, maxDelay: 5_000, pingInterval: 0 });
      t.after(() => client.close());
      return { client, tap, log: recordClient(client) };
    });
    await waitFor(() => clients.every((c) => c.client.state === "open" && c.log.welcomes === 1), 5_000, "4 clients open");
    proxy.retarget(nextServer.server.port);
    await within(feed.shutdown({ reconnectWithin: 1_000 }), 5_000, "the shutdown");
    await waitFor(() => clients.every((c) => c.log.opens === 2), 5_000, "every client on the next server");

    for (const [i, { tap, log }] of clients.entries()) {
      const frame = tap.frames.map((f) => JSON.parse(f.data) as { type: string; delay?: number }).find((f) => f.type === "reconnect");
      assert.ok(frame && typeof frame.delay === "number" && frame.delay >= 0 && frame.delay < 1_000, `client ${i}: a reconnect frame ${JSON.stringify(frame)}`);
      const closed = tap.closes[0]!;
      assert.equal(closed.code, 1001);
      const waited = tap.attempts[1]!.at - closed.at;
      assert.ok(waited >= frame.delay - 2 && waited <= frame.delay + 100, `client ${i}: waited ${waited.toFixed(0)} ms for a delay of ${frame.delay.toFixed(0)}`);
      const lost = log.states.find((s) => s.state === "reconnecting")!;
      assert.equal(lost.delay, frame.delay, "the state event says the server's delay");
      assert.equal(tap.attempts.length, 2, "one attempt, on the server's time");
    }
    for (const { client } of clients) client.close();
    await waitFor(() => next.connections.size === 0 && proxy.connections === 0, 2_000, "the clients to leave");
    await proxy.close();
    await server.stop();
    await nextServer.stop();
    if (timersBefore !== undefined) assert.ok(activeTimers()! <= timersBefore, `the timers are back to ${timersBefore}: ${activeTimers()}`);
  });
});

describe("client faults: a server that sends some messages twice", () => {
  test("every 10th of 500 sent twice: exactly 1..500 delivered, 50 counted as duplicates", { timeout: 20_000 }, async (t) => {
    // As a relay that delivers some messages twice would: the same message frame again, unrecorded.
    class DoublingFeed extends WireFeed {
      override async publish(n: number, room = "feed"): ReturnType<WireFeed["publish"]> {
        const entry = await super.publish(n, room);
        if (n % 10 === 0) this.broadcastText(entry.data, { room });
        return entry;
      }
    }
    const r = await rig(t, {}, "doubled", new DoublingFeed({ closeTimeout: 200 }));
    await waitFor(() => r.client.state === "open" && r.log.welcomes === 1, 5_000, "the first welcome");
    await flood(r.feed, 500);
    const messageFrames = () => r.tap.frames.filter((f) => f.data.includes('"type":"message"')).length;
    await waitFor(() => messageFrames() >= 550, 5_000, "the 550 message frames");
    await delay(50);
    assert.equal(sequenceProblems(r.log.ns("feed"), 500), "", "exactly 1..500");
    assert.equal(r.client.duplicates, 50);
    assert.equal(messageFrames(), 550, "550 message frames came");
    await r.finish();
  });
});
