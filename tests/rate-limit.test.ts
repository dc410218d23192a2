/**
 * `rateLimit`, the core's limit on what one connection may send: messages
 * and bytes per interval, text and binary together, checked before the hooks;
 * past it an error reply (at most one per interval), a silent drop, or a
 * close with 1008; counted in `stats().rateLimited`. A real server through
 * this runtime's adapter and real RFC 6455 clients over loopback, and the
 * window's guarantee (never more than the bound in any interval, wherever it
 * starts) through the in-memory transport, where the clock the window reads
 * can be seen.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Connection, type ControllerOptions, type ControllerStats, type ErrorFrame, type RateLimitOptions, WebSocketController } from "../mod.ts";
import { fakeOpen } from "./helpers/fake-socket.ts";
import type { RawMessage, RawWebSocket } from "./helpers/raw-client.ts";
import { delay, startServer, type TestServer, within } from "./helpers/server.ts";

/** Echoes each text as "echo:<text>" and each binary as "binary:<length>"; remembers what reached the hooks. */
class Echo extends WebSocketController {
  readonly seen: string[] = [];
  /** The connection's `lastActivity` when each message reached its hook: the time the window counted it at. */
  readonly times: number[] = [];
  override onTextMessage(conn: Connection, text: string): void {
    this.seen.push(text);
    this.times.push(conn.lastActivity);
    conn.sendText(`echo:${text}`);
  }
  override onBinaryMessage(conn: Connection, data: Uint8Array): void {
    this.seen.push(`binary:${data.byteLength}`);
    this.times.push(conn.lastActivity);
    conn.sendText(`binary:${data.byteLength}`);
  }
}

async function serveEcho(t: { after(fn: () => unknown): void }, rateLimit: RateLimitOptions): Promise<{ echo: Echo; server: TestServer }> {
  const echo = new Echo({ pingInterval: 0, rateLimit });
  const server = await startServer({ "/": echo });
  t.after(() => server.stop());
  return { echo, server };
}

/**
 * Everything `client` gets until the marker the server broadcasts once it has
 * taken `count` messages in: what the server sent in answer to them, no more
 * and no less (TCP keeps the order).
 */
async function answersTo(echo: Echo, client: RawWebSocket, count: number): Promise<string[]> {
  await untilStats(echo, (stats) => stats.messagesIn >= count, `${count} messages in`);
  await echo.broadcastText("marker");
  const got: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const text = (await client.nextMessage()).text();
    if (text === "marker") return got;
    got.push(text);
  }
  throw new Error("no marker");
}

/** Polls `stats()` until `check` holds; fails after 5 s. */
async function untilStats(echo: Echo, check: (stats: ControllerStats) => boolean, what: string): Promise<ControllerStats> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const stats = await echo.stats();
    if (check(stats)) return stats;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(stats)}`);
    await delay(5);
  }
}

function errorOf(text: string): ErrorFrame | undefined {
  if (!text.startsWith("{")) return undefined;
  const frame = JSON.parse(text) as ErrorFrame;
  return frame.type === "error" ? frame : undefined;
}

function texts(count: number, prefix = ""): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

describe("rate limit: a real server and clients", () => {
  test('"reply" (the default): the messages past the bound get one rate_limited error frame per interval, reach no hook, and the connection stays open', async (t) => {
    const { echo, server } = await serveEcho(t, { messages: 3, interval: 60_000 });
    const client = await server.connect("/");
    client.sendTexts(texts(5));
    const first = await answersTo(echo, client, 5);
    assert.deepEqual(first.filter((text) => !errorOf(text)), ["echo:0", "echo:1", "echo:2"]);
    assert.deepEqual(first.filter(errorOf).map((text) => JSON.parse(text)), [
      { type: "error", code: "rate_limited", message: "Cannot handle message as the limit is 3 messages in 60 s: wait a little" },
    ]);

    // A flood gets no more replies within the interval.
    for (let round = 0; round < 5; round++) client.sendTexts(texts(100, `flood${round}-`));
    assert.deepEqual(await answersTo(echo, client, 505), [], "no reply to the flood");
    assert.deepEqual(echo.seen, ["0", "1", "2"]);
    const stats = await echo.stats();
    assert.equal(stats.rateLimited, 502);
    assert.equal(stats.messagesIn, 505, "refused messages were received all the same");
    assert.equal(stats.connections, 1, "still open");
    client.close(1000);
    assert.equal((await within(client.closed, 5_000, "the close")).code, 1000, "closed by the client, not the server");
  });

  test("each connection has its own window: a flooding client does not use another's", async (t) => {
    const { echo, server } = await serveEcho(t, { messages: 2, interval: 60_000, action: "drop" });
    const [flooder, other] = await Promise.all([server.connect("/"), server.connect("/")]);
    flooder.sendTexts(texts(300, "f"));
    await untilStats(echo, (stats) => stats.messagesIn >= 300, "the flood in");
    other.sendTexts(["a", "b", "c"]);
    assert.deepEqual(await answersTo(echo, other, 303), ["echo:a", "echo:b"]);
    assert.deepEqual(echo.seen, ["f0", "f1", "a", "b"]);
    assert.equal((await echo.stats()).rateLimited, 298 + 1);
    flooder.close();
    other.close();
  });

  test("a client that waits an interval (and a tenth) is served again in full, and may get a reply again", async (t) => {
    const interval = 300;
    const { echo, server } = await serveEcho(t, { messages: 2, interval });
    const client = await server.connect("/");
    client.sendTexts(["a", "b", "c"]);
    const first = await answersTo(echo, client, 3);
    assert.deepEqual(first.map((text) => errorOf(text)?.code ?? text), ["echo:a", "echo:b", "rate_limited"]);
    await delay(interval * 1.1 + 50);
    client.sendTexts(["d", "e", "f"]);
    const second = await answersTo(echo, client, 6);
    assert.deepEqual(second.map((text) => errorOf(text)?.code ?? text), ["echo:d", "echo:e", "rate_limited"]);
    assert.match(errorOf(second[2]!)!.message, /the limit is 2 messages in 0.3 s/);
    assert.deepEqual(echo.seen, ["a", "b", "d", "e"]);
    client.close();
  });

  test("bytes: a message that would pass the bound is refused, a smaller one after it may fit; binary counts with text", async (t) => {
    const { echo, server } = await serveEcho(t, { bytes: 10, interval: 60_000 });
    const client = await server.connect("/");
    client.sendText("12345"); // 5
    client.sendBinary(new Uint8Array(3)); // 8
    client.sendText("123"); // 11: refused, and answered
    client.sendText("12"); // 10: fits
    client.sendBinary(new Uint8Array(1)); // 11: refused, no second reply
    const got = await answersTo(echo, client, 5);
    assert.deepEqual(got.map((text) => errorOf(text)?.message ?? text), [
      "echo:12345",
      "binary:3",
      "Cannot handle message as the limit is 10 bytes in 60 s: wait a little",
      "echo:12",
    ]);
    assert.equal((await echo.stats()).rateLimited, 2);
    client.close();
  });

  test("binary messages count against the messages bound like text", async (t) => {
    const { echo, server } = await serveEcho(t, { messages: 2, bytes: 1_000, interval: 60_000 });
    const client = await server.connect("/");
    client.sendBinary(new Uint8Array(4));
    client.sendText("x");
    client.sendBinary(new Uint8Array(4));
    const got = await answersTo(echo, client, 3);
    assert.deepEqual(got.map((text) => errorOf(text)?.message ?? text), [
      "binary:4",
      "echo:x",
      "Cannot handle message as the limit is 2 messages in 60 s: wait a little",
    ]);
    client.close();
  });

  test('"drop": refused messages reach no hook and nothing is said', async (t) => {
    const { echo, server } = await serveEcho(t, { messages: 2, interval: 60_000, action: "drop" });
    const client = await server.connect("/");
    client.sendTexts(texts(6));
    client.sendBinary(new Uint8Array(2));
    assert.deepEqual(await answersTo(echo, client, 7), ["echo:0", "echo:1"]);
    const stats = await echo.stats();
    assert.equal(stats.rateLimited, 5);
    assert.equal(stats.connections, 1);
    client.close();
  });

  test('"close": the message past the bound closes the connection with 1008 "Rate limit"', async (t) => {
    const { echo, server } = await serveEcho(t, { messages: 2, interval: 60_000, action: "close" });
    const client = await server.connect("/");
    const other = await server.connect("/");
    // Exactly one past the bound: Deno cuts the TCP connection when data arrives after its close
    // frame, so the client could miss the close code if the flood went on (see ordering.test.ts).
    client.sendTexts(texts(3));
    const got: RawMessage[] = [];
    client.onMessage = (message) => got.push(message);
    const closed = await within(client.closed, 5_000, "the close");
    assert.deepEqual([closed.code, closed.reason], [1008, "Rate limit"]);
    assert.deepEqual(got.map((message) => message.text()), ["echo:0", "echo:1"]);
    assert.deepEqual(echo.seen, ["0", "1"]);
    const stats = await untilStats(echo, (stats) => stats.closesByCode["1008"] !== undefined, "the close counted");
    assert.equal(stats.rateLimited, 1, "the messages after the close are not counted as refused");
    assert.equal(stats.closesByCode["1008"], 1);
    other.sendText("still here");
    assert.equal((await other.nextMessage()).text(), "echo:still here");
    other.close();
  });
});

describe("rate limit: the window", () => {
  /** Sends one message every few ms for `ms`; returns when each accepted one was counted. */
  async function sendFor(options: ControllerOptions, ms: number, burstFirst: number): Promise<{ times: number[]; refused: number }> {
    const echo = new Echo({ pingInterval: 0, ...options });
    const socket = await fakeOpen(echo);
    for (let i = 0; i < burstFirst; i++) socket.text(`burst${i}`);
    const end = Date.now() + ms;
    for (let i = 0; Date.now() < end && i < 10_000; i++) {
      socket.text(`m${i}`);
      await delay(2);
    }
    const { rateLimited } = await echo.stats();
    socket.clientClose();
    return { times: echo.times, refused: rateLimited };
  }

  /** The most of `times` (sorted) within any span of `interval` ms. */
  function mostInAnyInterval(times: number[], interval: number): number {
    let most = 0;
    for (let last = 0, first = 0; last < times.length; last++) {
      while (times[first]! <= times[last]! - interval) first++;
      most = Math.max(most, last - first + 1);
    }
    return most;
  }

  test("never more than the bound in any interval, wherever it starts: no second burst at a boundary, no refill within it", async () => {
    const interval = 200;
    // A full burst at once, then a steady stream for two and a half intervals: a fixed window would take a
    // second burst at its next boundary, a token bucket would refill during the first interval.
    const { times, refused } = await sendFor({ rateLimit: { messages: 5, interval, action: "drop" } }, interval * 2.5, 5);
    assert.ok(refused > 0);
    assert.equal(mostInAnyInterval(times, interval), 5, `accepted at ${times.map((time) => time - times[0]!).join(", ")}`);
    assert.ok(times.length >= 10, `served again after an interval and a tenth: ${times.length} accepted`);
    const gapAfterBurst = times[5]! - times[4]!;
    assert.ok(gapAfterBurst >= interval && gapAfterBurst <= interval * 1.1 + 20, `the burst's window reopens after ${gapAfterBurst} ms`);
  });

  test("the same for bytes", async () => {
    const interval = 200;
    // "burstN" is 6 bytes, "mN" 2 to 5: at most 30 bytes in any 200 ms.
    const echo = new Echo({ pingInterval: 0, rateLimit: { bytes: 30, interval, action: "drop" } });
    const socket = await fakeOpen(echo);
    const accepted: [number, number][] = [];
    for (let i = 0; i < 5; i++) socket.text(`burst${i}`);
    const end = Date.now() + interval * 2.5;
    for (let i = 0; Date.now() < end && i < 10_000; i++) {
      socket.text(`m${i}`);
      await delay(2);
    }
    echo.seen.forEach((text, i) => accepted.push([echo.times[i]!, text.length]));
    let most = 0;
    for (let last = 0, first = 0, sum = 0; last < accepted.length; last++) {
      sum += accepted[last]![1];
      while (accepted[first]![0] <= accepted[last]![0] - interval) sum -= accepted[first++]![1];
      most = Math.max(most, sum);
    }
    assert.ok(most <= 30, `at most 30 bytes in any ${interval} ms: ${most}`);
    assert.ok(echo.seen.length > 5, "served again");
    socket.clientClose();
  });

  test("without rateLimit nothing is refused", async () => {
    const { times, refused } = await sendFor({}, 50, 1_000);
    assert.equal(refused, 0);
    assert.ok(times.length >= 1_000);
  });
});

describe("rate limit: options", () => {
  test("bad rateLimit options from plain JavaScript are TypeErrors and RangeErrors that name them", () => {
    const bad: [unknown, ErrorConstructor, RegExp][] = [
      [5, TypeError, /'rateLimit' must be an object .*: current value is number 5/],
      [null, TypeError, /'rateLimit' must be an object/],
      [[], TypeError, /'rateLimit' must be an object .*an array/],
      [{ interval: 1_000 }, TypeError, /'rateLimit' must have 'messages', 'bytes' or both/],
      [{ messages: 5 }, TypeError, /'rateLimit.interval' must be a number of at least 1: current value is undefined/],
      [{ messages: 5, interval: 1_000, mesages: 5 }, TypeError, /'rateLimit.mesages' is not an option: known options are messages, bytes, interval, action/],
      [{ messages: 0, interval: 1_000 }, RangeError, /'rateLimit.messages' must be an integer of at least 1: current value is 0/],
      [{ messages: 1.5, interval: 1_000 }, RangeError, /'rateLimit.messages' must be an integer/],
      [{ messages: Infinity, interval: 1_000 }, RangeError, /'rateLimit.messages'/],
      [{ messages: "5", interval: 1_000 }, TypeError, /'rateLimit.messages' must be an integer of at least 1: current value is string "5"/],
      [{ bytes: -1, interval: 1_000 }, RangeError, /'rateLimit.bytes' must be an integer of at least 1: current value is -1/],
      [{ messages: 5, interval: 0 }, RangeError, /'rateLimit.interval' must be a number of at least 1: current value is 0/],
      [{ messages: 5, interval: Number.NaN }, RangeError, /'rateLimit.interval'/],
      [{ messages: 5, interval: 1_000, action: "kick" }, TypeError, /'rateLimit.action' must be "reply", "drop" or "close": current value is string "kick"/],
    ];
    for (const [rateLimit, kind, message] of bad) {
      assert.throws(() => new WebSocketController({ rateLimit } as unknown as ControllerOptions), (error: Error) => {
        assert.ok(error instanceof kind, `${JSON.stringify(rateLimit)}: ${error.name}`);
        assert.match(error.message, /^Cannot create controller as /);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  test("the resolved options: the default action is reply, and no limit unless asked", () => {
    assert.equal(new WebSocketController().options.rateLimit, undefined);
    assert.deepEqual(new WebSocketController({ rateLimit: { bytes: 100, interval: 500 } }).options.rateLimit, {
      messages: undefined,
      bytes: 100,
      interval: 500,
      action: "reply",
    });
  });
});
