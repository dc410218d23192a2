/**
 * The core on its own, through the adapter contract and an in-memory
 * transport (`helpers/fake-socket.ts`): hook ordering and its bounds, close
 * codes, flow control, upgrade decisions, and join with catch-up, in
 * milliseconds. The conformance suites run the same rules through the real
 * adapters.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import {
  type Connection,
  type ControllerOptions,
  MemoryHistory,
  SwitchboardError,
  type UpgradeRequest,
  type UpgradeResult,
  WebSocketController,
} from "../mod.ts";
import type { NativePublisher, NativeSubscriber } from "../src/adapter/mod.ts";
import { fakeConnect, fakeOpen, FakeSocket } from "./helpers/fake-socket.ts";
import { Feed, type FeedMessage, FeedLog } from "./helpers/feed.ts";
import { LatentHistory, seededRandom } from "./helpers/latent-history.ts";
import { deferred, delay } from "./helpers/server.ts";

/** A controller that records what reached its hooks. */
class Recorder extends WebSocketController {
  readonly log: string[] = [];
  readonly errors: Error[] = [];
  readonly disconnects: [number, string][] = [];
  handle: (conn: Connection, text: string) => void | Promise<void> = () => {};
  override onConnect(): void {
    this.log.push("connect");
  }
  override onTextMessage(conn: Connection, text: string): void | Promise<void> {
    this.log.push(text);
    return this.handle(conn, text);
  }
  override onDisconnect(_conn: Connection, code: number, reason: string): void {
    this.log.push("disconnect");
    this.disconnects.push([code, reason]);
  }
  override onError(_conn: Connection | undefined, error: Error): void {
    this.errors.push(error);
  }
}

function recorder(options?: ControllerOptions): Recorder {
  return new Recorder(options);
}

describe("core: ordered hooks", () => {
  test("async hooks of one connection run one at a time in order, and onDisconnect comes last, once", async () => {
    const controller = recorder();
    const running: string[] = [];
    controller.handle = async (_conn, text) => {
      running.push(text);
      assert.equal(running.length, 1, "one hook at a time");
      await delay(Number(text.slice(1)) % 3);
      running.pop();
    };
    const socket = await fakeOpen(controller);
    for (let i = 0; i < 20; i++) socket.text(`m${i}`);
    socket.clientClose(1000, "bye");
    await socket.until(() => controller.log.includes("disconnect"), 2_000, "onDisconnect");
    assert.deepEqual(controller.log, ["connect", ...Array.from({ length: 20 }, (_, i) => `m${i}`), "disconnect"]);
    assert.deepEqual(controller.disconnects, [[1000, "bye"]]);
  });

  test("a burst of 1,500 messages to an async hook that only awaits promise callbacks is never refused", async () => {
    const controller = recorder({ maxPendingMessages: 1_000 });
    controller.handle = async () => {
      await null;
      await Promise.resolve();
      await null;
    };
    const socket = await fakeOpen(controller);
    for (let i = 0; i < 1_500; i++) socket.text(`m${i}`); // one TCP read's worth, in one go
    await delay(20); // past the turn of the event loop where the count is checked
    assert.equal(socket.closeFrame, undefined, "not closed");
    assert.equal(controller.log.length, 1 + 1_500, "every message handled");
  });

  test("messages still waiting once the event loop has turned, past maxPendingMessages, close with 1008 and are dropped", async () => {
    const controller = recorder({ maxPendingMessages: 10 });
    const release = deferred();
    controller.handle = (_conn, text) => (text === "block" ? release.promise : undefined);
    const socket = await fakeOpen(controller);
    socket.text("block");
    for (let i = 0; i < 30; i++) socket.text(`m${i}`);
    await socket.until(() => socket.closeFrame !== undefined, 1_000, "the close");
    assert.deepEqual(socket.closeFrame, { code: 1008, reason: "Too many pending messages" });
    socket.clientClose(1008, "");
    release.resolve();
    await socket.until(() => controller.log.includes("disconnect"), 1_000, "onDisconnect");
    assert.deepEqual(controller.log, ["connect", "block", "disconnect"], "the queued messages were dropped");
    assert.deepEqual(controller.disconnects, [[1008, "Too many pending messages"]]);
  });

  test("maxPendingBytes closes with 1008 at once when the bytes waiting would pass it; one message always fits", async () => {
    const controller = recorder({ maxPendingBytes: 1_000 });
    const release = deferred();
    controller.handle = (_conn, text) => (text === "block" ? release.promise : undefined);
    const socket = await fakeOpen(controller);
    socket.text("block");
    socket.text("x".repeat(1_500)); // over the limit on its own, but the queue is empty: it fits
    assert.equal(socket.closeFrame, undefined);
    socket.text("y");
    assert.deepEqual(socket.closeFrame, { code: 1008, reason: "Too many pending messages" }, "synchronously, no turn of the loop");
    release.resolve();
  });

  test("a hook that never settles: hookTimeout after the socket goes, the queue is dropped, onError gets HOOK_TIMEOUT, onDisconnect runs", async () => {
    const controller = recorder({ hookTimeout: 30 });
    const never = deferred();
    controller.handle = (_conn, text) => (text === "stuck" ? never.promise : undefined);
    const socket = await fakeOpen(controller);
    socket.text("stuck");
    socket.text("queued");
    socket.clientClose(1001, "gone");
    assert.deepEqual(controller.log, ["connect", "stuck"], "onDisconnect waits for the running hook at first");
    await socket.until(() => controller.log.includes("disconnect"), 1_000, "onDisconnect");
    assert.deepEqual(controller.log, ["connect", "stuck", "disconnect"], "the queued message was dropped");
    assert.deepEqual(controller.disconnects, [[1001, "gone"]]);
    assert.equal(controller.errors.length, 1);
    assert.ok(controller.errors[0] instanceof SwitchboardError);
    assert.equal((controller.errors[0] as SwitchboardError).code, "HOOK_TIMEOUT");
    never.resolve(); // settling late changes nothing
    await delay(10);
    assert.deepEqual(controller.log, ["connect", "stuck", "disconnect"]);
    assert.equal((await controller.stats()).connections, 0);
  });

  test("after a client close, the messages it sent before still run in order before onDisconnect", async () => {
    const controller = recorder();
    controller.handle = () => delay(2);
    const socket = await fakeOpen(controller);
    socket.text("a");
    socket.text("b");
    socket.clientClose(1000, "");
    await socket.until(() => controller.log.includes("disconnect"), 1_000, "onDisconnect");
    assert.deepEqual(controller.log, ["connect", "a", "b", "disconnect"]);
  });
});

describe("core: close codes and limits", () => {
  test("onDisconnect reports the server's code when the server closed, whatever the runtime reports", async () => {
    const controller = recorder();
    const socket = await fakeOpen(controller);
    const conn = [...controller.connections.values()][0]!;
    conn.close(4001, "kicked");
    assert.deepEqual(socket.closeFrame, { code: 4001, reason: "kicked" });
    socket.clientClose(1005, ""); // the runtime saw a close frame without a code
    await socket.until(() => controller.disconnects.length === 1);
    assert.deepEqual(controller.disconnects, [[4001, "kicked"]]);
  });

  test("a message over maxMessageSize closes with 1009 and does not reach the hook", async () => {
    const controller = recorder({ maxMessageSize: 10 });
    const socket = await fakeOpen(controller);
    socket.text("é".repeat(6)); // 12 bytes of UTF-8 in 6 units
    assert.deepEqual(socket.closeFrame, { code: 1009, reason: "Message too big" });
    assert.deepEqual(controller.log, ["connect"]);
  });

  test("a connection past maxBufferedAmount is closed with 1013 (close policy) or skipped (drop policy)", async () => {
    for (const policy of ["close", "drop"] as const) {
      const controller = recorder({ maxBufferedAmount: 100, slowConsumerPolicy: policy });
      const slow = await fakeOpen(controller);
      const fast = await fakeOpen(controller);
      slow.bufferedAmount = 100;
      assert.equal(controller.broadcastText("x".repeat(10)), 1, `${policy}: one recipient`);
      assert.equal(fast.texts.length, 1);
      assert.equal(slow.texts.length, 0);
      assert.deepEqual(slow.closeFrame, policy === "close" ? { code: 1013, reason: "Slow consumer" } : undefined);
      assert.equal((await controller.stats()).droppedMessages, 1);
    }
  });

  test("sendText, sendBinary and the broadcasts refuse values of the wrong type with a TypeError naming the method, and send nothing", async () => {
    const controller = recorder();
    const socket = await fakeOpen(controller);
    const conn = [...controller.connections.values()][0]! as unknown as Record<string, (value: unknown) => unknown>;
    assert.throws(() => conn.sendBinary!("str"), { name: "TypeError", message: /sendBinary\(\).*Uint8Array.*string "str"/ });
    assert.throws(() => conn.sendText!(123), { name: "TypeError", message: /sendText\(\).*string.*number 123/ });
    const loose = controller as unknown as Record<string, (value: unknown, options?: unknown) => unknown>;
    assert.throws(() => loose.broadcastText!(123), { name: "TypeError", message: /broadcastText\(\)/ });
    assert.throws(() => loose.broadcastBinary!("str"), { name: "TypeError", message: /broadcastBinary\(\)/ });
    assert.throws(() => loose.broadcastText!("x", { rooom: "a" }), { name: "TypeError", message: /'rooom' is not an option/ });
    assert.deepEqual(socket.sent, []);
    assert.equal(socket.closeFrame, undefined, "the connection stays open");
  });

  test("join and leave refuse a room that is not a non-empty string", async () => {
    const controller = recorder();
    await fakeOpen(controller);
    const conn = [...controller.connections.values()][0]! as unknown as { join(room: unknown): void; leave(room: unknown): void };
    for (const bad of ["", undefined, 42, null, {}]) {
      assert.throws(() => conn.join(bad), TypeError, `join(${String(bad)})`);
      assert.throws(() => conn.leave(bad), TypeError, `leave(${String(bad)})`);
    }
    assert.equal(controller.rooms.size, 0);
  });

  test("shutdown() without a timeout waits the controller's closeTimeout for clients, not 5 s", async () => {
    const controller = recorder({ closeTimeout: 50 });
    const socket = await fakeOpen(controller);
    const started = Date.now();
    await controller.shutdown(); // the client never answers the close frame
    const took = Date.now() - started;
    assert.equal(socket.terminated, true);
    assert.ok(took >= 45 && took < 1_000, `took ${took} ms`);
  });
});

describe("core: upgrade decisions", () => {
  test("a request that is not a valid RFC 6455 handshake is refused before onUpgrade, with the same status everywhere", async () => {
    const controller = recorder();
    let asked = 0;
    controller.onUpgrade = () => void asked++;
    const cases: [string, Record<string, string | undefined>, number][] = [
      ["no Upgrade header", { upgrade: undefined }, 426],
      ["Connection without Upgrade", { connection: "keep-alive" }, 400],
      ["no Connection", { connection: undefined }, 400],
      ["no Host", { host: undefined }, 400],
      ["key abc", { "sec-websocket-key": "abc" }, 400],
      ["no key", { "sec-websocket-key": undefined }, 400],
      ["key of 15 bytes", { "sec-websocket-key": "AAAAAAAAAAAAAAAAAAAA" }, 400],
      ["version 8", { "sec-websocket-version": "8" }, 426],
      ["no version", { "sec-websocket-version": undefined }, 426],
    ];
    for (const [what, headers, status] of cases) {
      const answer = await fakeConnect(controller, undefined, headers);
      assert.ok(answer instanceof Response, `${what}: refused`);
      assert.equal(answer.status, status, what);
      if (status === 426 && what.startsWith("version")) assert.equal(answer.headers.get("sec-websocket-version"), "13", what);
    }
    assert.equal(asked, 0, "onUpgrade never ran");
    assert.equal((await controller.stats()).rejectedUpgrades, cases.length);
    assert.ok(!((await fakeConnect(controller, undefined, { connection: "keep-alive, Upgrade", upgrade: "WebSocket" })) instanceof Response), "token lists and letter case are fine");
  });

  test("onUpgrade returning anything but an accept, nothing or a Response refuses with 500 and reaches onError", async () => {
    const answers: unknown[] = [42, "yes", [], null, { userdata: {} }, { protocol: 7 }, { headers: { "bad header": "x" } }];
    for (const answer of answers) {
      const controller = recorder();
      controller.onUpgrade = () => answer as UpgradeResult<undefined>;
      const refused = await fakeConnect(controller);
      assert.ok(refused instanceof Response, inspect(answer));
      assert.equal(refused.status, 500, inspect(answer));
      assert.equal(controller.errors.length, 1, inspect(answer));
      assert.equal((controller.errors[0] as SwitchboardError).code, "INVALID_UPGRADE_RESULT", inspect(answer));
    }
  });

  test("requireUserData refuses an accept without userData with 500 and USER_DATA_MISSING", async () => {
    class Typed extends WebSocketController<{ name: string }> {
      readonly errors: Error[] = [];
      override onUpgrade(request: UpgradeRequest) {
        // What JavaScript (or a cast) can still do: accept without the userData the types require.
        return (request.query.has("name") ? { userData: { name: "x" } } : {}) as { userData: { name: string } };
      }
      override onError(_conn: unknown, error: Error) {
        this.errors.push(error);
      }
    }
    const controller = new Typed({ requireUserData: true });
    const refused = await fakeConnect(controller);
    assert.ok(refused instanceof Response);
    assert.equal(refused.status, 500);
    assert.equal((controller.errors[0] as SwitchboardError).code, "USER_DATA_MISSING");
    assert.ok(!((await fakeConnect(controller, "http://test.local/?name=x")) instanceof Response));
  });

  test("types: a controller whose UserData is not undefined must give userData when it accepts (checked by Deno's type check of the tests and tsc)", () => {
    class Named extends WebSocketController<{ name: string }> {
      // @ts-expect-error: an accept without the userData the type promises does not compile
      override onUpgrade() {
        return {};
      }
    }
    class Silent extends WebSocketController<{ name: string }> {
      // @ts-expect-error: nor does accepting by returning nothing
      override onUpgrade() {
        return undefined;
      }
    }
    class Fine extends WebSocketController<{ name: string }> {
      override onUpgrade() {
        return { userData: { name: "ada" }, protocol: "chat" };
      }
    }
    class Untyped extends WebSocketController {
      override onUpgrade() {
        return { protocol: "chat" }; // no userData to give
      }
    }
    assert.ok([Named, Silent, Fine, Untyped].every((kind) => typeof kind === "function"));
  });

  test("an onUpgrade that does not settle within upgradeTimeout is refused with 503 and UPGRADE_TIMEOUT", async () => {
    const controller = recorder({ upgradeTimeout: 30 });
    controller.onUpgrade = () => new Promise<undefined>(() => {});
    const refused = await fakeConnect(controller);
    assert.ok(refused instanceof Response);
    assert.equal(refused.status, 503);
    assert.equal((controller.errors[0] as SwitchboardError).code, "UPGRADE_TIMEOUT");
  });

  test("options from JavaScript: unknown keys are a TypeError, fractional counts a RangeError", () => {
    const loose = (options: unknown) => new WebSocketController(options as ControllerOptions);
    assert.throws(() => loose({ maxMesageSize: 10 }), { name: "TypeError", message: /'maxMesageSize' is not an option/ });
    assert.throws(() => loose({ maxPendingMessages: 1.5 }), RangeError);
    assert.throws(() => loose({ maxMessageSize: "10" }), TypeError);
    assert.throws(() => loose("fast"), TypeError);
    assert.throws(() => loose({ history: {} }), TypeError);
  });
});

describe("core: found in review", () => {
  test("empty frames and pings behind a hook that never settles are bounded too (each costs something)", async () => {
    const controller = recorder({ maxPendingMessages: 10 });
    controller.handle = () => new Promise<void>(() => {});
    const socket = await fakeOpen(controller);
    socket.text("stuck");
    for (let i = 0; i < 200_000 && !socket.closeFrame; i++) {
      socket.text("");
      socket.events.receivePing(new Uint8Array(125));
    }
    assert.deepEqual(socket.closeFrame, { code: 1008, reason: "Too many pending messages" }, "closed before 200,000 of each");
  });

  test("a builder that throws leaves MemoryHistory as it was; an append from inside a builder is refused", async () => {
    const history = new MemoryHistory();
    const first = await history.append("r", "hello");
    await assert.rejects(history.append("r", () => {
      throw new Error("bad builder");
    }), /bad builder/);
    assert.deepEqual(await history.rooms(), ["r"]);
    assert.equal(await history.count(), 1);
    assert.equal(history.bytes, 5);
    const second = await history.append("r", "again");
    assert.deepEqual([second.epoch, second.id], [first.epoch, 2], "the same epoch goes on");
    let inner: Promise<unknown> | undefined;
    const outer = await history.append("r", () => {
      inner = history.append("r", "inner");
      return "outer";
    });
    await assert.rejects(inner!, TypeError, "the append from inside the builder is refused");
    assert.equal(outer.id, 3, "the outer one gets its id alone");
    assert.equal((await history.position("r")).id, 3);
  });

  test("a leave and a new join while the first join's read is still out: neither join acts on the other", async () => {
    const history = new MemoryHistory();
    const release: (() => void)[] = [];
    const since = history.since.bind(history);
    history.since = async (room, position) => {
      await new Promise<void>((resolve) => release.push(resolve));
      return since(room, position);
    };
    const controller = new WebSocketController({ history });
    const socket = await fakeOpen(controller);
    const conn = [...controller.connections.values()][0]!;
    await controller.broadcastText("m1", { room: "r", record: true });
    const first = conn.join("r", { since: 0 });
    conn.leave("r");
    const second = conn.join("r", { since: 0 });
    release.shift()!(); // the first read answers while the second is still out
    await first;
    await controller.broadcastText("m2", { room: "r", record: true }); // held for the second join
    release.shift()!();
    const catchUp = await second;
    await socket.until(() => socket.texts.includes("m2") || catchUp.entries.length === 2, 500).catch(() => {});
    await delay(5);
    const got = [...catchUp.entries.map((e) => e.data), ...socket.texts];
    assert.deepEqual(got, ["m1", "m2"], "each message once");
    assert.ok(conn.rooms.has("r") && controller.room("r").has(conn), "the second join stands");
  });

  test("a slow async onDisconnect is not a stuck hook: no HOOK_TIMEOUT, and shutdown does not wait for it", async () => {
    class Slow extends Recorder {
      override async onDisconnect(conn: Connection, code: number, reason: string): Promise<void> {
        await delay(80);
        super.onDisconnect(conn, code, reason);
      }
    }
    const controller = new Slow({ hookTimeout: 20 });
    const socket = await fakeOpen(controller);
    socket.clientClose(1000, "");
    await socket.until(() => controller.disconnects.length === 1, 1_000, "onDisconnect");
    assert.deepEqual(controller.errors, []);
    const started = Date.now();
    await controller.shutdown({ timeout: 10 });
    assert.ok(Date.now() - started < 200, `shutdown took ${Date.now() - started} ms`);
  });

  test("join with limit 0 (or a history that keeps nothing) delivers a recorded message on its way, live", async () => {
    const controller = new WebSocketController({ historySize: 0 });
    const socket = await fakeOpen(controller);
    const conn = [...controller.connections.values()][0]!;
    const recorded = controller.broadcastText("M", { room: "r", record: true });
    const catchUp = await conn.join("r", { limit: 0 });
    await recorded;
    await socket.until(() => socket.texts.length === 1, 500, "M");
    assert.deepEqual([catchUp.entries.length, socket.texts], [0, ["M"]]);
  });

  test("live messages held past maxBufferedAmount during a catch-up close with 1013 Catch-up overflow, even under the drop policy", async () => {
    const history = new MemoryHistory();
    const release = deferred();
    const position = history.position.bind(history);
    history.position = async (room) => {
      await release.promise;
      return position(room);
    };
    const controller = new WebSocketController({ history, maxBufferedAmount: 1_000, slowConsumerPolicy: "drop" });
    const socket = await fakeOpen(controller);
    const conn = [...controller.connections.values()][0]!;
    const join = conn.join("r", {});
    for (let i = 0; i < 5; i++) controller.broadcastText("x".repeat(300), { room: "r" });
    assert.deepEqual(socket.closeFrame, { code: 1013, reason: "Catch-up overflow" });
    release.resolve();
    await join;
  });

  test("the send budget counts connections still closing, and cuts them", async () => {
    const controller = recorder({ maxBufferedAmount: 1_000_000, maxTotalBufferedAmount: 100_000 });
    const closing = await fakeOpen(controller);
    await fakeOpen(controller);
    const [first] = [...controller.connections.values()];
    first!.close(1000, "bye"); // the client never answers: still closing
    closing.bufferedAmount = 200_000;
    controller.broadcastText("x"); // a send sees nothing (closing ones are skipped), so look directly:
    const { SendBudget } = await import("../src/core/_send-budget.ts");
    const budget = new SendBudget(100_000, () => controller.connections.values() as Iterable<never>);
    assert.equal(budget.enforce(), 1);
    assert.equal(closing.terminated, true, "a closing connection over the budget is cut");
  });

  test("a native publish (Bun's) under backpressure applies this controller's own limit: close closes the client past it, drop keeps it", async () => {
    for (const policy of ["close", "drop"] as const) {
      let published = 0;
      const publisher: NativePublisher = {
        publish: () => (published++, "backpressure"),
      };
      // A socket with the runtime's publish/subscribe, as Bun's transport has.
      class PubSubSocket extends FakeSocket {
        readonly pubsub: NativeSubscriber = {
          publisher,
          subscribe() {},
          unsubscribe() {},
          publishExceptSelf: () => (published++, "backpressure"),
        };
      }
      const controller = recorder({ maxBufferedAmount: 1_000, slowConsumerPolicy: policy });
      const slow = await fakeOpen(controller, undefined, undefined, () => new PubSubSocket());
      const fast = await fakeOpen(controller, undefined, undefined, () => new PubSubSocket());
      slow.bufferedAmount = 5_000; // past this controller's limit, below the runtime's own
      assert.equal(controller.broadcastText("x"), 2, `${policy}: the runtime queued it for both`);
      assert.equal(published, 1, "one native publish, no loop");
      assert.deepEqual(slow.closeFrame, policy === "close" ? { code: 1013, reason: "Slow consumer" } : undefined, policy);
      assert.equal(fast.closeFrame, undefined);
    }
  });

  test("shutdown() refuses a code or reason no close frame can carry", async () => {
    const controller = recorder();
    await assert.rejects(controller.shutdown({ code: 1006 }), RangeError);
    await assert.rejects(controller.shutdown({ reason: "x".repeat(200) }), RangeError);
    await assert.rejects(controller.shutdown({ timeout: -1 }), RangeError);
  });
});

describe("core: UTF-8 lengths", () => {
  test("utf8ByteLength (native where Buffer is a global, by chunks elsewhere) agrees with TextEncoder on every length, surrogate pairs across chunk boundaries included", async () => {
    const { utf8ByteLength, utf8ByteLengthByChunks } = await import("../src/core/_utf8.ts");
    const encoder = new TextEncoder();
    const random = seededRandom(5);
    const parts = ["a", "é", "€", "😀", "\uD800", "\uDC00"];
    for (const length of [0, 5, 127, 128, 1_000, 16_383, 16_384, 16_385, 50_000, 70_000]) {
      let text = "";
      while (text.length < length) text += parts[Math.floor(random() * parts.length)];
      const expected = encoder.encode(text).length;
      assert.equal(utf8ByteLength(text), expected, `length ${length}`);
      assert.equal(utf8ByteLength(text), expected, `length ${length}, measured again`);
      if (length > 0) assert.equal(utf8ByteLengthByChunks(text), expected, `length ${length}, by chunks`);
    }
    for (const at of [16_383, 32_767]) {
      const straddling = "a".repeat(at) + "😀" + "b".repeat(20_000);
      assert.equal(utf8ByteLength(straddling), encoder.encode(straddling).length, `a pair at unit ${at}`);
      assert.equal(utf8ByteLengthByChunks(straddling), encoder.encode(straddling).length, `a pair at unit ${at}, by chunks`);
    }
  });
});

describe("core: names", () => {
  test("a controller is named by its option, else the first route it is served on, else its class name", async () => {
    class Lobby extends WebSocketController {}
    assert.equal(new Lobby().name, "Lobby");
    assert.equal(new Lobby({ name: "lobby-v2" }).name, "lobby-v2");
    const routed = new Lobby();
    const named = new Lobby({ name: "fixed" });
    const { Router } = await import("../src/adapter/mod.ts");
    new Router({ "/chat/:room": routed, "/chat": routed, "/other": named });
    assert.equal(routed.name, "/chat/:room", "the first route");
    assert.equal(named.name, "fixed", "an explicit name wins");
    assert.throws(() => new Lobby({ name: "" }), TypeError);
  });
});

describe("core: what a connection shows", () => {
  test("console.log and JSON.stringify show the connection's public state, not the engine or other connections", async () => {
    const controller = recorder();
    await fakeOpen(controller);
    await fakeOpen(controller);
    await controller.broadcastText("kept", { room: "r", record: true });
    const conn = [...controller.connections.values()][0]!;
    conn.join("r");
    const shown = inspect(conn, { depth: 5 });
    assert.match(shown, /^Connection \{/);
    assert.ok(shown.includes(conn.id) && shown.includes("'r'"), shown);
    const other = [...controller.connections.values()][1]!;
    assert.ok(!shown.includes(other.id), "no other connection");
    assert.ok(!shown.includes("kept"), "no history");
    assert.ok(shown.length < 300, `short: ${shown}`);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(conn))), ["id", "remoteAddress", "protocol", "readyState", "rooms"]);
  });
});

/** A client of `Feed` over a fake socket: reads what arrived when asked, and resumes from its last position. */
class FeedClient {
  readonly log: FeedLog = new FeedLog();
  socket: FakeSocket | undefined;
  readonly #controller: Feed;
  #seen = 0;

  constructor(controller: Feed) {
    this.#controller = controller;
  }

  async connect(): Promise<void> {
    this.log.connecting();
    const socket = await fakeOpen(this.#controller, `http://test.local/${this.log.query}`);
    this.socket = socket;
    this.#seen = 0;
    await socket.until(() => socket.texts.length > 0, 2_000, "the catch-up");
    this.read();
  }

  /** Takes what the current connection received since the last read. */
  read(): void {
    const texts = this.socket?.texts ?? [];
    for (; this.#seen < texts.length; this.#seen++) this.log.take(JSON.parse(texts[this.#seen]!) as FeedMessage);
  }

  disconnect(): void {
    this.read();
    this.socket!.clientClose(1001, "");
    this.socket = undefined;
  }
}

describe("core: join with catch-up", () => {
  test("since a position: exactly what was missed, then live; the catch-up the hook sends comes before any live message", async () => {
    const controller = new Feed({ historySize: 100 });
    const first = await controller.send(1);
    await controller.send(2);
    await controller.send(3);
    const socket = await fakeOpen(controller, `http://test.local/?since=${first.id}&epoch=${first.epoch}`);
    void controller.send(4); // recorded while the catch-up is being read
    await socket.until(() => socket.texts.length >= 2, 1_000, "catch-up and live");
    const [catchUp, live] = socket.json<FeedMessage>();
    assert.deepEqual(catchUp, { type: "catchup", complete: true, ids: [2, 3], position: { epoch: first.epoch, id: 3 } });
    assert.equal((live as { id: number }).id, 4);
    await controller.send(5);
    assert.deepEqual(socket.json<FeedMessage>().slice(2).map((m) => (m as { id: number }).id), [5]);
  });

  test("a position from another epoch (a new history, clear()) or one that fell out is never complete: the latest come instead", async () => {
    const controller = new Feed({ historySize: 3 });
    for (let n = 1; n <= 5; n++) await controller.send(n);
    const { epoch } = await controller.history.position("feed");
    const cases: [string, string][] = [
      ["fell out", `?since=1&epoch=${epoch}`],
      ["another epoch", "?since=4&epoch=someotherepoch"],
      ["never issued", `?since=99&epoch=${epoch}`],
      ["no position", ""],
    ];
    for (const [what, query] of cases) {
      const socket = await fakeOpen(controller, `http://test.local/${query}`);
      await socket.until(() => socket.texts.length >= 1, 1_000, what);
      assert.deepEqual(socket.json<FeedMessage>()[0], { type: "catchup", complete: false, ids: [3, 4, 5], position: { epoch, id: 5 } }, what);
    }
    const fresh = new Feed({ history: new MemoryHistory() });
    const socket = await fakeOpen(fresh, `http://test.local/?since=5&epoch=${epoch}`);
    await socket.until(() => socket.texts.length >= 1);
    assert.equal(socket.json<{ complete: boolean }>()[0]!.complete, false, "a new MemoryHistory makes an old position incomplete");
  });

  test("a connection joining with catch-up is a member at once: rooms, room(name) and conn.rooms count it while its live messages are held", async () => {
    const seen: boolean[] = [];
    class Counting extends WebSocketController {
      override async onConnect(conn: Connection) {
        const join = conn.join("r", {});
        seen.push(conn.rooms.has("r"), this.room("r").has(conn)); // before the read has even finished
        await join;
        seen.push(conn.rooms.has("r"), this.room("r").size === 1);
        this.broadcastText("to the others", { room: "r", except: conn });
        conn.sendText("welcome");
      }
    }
    const controller = new Counting();
    const socket = await fakeOpen(controller);
    await socket.until(() => socket.texts.length >= 1);
    controller.broadcastText("live", { room: "r" });
    assert.deepEqual(seen, [true, true, true, true]);
    await socket.until(() => socket.texts.length >= 2);
    assert.deepEqual(socket.texts, ["welcome", "live"], "nothing of its own broadcast; live after the welcome");
    const conn = [...controller.connections.values()][0]!;
    conn.leave("r");
    assert.equal(controller.rooms.has("r"), false);
  });

  test("joining a room twice with catch-up is ALREADY_JOINED; a failing history is HISTORY_FAILED with its error as cause", async () => {
    const controller = new WebSocketController();
    await fakeOpen(controller);
    const conn = [...controller.connections.values()][0]!;
    conn.join("r");
    await assert.rejects(conn.join("r", {}), (error: SwitchboardError) => error.code === "ALREADY_JOINED");
    const broken = new MemoryHistory();
    const failure = new Error("store down");
    broken.since = () => Promise.reject(failure);
    const failing = new WebSocketController({ history: broken });
    await fakeOpen(failing);
    const other = [...failing.connections.values()][0]!;
    await assert.rejects(other.join("r", { since: 1 }), (error: SwitchboardError) => error.code === "HISTORY_FAILED" && error.cause === failure);
    assert.equal(failing.room("r").size, 0, "not joined");
    assert.throws(() => other.join("r", { since: -1 }), TypeError, "bad arguments throw at once");
    assert.throws(() => other.join("r", { sinse: 1 } as object), TypeError);
  });

  test("recorded broadcasts are ordered per room: a slow append in one room does not hold another room back", async () => {
    const history = new MemoryHistory();
    const slow = deferred();
    const append = history.append.bind(history);
    history.append = async (room, data) => {
      const entry = await append(room, data);
      if (room === "slow") await slow.promise;
      return entry;
    };
    const controller = new WebSocketController({ history });
    const socket = await fakeOpen(controller);
    const conn = [...controller.connections.values()][0]!;
    conn.join("slow");
    conn.join("fast");
    const held = controller.broadcastText("s1", { room: "slow", record: true });
    await controller.broadcastText("f1", { room: "fast", record: true });
    assert.deepEqual(socket.texts, ["f1"], "the fast room went first");
    slow.resolve();
    await held;
    assert.deepEqual(socket.texts, ["f1", "s1"]);
  });

  test("20 clients leaving and resuming at random while 300 messages are recorded through a History of random latency each get exactly 1..300", async () => {
    const random = seededRandom(9);
    const controller = new Feed({ history: new LatentHistory({ size: 1_000, maxLatency: 4, random }) });
    const clients = Array.from({ length: 20 }, () => new FeedClient(controller));
    await Promise.all(clients.map((client) => client.connect()));
    const total = 300;
    const sends: Promise<unknown>[] = [];
    const churn = clients.map(async (client) => {
      for (let round = 0; round < 6; round++) {
        await delay(Math.floor(random() * 25));
        client.disconnect();
        await delay(Math.floor(random() * 5));
        await client.connect();
      }
    });
    for (let n = 1; n <= total; n++) {
      sends.push(controller.send(n));
      if (n % 10 === 0) await delay(1);
    }
    await Promise.all([...sends, ...churn]);
    await Promise.all(clients.map((client) => client.socket!.until(() => (client.read(), client.log.ids.at(-1) === total), 3_000, "the last message")));
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    for (const [i, { log }] of clients.entries()) {
      assert.deepEqual(log.ids, expected, `client ${i}: no gap, no duplicate`);
      assert.equal(log.incompleteResumes, 0, `client ${i}: every resume was complete`);
      assert.equal(log.liveBeforeCatchUp, 0, `client ${i}: nothing live before its catch-up`);
      assert.ok(log.resumes >= 6, `client ${i} resumed ${log.resumes} times`);
    }
  });
});
