/**
 * `switchboard/client` on its own, against an in-memory WebSocket
 * (`helpers/fake-websocket.ts`) injected through the `WebSocket` option:
 * the states, the queue and acknowledged sends, the position rule (duplicates,
 * gaps, resync), `reconnect` frames, close classes, liveness, `close()` and
 * the argument checks. Real time, in small values; the real-socket smoke test
 * is `client-socket.test.ts`.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ClientError,
  type ClientMessageEvent,
  type ClientOptions,
  type ClientStateEvent,
  connect,
  type SwitchboardClient,
} from "../src/client/mod.ts";
import { backoffDelay } from "../src/client/backoff.ts";
import { fakeWebSockets, type FakeServer } from "./helpers/fake-websocket.ts";
import { delay, waitFor } from "./helpers/server.ts";

const URL_ = "ws://fake.test/ws";

/** A client on a fake server, with fast reconnects; closed by the test's `t.after`. */
function setup(t: { after(fn: () => void): void }, options: ClientOptions = {}): { client: SwitchboardClient; server: FakeServer; log: string[]; messages: ClientMessageEvent[] } {
  const server = fakeWebSockets();
  const client = connect(URL_, { WebSocket: server.WebSocket, minDelay: 5, maxDelay: 20, pingInterval: 0, ...options });
  t.after(() => client.close());
  const log: string[] = [];
  const messages: ClientMessageEvent[] = [];
  client.addEventListener("state", (e) => log.push(`state:${e.state}${e.code === undefined ? "" : `:${e.code}`}`));
  client.addEventListener("message", (e) => {
    messages.push(e);
    log.push(e.room ? `message:${e.room}:${e.position!.epoch}/${e.position!.id}` : `message:${JSON.stringify(e.data)}`);
  });
  client.addEventListener("welcome", () => log.push("welcome"));
  client.addEventListener("resync", (e) => log.push(`resync:${e.room}:${e.position.epoch}/${e.position.id}`));
  client.addEventListener("dropped", (e) => log.push(`dropped:${JSON.stringify(e.data)}`));
  client.addEventListener("left", (e) => log.push(`left:${e.room}`));
  client.addEventListener("error", (e) => log.push(`error:${e.error.message}`));
  return { client, server, log, messages };
}

const msg = (room: string, epoch: string, id: number, text = `m${id}`) => ({ type: "message", room, epoch, id, text });

/** Opens socket `n` and sends it a welcome with `rooms`. */
async function openWith(server: FakeServer, n: number, rooms: Record<string, unknown> = {}) {
  const socket = await server.socket(n);
  socket.open();
  socket.receive({ type: "welcome", rooms });
  return socket;
}

/** Timeout timers alive in this process, where the runtime can say (Node and Bun); undefined elsewhere. */
function activeTimers(): number | undefined {
  const info = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo;
  return typeof info === "function" ? info().filter((r) => r === "Timeout").length : undefined;
}

describe("client: states", () => {
  test("connecting -> open -> reconnecting -> open, with arraybuffer binaries and the URL called per attempt", async (t) => {
    const server = fakeWebSockets();
    let calls = 0;
    const client = connect(() => `${URL_}?n=${++calls}`, { WebSocket: server.WebSocket, minDelay: 5, maxDelay: 20, pingInterval: 0 });
    t.after(() => client.close());
    const states: ClientStateEvent[] = [];
    client.addEventListener("state", (e) => states.push(e));
    assert.equal(client.state, "connecting");
    const first = await server.socket(1);
    assert.equal(first.binaryType, "arraybuffer");
    assert.equal(new URL(first.url).searchParams.get("n"), "1");
    assert.equal(first.resume, undefined, "no resume without positions");
    first.open();
    assert.equal(client.state, "open");
    first.serverClose(1006);
    assert.equal(client.state, "reconnecting");
    const second = await server.socket(2);
    assert.equal(new URL(second.url).searchParams.get("n"), "2");
    second.open();
    assert.deepEqual(states.map((e) => [e.state, e.attempt, e.code]), [["open", 0, undefined], ["reconnecting", 0, 1006], ["open", 0, undefined]]);
    assert.ok(states[1]!.delay! >= 0 && states[1]!.delay! < 5, `attempt 0 waits less than minDelay: ${states[1]!.delay}`);
  });

  test("each failed attempt backs off further, and a received frame resets the attempt", async (t) => {
    const { client, server } = setup(t, { minDelay: 2, maxDelay: 1000 });
    const waits: [number, number][] = [];
    client.addEventListener("state", (e) => e.state === "reconnecting" && waits.push([e.attempt, e.delay!]));
    (await server.socket(1)).serverClose(1006);
    (await server.socket(2)).serverClose(1006);
    (await server.socket(3)).serverClose(1006);
    const fourth = await server.socket(4);
    fourth.open();
    fourth.serverClose(1006); // opened but nothing received: the backoff goes on
    const fifth = await server.socket(5);
    fifth.open();
    fifth.receive({ type: "pong" });
    fifth.serverClose(1006);
    await server.socket(6);
    assert.deepEqual(waits.map(([a]) => a), [0, 1, 2, 3, 0]);
    for (const [attempt, wait] of waits) assert.ok(wait < Math.min(1000, 2 * 2 ** attempt), `attempt ${attempt}: ${wait}`);
  });

  test("maxAttempts spent: closed, with the last close's code", async (t) => {
    const { client, server, log } = setup(t, { maxAttempts: 2 });
    (await server.socket(1)).serverClose(1006);
    (await server.socket(2)).serverClose(1006);
    (await server.socket(3)).serverClose(1011, "boom");
    assert.equal(client.state, "closed");
    assert.deepEqual(log, ["state:reconnecting:1006", "state:reconnecting:1006", "state:closed:1011"]);
    await delay(30);
    assert.equal(server.sockets.length, 3);
  });

  test("an attempt not open within connectTimeout is abandoned and made again", async (t) => {
    const { client, server } = setup(t, { connectTimeout: 30 });
    const first = await server.socket(1);
    const second = await server.socket(2, 1_000);
    assert.ok(first.closedWith, "the first attempt was closed");
    assert.equal(client.state, "reconnecting");
    second.open();
    assert.equal(client.state, "open");
  });
});

describe("client: close classes", () => {
  test("1008 from the server: closed for good", async (t) => {
    const { client, server, log } = setup(t);
    (await openWith(server, 1)).serverClose(1008, "no login");
    assert.equal(client.state, "closed");
    await delay(30);
    assert.equal(server.sockets.length, 1);
    assert.deepEqual(log, ["state:open", "welcome", "state:closed:1008"]);
  });

  test("1012 and 4499 from the server: reconnecting; 4500: closed", async (t) => {
    const { client, server } = setup(t);
    (await openWith(server, 1)).serverClose(1012);
    assert.equal(client.state, "reconnecting");
    (await openWith(server, 2)).serverClose(4499);
    assert.equal(client.state, "reconnecting");
    (await openWith(server, 3)).serverClose(4500);
    assert.equal(client.state, "closed");
  });

  test("a close with code 0 (Deno's WebSocket, for a link that broke) is reported and retried as 1006", async (t) => {
    const seen: number[] = [];
    const { client, server, log } = setup(t, { retryable: (code) => (seen.push(code), true) });
    (await openWith(server, 1)).serverClose(0);
    assert.equal(client.state, "reconnecting");
    assert.deepEqual(seen, [1006]);
    assert.deepEqual(log.slice(0, 3), ["state:open", "welcome", "state:reconnecting:1006"]);
  });

  test("retryable overrides closeClass", async (t) => {
    const seen: [number, string][] = [];
    const { client, server } = setup(t, { retryable: (code, reason) => (seen.push([code, reason]), code === 1008) });
    (await openWith(server, 1)).serverClose(1008, "again");
    assert.equal(client.state, "reconnecting");
    (await openWith(server, 2)).serverClose(1012, "restart");
    assert.equal(client.state, "closed");
    assert.deepEqual(seen, [[1008, "again"], [1012, "restart"]]);
  });

  test("a reconnect frame: the next attempt is after exactly its delay, whatever the close code", async (t) => {
    const { client, server } = setup(t, { minDelay: 10_000, maxDelay: 10_000 });
    const waits: number[] = [];
    client.addEventListener("state", (e) => e.state === "reconnecting" && waits.push(e.delay!));
    const first = await openWith(server, 1);
    first.receive({ type: "reconnect", delay: 120 });
    const closedAt = performance.now();
    first.serverClose(1000, "shutting down"); // 1000 alone would mean "stop"
    assert.equal(client.state, "reconnecting");
    assert.deepEqual(waits, [120]);
    await server.socket(2, 2_000);
    const waited = performance.now() - closedAt;
    assert.ok(waited >= 118 && waited < 600, `waited ${waited} ms`);
    // A delay past 10 minutes is clamped, a negative one is 0.
    const second = server.last();
    second.open();
    second.receive({ type: "reconnect", delay: -5 });
    second.serverClose(1001);
    assert.deepEqual(waits, [120, 0]);
    const third = await openWith(server, 3);
    third.receive({ type: "reconnect", delay: 1e12 });
    third.serverClose(1001);
    assert.deepEqual(waits, [120, 0, 600_000]);
  });
});

describe("client: application messages", () => {
  test("JSON, text, binary, and a recorded message as its whole frame", async (t) => {
    const { server, messages } = setup(t);
    const socket = await openWith(server, 1, { r: { epoch: "e", id: 0, resumed: false, messages: [] } });
    socket.receive({ type: "chat", text: "hi" });
    socket.receive("not json");
    socket.receive("[1,2]");
    const bytes = new Uint8Array([1, 2, 3]).buffer;
    socket.receive(bytes);
    socket.receive({ type: "message", text: "no room: the application's" });
    socket.receive(msg("r", "e", 1));
    assert.deepEqual(messages.map((m) => m.data), [
      { type: "chat", text: "hi" },
      "not json",
      [1, 2],
      bytes,
      { type: "message", text: "no room: the application's" },
      msg("r", "e", 1),
    ]);
    assert.equal(messages[3]!.data instanceof ArrayBuffer, true);
    assert.equal(messages[4]!.room, undefined);
    assert.equal(messages[5]!.room, "r");
    assert.deepEqual(messages[5]!.position, { epoch: "e", id: 1 });
  });

  test("malformed protocol frames are error events, never thrown", async (t) => {
    const { server, log } = setup(t);
    const socket = await openWith(server, 1);
    socket.receive({ type: "welcome", rooms: 3 });
    socket.receive({ type: "joined", room: "r" });
    socket.receive({ type: "ack", ok: true });
    socket.receive({ type: "reconnect", delay: "soon" });
    assert.equal(log.filter((l) => l.startsWith("error:")).length, 4, log.join("\n"));
  });
});

describe("client: sends", () => {
  test("open: sent at once; strings and binary as they are, anything else as JSON", async (t) => {
    const { client, server } = setup(t);
    const socket = await openWith(server, 1);
    const bytes = new Uint8Array([7]);
    assert.equal(client.send("text"), true);
    assert.equal(client.send({ a: 1 }), true);
    assert.equal(client.send(bytes), true);
    assert.equal(client.send(42), true);
    assert.deepEqual(socket.sent, ["text", '{"a":1}', bytes, "42"]);
  });

  test("the queue is bounded (unacked sends count), overflow is dropped with an event, and the flush is unacked first, then queued", async (t) => {
    const { client, server, log } = setup(t, { maxQueue: 3 });
    assert.equal(client.send({ n: 1 }), true);
    const acked = client.send({ n: 2 }, { ack: true, key: "k2" });
    assert.equal(client.send({ n: 3 }), true);
    assert.equal(client.queued, 3);
    assert.equal(client.send({ n: 4 }), false);
    await assert.rejects(client.send({ n: 5 }, { ack: true }), (e: unknown) => e instanceof ClientError && e.code === "queue_full");
    assert.deepEqual(log.filter((l) => l.startsWith("dropped")), ['dropped:{"n":4}', 'dropped:{"n":5}']);
    const socket = await server.socket(1);
    socket.open();
    assert.deepEqual(socket.frames, [{ n: 2, ack: "k2" }, { n: 1 }, { n: 3 }]);
    assert.equal(client.queued, 1, "the acked send is held until its ack");
    socket.receive({ type: "ack", key: "k2", ok: true });
    await acked;
    assert.equal(client.queued, 0);
  });

  test("an acked send is re-sent with the same key after a reconnect, before queued frames, and resolves once", async (t) => {
    const { client, server } = setup(t);
    const first = await openWith(server, 1);
    let resolved = 0;
    const outcome = client.send({ type: "say", text: "hi" }, { ack: true }).then(() => void resolved++);
    const sent = first.frames[0] as { ack: string };
    assert.match(sent.ack, /^[A-Za-z0-9_-]{22}$/, "128 random bits, base64url");
    first.serverClose(1006);
    client.send("queued while away");
    const second = await server.socket(2);
    second.open();
    assert.deepEqual(second.frames, [{ type: "say", text: "hi", ack: sent.ack }, "queued while away"]);
    second.receive({ type: "ack", key: sent.ack, ok: true });
    second.receive({ type: "ack", key: sent.ack, ok: true }); // the first socket's copy, answered late
    await outcome;
    assert.equal(resolved, 1);
    second.serverClose(1006);
    const third = await server.socket(3);
    third.open();
    assert.deepEqual(third.frames, [], "nothing left to re-send");
  });

  test("a second send with a key in flight waits for the first's outcome instead of sending again", async (t) => {
    const { client, server } = setup(t);
    const socket = await openWith(server, 1);
    const a = client.send({ n: 1 }, { ack: true, key: "same" });
    const b = client.send({ n: 1 }, { ack: true, key: "same" });
    assert.equal(socket.sent.length, 1);
    socket.receive({ type: "ack", key: "same", ok: true });
    await Promise.all([a, b]);
  });

  test("rejects on ok:false with the server's code, and on close() with 'closed'", async (t) => {
    const { client, server } = setup(t);
    const socket = await openWith(server, 1);
    const refused = client.send({ n: 1 }, { ack: true, key: "r1" });
    socket.receive({ type: "ack", key: "r1", ok: false, error: { code: "rate_limited", message: "slow down" } });
    await assert.rejects(refused, (e: unknown) => e instanceof ClientError && e.code === "rate_limited" && e.message === "slow down");
    const pending = client.send({ n: 2 }, { ack: true });
    client.close();
    await assert.rejects(pending, (e: unknown) => e instanceof ClientError && e.code === "closed");
    await assert.rejects(client.send({ n: 3 }, { ack: true }), (e: unknown) => e instanceof ClientError && e.code === "closed");
  });
});

describe("client: positions", () => {
  test("duplicates are dropped and counted; a gap closes with 4000 and the reconnect resumes from the position", async (t) => {
    const { client, server, log } = setup(t);
    const first = await openWith(server, 1, { r: { epoch: "e", id: 5, resumed: false, messages: [msg("r", "e", 4), msg("r", "e", 5)] } });
    assert.deepEqual(client.position("r"), { epoch: "e", id: 5 });
    first.receive(msg("r", "e", 5));
    first.receive(msg("r", "e", 3));
    assert.equal(client.duplicates, 2);
    first.receive(msg("r", "e", 6));
    first.receive(msg("s", "x", 9)); // a room without a position: taken as it is
    first.receive(msg("r", "e", 8)); // 7 is missing
    assert.deepEqual(first.closedWith, { code: 4000, reason: "Gap" });
    first.receive(msg("r", "e", 9)); // from an abandoned socket: nobody listens
    assert.deepEqual(log.filter((l) => l.startsWith("message")), ["message:r:e/4", "message:r:e/5", "message:r:e/6", "message:s:x/9"]);
    assert.equal(client.state, "reconnecting");
    const second = await server.socket(2);
    assert.deepEqual(second.resume, { r: ["e", 6], s: ["x", 9] });
    assert.deepEqual([...client.positions], [["r", { epoch: "e", id: 6 }], ["s", { epoch: "x", id: 9 }]]);
  });

  test("another epoch without a welcome or joined is a gap too", async (t) => {
    const { client, server } = setup(t);
    const first = await openWith(server, 1, { r: { epoch: "e", id: 2, resumed: false, messages: [] } });
    first.receive(msg("r", "f", 3));
    assert.equal(first.closedWith?.code, 4000);
    assert.deepEqual(client.position("r"), { epoch: "e", id: 2 });
  });

  test("a welcome forgets the positions of rooms it does not name (unless joined with join()), so later resumes do not carry them", async (t) => {
    const { client, server } = setup(t);
    const first = await openWith(server, 1, { a: { epoch: "e", id: 2, resumed: false, messages: [] }, b: { epoch: "e", id: 5, resumed: false, messages: [] } });
    void client.join("c").catch(() => {});
    first.receive({ type: "joined", room: "c", epoch: "e", id: 1, resumed: false, messages: [] });
    first.serverClose(1006);
    const second = await openWith(server, 2, { a: { epoch: "e", id: 2, resumed: true, messages: [] } });
    assert.deepEqual(second.resume, { a: ["e", 2], b: ["e", 5], c: ["e", 1] }, "all sent on the attempt");
    assert.deepEqual([...client.positions.keys()].sort(), ["a", "c"], "b is no longer the client's; c it joined itself");
    second.serverClose(1006);
    const third = await server.socket(3);
    assert.deepEqual(third.resume, { a: ["e", 2], c: ["e", 1] });
  });

  test("resumed: only what follows the position; resync (before the messages) when not resumed", async (t) => {
    const { client, server, log } = setup(t);
    const first = await openWith(server, 1, { r: { epoch: "e", id: 6, resumed: false, messages: [msg("r", "e", 6)] } });
    first.serverClose(1006);
    // Resumed: the server repeats 6, then 7 and 8 follow.
    const second = await openWith(server, 2, { r: { epoch: "e", id: 8, resumed: true, messages: [msg("r", "e", 6), msg("r", "e", 7), msg("r", "e", 8)] } });
    assert.deepEqual(second.resume, { r: ["e", 6] });
    second.serverClose(1006);
    log.length = 0;
    // Not resumed (a new epoch): resync first, then all of the room's latest, then live.
    const third = await openWith(server, 3, { r: { epoch: "f", id: 2, resumed: false, messages: [msg("r", "f", 1), msg("r", "f", 2)] } });
    third.receive(msg("r", "f", 3));
    assert.deepEqual(log, ["state:open", "welcome", "resync:r:e/8", "message:r:f/1", "message:r:f/2", "message:r:f/3"]);
    assert.deepEqual(client.position("r"), { epoch: "f", id: 3 });
  });

  test("join: sends since, resolves on joined with its catch-up dispatched; re-joined after a reconnect; left rejects", async (t) => {
    const { client, server, log } = setup(t);
    const first = await openWith(server, 1);
    const joined = client.join("r");
    assert.deepEqual(first.frames, [{ type: "join", room: "r" }]);
    first.receive({ type: "joined", room: "r", epoch: "e", id: 2, resumed: false, messages: [msg("r", "e", 1), msg("r", "e", 2)] });
    const frame = await joined;
    assert.equal(frame.id, 2);
    assert.deepEqual(log.filter((l) => l.startsWith("message")), ["message:r:e/1", "message:r:e/2"]);
    first.serverClose(1006);
    const second = await server.socket(2);
    second.open();
    assert.deepEqual(second.frames, [{ type: "join", room: "r", since: { epoch: "e", id: 2 } }]);
    // A server that lost the room's continuity says so with joined, resumed: false.
    second.receive({ type: "joined", room: "r", epoch: "g", id: 1, resumed: false, messages: [msg("r", "g", 1)] });
    assert.deepEqual(log.slice(-2), ["resync:r:e/2", "message:r:g/1"]);
    const refused = client.join("secret");
    second.receive({ type: "left", room: "secret", reason: "forbidden" });
    await assert.rejects(refused, (e: unknown) => e instanceof ClientError && e.code === "left" && /forbidden/.test(e.message));
    client.leave("r");
    assert.deepEqual(second.frames.at(-1), { type: "leave", room: "r" });
    assert.equal(client.position("r"), undefined);
    second.serverClose(1006);
    const third = await server.socket(3);
    third.open();
    assert.equal(third.resume, undefined);
    assert.deepEqual(third.frames, [], "left rooms are not joined again");
  });
});

describe("client: liveness", () => {
  test("silence -> ping; no pong -> closed with 4000 and reconnected", async (t) => {
    const { client, server } = setup(t, { pingInterval: 60, pongTimeout: 60 });
    const first = await openWith(server, 1);
    const openedAt = performance.now();
    await waitFor(() => first.sent.length > 0, 1_000, "a ping");
    assert.deepEqual(first.frames, [{ type: "ping" }]);
    await waitFor(() => first.closedWith !== undefined, 1_000, "the close");
    const elapsed = performance.now() - openedAt;
    assert.deepEqual(first.closedWith, { code: 4000, reason: "No pong" });
    assert.ok(elapsed >= 110 && elapsed < 500, `noticed after ${elapsed} ms (pingInterval + pongTimeout = 120)`);
    assert.equal(client.state, "reconnecting");
    await server.socket(2);
  });

  test("frames and pongs keep the connection", async (t) => {
    const { client, server } = setup(t, { pingInterval: 40, pongTimeout: 40 });
    const socket = await openWith(server, 1);
    const until = performance.now() + 250;
    while (performance.now() < until) {
      await delay(10);
      // Answer each ping, as a server does.
      const pings = socket.frames.filter((f) => (f as { type?: string }).type === "ping").length;
      if (pings > 0 && socket.sent.length > 0 && (socket as { answered?: number }).answered !== pings) {
        (socket as { answered?: number }).answered = pings;
        socket.receive({ type: "pong" });
      }
    }
    assert.equal(socket.closedWith, undefined);
    assert.equal(client.state, "open");
    assert.ok(socket.frames.length >= 2, `pinged ${socket.frames.length} times`);
  });
});

describe("client: close()", () => {
  test("final: the socket closed with the code, sends dropped, joins rejected, no attempt after, no timer left", async (t) => {
    const before = activeTimers();
    const { client, server, log } = setup(t, { pingInterval: 1_000, connectTimeout: 5_000 });
    const first = await openWith(server, 1);
    first.serverClose(1006);
    assert.equal(client.state, "reconnecting");
    const second = await server.socket(2); // connecting: its connect timer runs
    client.close(4001, "bye");
    assert.deepEqual(second.closedWith, { code: 4001, reason: "bye" });
    assert.equal(client.state, "closed");
    assert.equal(log.at(-1), "state:closed:4001");
    assert.equal(client.send("late"), false);
    await assert.rejects(client.join("r"), (e: unknown) => e instanceof ClientError && e.code === "closed");
    client.close(); // again: nothing
    assert.equal(log.filter((l) => l.startsWith("state:closed")).length, 1);
    if (before !== undefined) assert.equal(activeTimers(), before, "every timer of the client is cleared");
    await delay(30);
    assert.equal(server.sockets.length, 2);
  });

  test("close() while a reconnect wait is pending and while open with liveness on: nothing keeps running", async (t) => {
    const before = activeTimers();
    const { client, server } = setup(t, { pingInterval: 50, minDelay: 5_000, maxDelay: 5_000 });
    (await openWith(server, 1)).serverClose(1006);
    assert.equal(client.state, "reconnecting");
    client.close();
    const other = setup(t, { pingInterval: 50 });
    await openWith(other.server, 1);
    other.client.close();
    if (before !== undefined) assert.equal(activeTimers(), before);
    await delay(80);
    assert.equal(other.server.last().sent.length, 0, "no ping after close");
  });
});

describe("client: arguments", () => {
  test("TypeError and RangeError in the library's grammar", (t) => {
    const server = fakeWebSockets();
    const WebSocket = server.WebSocket;
    const bad = (fn: () => unknown, kind: typeof TypeError, pattern: RegExp) => assert.throws(fn, (e: unknown) => e instanceof kind && pattern.test((e as Error).message));
    bad(() => connect(42 as unknown as string), TypeError, /^Cannot connect as 'url' must be a string, a URL or a function: current value is number 42$/);
    bad(() => connect("ftp://x.test/"), TypeError, /^Cannot connect as 'url' must be a ws:, wss:, http: or https: URL/);
    bad(() => connect(URL_, { WebSocket, maxQueue: -1 }), RangeError, /^Cannot connect as 'maxQueue' must be an integer of at least 0 \(or Infinity\): current value is -1$/);
    bad(() => connect(URL_, { WebSocket, minDelay: "5" as unknown as number }), TypeError, /'minDelay' must be a number of at least 0: current value is string "5"/);
    bad(() => connect(URL_, { WebSocket, minDelay: 100, maxDelay: 50 }), RangeError, /'maxDelay' must be at least 'minDelay'/);
    bad(() => connect(URL_, { WebSocket, pingIntervall: 5 } as ClientOptions), TypeError, /'pingIntervall' is not an option/);
    bad(() => connect(URL_, { WebSocket: "ws" as unknown as undefined }), TypeError, /'WebSocket' must be a function/);
    assert.equal(server.sockets.length, 0, "no attempt for a refused call");
    const client = connect(URL_, { WebSocket, pingInterval: 0 });
    t.after(() => client.close());
    bad(() => client.send(undefined), TypeError, /^Cannot send as 'data' must be a string, binary or a JSON value: current value is undefined undefined$/);
    bad(() => client.send([1] as unknown as Record<string, unknown>, { ack: true }), TypeError, /^Cannot send with an acknowledgement as 'data' must be a plain object: current value is an array$/);
    bad(() => client.send(new Date() as unknown as Record<string, unknown>, { ack: true }), TypeError, /must be a plain object: current value is an object \(Date\)/);
    bad(() => client.send({}, { ack: true, key: "no spaces" }), TypeError, /'key' must be 1 to 64 of/);
    bad(() => client.send({}, { ack: false } as unknown as { ack: true }), TypeError, /'options.ack' must be true: current value is boolean false/);
    bad(() => client.join(""), TypeError, /^Cannot join a room as 'room' must be a non-empty string: current value is string ""$/);
    bad(() => client.leave(7 as unknown as string), TypeError, /^Cannot leave a room as 'room' must be a non-empty string/);
    bad(() => client.close(1001), RangeError, /^Cannot close as 'code' must be 1000 or 3000-4999: current value is number 1001$/);
    bad(() => client.close(1000, "x".repeat(124)), RangeError, /at most 123 bytes/);
    assert.equal(client.state, "connecting", "a refused close() closes nothing");
  });
});

describe("client: backoff", () => {
  test("100 clients at the cap spread over the whole window; attempt 0 stays below minDelay", () => {
    const bounds = { minDelay: 500, maxDelay: 20_000 };
    const delays = Array.from({ length: 100 }, () => backoffDelay(30, bounds));
    assert.ok(Math.min(...delays) < 0.1 * bounds.maxDelay, `min ${Math.min(...delays)}`);
    assert.ok(Math.max(...delays) > 0.9 * bounds.maxDelay, `max ${Math.max(...delays)}`);
    assert.ok(delays.every((d) => d >= 0 && d < bounds.maxDelay));
    const buckets = new Array(10).fill(0);
    for (const d of delays) buckets[Math.floor(d / 2_000)]++;
    assert.ok(Math.max(...buckets) <= 25, `2 s buckets: ${buckets.join(" ")}`);
    for (let i = 0; i < 1_000; i++) assert.ok(backoffDelay(0, bounds) < bounds.minDelay);
    // The window doubles until the cap, even for attempts past 2 ** 1023.
    assert.equal(backoffDelay(3, bounds, () => 0.5), 2_000);
    assert.equal(backoffDelay(2_000, bounds, () => 0.999), 19_980);
  });

  test("100 real clients at the cap: their reconnecting delays cover the window", async (t) => {
    const delays: number[] = [];
    const servers = Array.from({ length: 100 }, () => fakeWebSockets());
    const clients = servers.map((server) => {
      const client = connect(URL_, { WebSocket: server.WebSocket, minDelay: 1, maxDelay: 1, pingInterval: 0 });
      client.addEventListener("state", (e) => e.state === "reconnecting" && delays.push(e.delay!));
      return client;
    });
    t.after(() => clients.forEach((c) => c.close()));
    await waitFor(() => servers.every((s) => s.sockets.length >= 1), 2_000, "first attempts");
    for (const server of servers) server.last().serverClose(1006);
    assert.equal(delays.length, 100);
    assert.ok(Math.min(...delays) < 0.1 && Math.max(...delays) > 0.9, `${Math.min(...delays)} .. ${Math.max(...delays)}`);
  });
});
