/**
 * Conformance: message history. First MemoryHistory on its own (pure core,
 * no server), then recording through a controller: `record: true` stores
 * before it sends, a reconnecting client catches up with `since`, a custom
 * `History` replaces the default.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Connection,
  type History,
  type HistoryData,
  type HistoryEntry,
  type HistoryMeta,
  MemoryHistory,
  type Position,
  type SinceResult,
  type UpgradeRequest,
  WebSocketController,
} from "../mod.ts";
import type { RawWebSocket } from "./helpers/raw-client.ts";
import { historyContract } from "./helpers/history-contract.ts";
import { delay, startServer, waitFor } from "./helpers/server.ts";

const texts = (entries: readonly HistoryEntry[]): HistoryData[] => entries.map((e) => e.data);
const ids = (entries: readonly HistoryEntry[]): number[] => entries.map((e) => e.id);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// The cases every History meets (ids, recent, since, count, rooms, clear, builders, data, ttl, bad
// arguments): tests/helpers/history-contract.ts, run here for MemoryHistory and in
// tests/redis-history.test.ts for RedisHistory. Below: what is MemoryHistory's own.
historyContract("MemoryHistory", { make: ({ size, ttl }) => new MemoryHistory({ size, ttl }), trimSlack: 0 });

describe("MemoryHistory", () => {
  test("since an id just past the newest `size` is complete: false: the bound is exact", async () => {
    const history = new MemoryHistory({ size: 100 });
    for (let i = 1; i <= 150; i++) await history.append("room", `m${i}`);
    assert.equal((await history.since("room", 50)).complete, true);
    assert.equal((await history.since("room", 49)).complete, false);
  });

  test("the default size is 100, and a bad size is a RangeError", () => {
    assert.equal(new MemoryHistory().size, 100);
    for (const size of [-1, 1.5, Number.NaN]) {
      assert.throws(() => new MemoryHistory({ size }), RangeError, `size ${size}`);
    }
  });

  test("size 0 keeps nothing but still issues ids", async () => {
    const history = new MemoryHistory({ size: 0 });
    assert.equal((await history.append("r", "x")).id, 1);
    assert.equal((await history.append("r", "y")).id, 2);
    assert.equal(await history.count(), 0);
    const position = await history.position("r");
    assert.deepEqual(position.id, 2);
    assert.deepEqual(await history.since("r", 1), { complete: false, entries: [], position });
    assert.deepEqual(await history.since("r", 2), { complete: true, entries: [], position });
  });
});

describe("MemoryHistory bounds", () => {
  test("a room is forgotten ttl after its last message, and comes back in a new epoch", async () => {
    const history = new MemoryHistory({ ttl: 40 });
    const old = await history.append("quiet", "q1");
    await history.append("busy", "b1");
    await delay(25);
    await history.append("busy", "b2"); // keeps "busy" alive
    await delay(25);
    assert.deepEqual(await history.rooms(), ["busy"], "the quiet room expired");
    assert.equal(await history.count("quiet"), 0);
    assert.equal(await history.count(), 2);
    assert.deepEqual(await history.position("quiet"), { epoch: "", id: 0 });
    assert.equal((await history.since("quiet", old)).complete, false, "its old position is not complete any more");
    const again = await history.append("quiet", "q2");
    assert.equal(again.id, 1);
    assert.notEqual(again.epoch, old.epoch);
  });

  test("past maxRooms the room written least recently is forgotten first", async () => {
    const history = new MemoryHistory({ maxRooms: 3 });
    const first = await history.append("r1", "x");
    for (const room of ["r2", "r3", "r4"]) await history.append(room, "x");
    assert.deepEqual(await history.rooms(), ["r2", "r3", "r4"]);
    await history.append("r2", "y"); // r2 is now the most recent
    await history.append("r5", "x");
    assert.deepEqual(await history.rooms(), ["r4", "r2", "r5"]);
    assert.equal((await history.since("r1", first)).complete, false);
    assert.notEqual((await history.append("r1", "z")).epoch, first.epoch, "a forgotten room starts a new epoch");
  });

  test("past maxBytes the rooms written least recently go first, then the oldest entries of the room being written", async () => {
    const history = new MemoryHistory({ maxBytes: 100, size: 10 });
    await history.append("a", "a".repeat(40));
    await history.append("b", "b".repeat(40));
    assert.equal(history.bytes, 80);
    await history.append("c", "c".repeat(40));
    assert.deepEqual(await history.rooms(), ["b", "c"], "a went to make room");
    assert.equal(history.bytes, 80);
    await history.append("c", "é".repeat(30)); // 60 bytes of UTF-8
    assert.deepEqual(await history.rooms(), ["c"]);
    assert.equal(history.bytes, 100);
    await history.append("c", "z".repeat(10));
    assert.deepEqual(texts(await history.recent("c")), ["é".repeat(30), "z".repeat(10)], "c's own oldest entry went");
    assert.equal(history.bytes, 70);
    assert.equal(await history.count(), 2);
  });

  test("a client posting into 20,000 new rooms cannot grow the history past its bounds", async () => {
    const history = new MemoryHistory({ maxRooms: 500, size: 5 });
    for (let i = 0; i < 20_000; i++) await history.append(`room-${i}`, "x".repeat(100));
    assert.equal((await history.rooms()).length, 500);
    assert.equal(await history.count(), 500);
    assert.equal(history.bytes, 500 * 100);
    const defaults = new MemoryHistory();
    const big = "x".repeat(64 * 1024);
    for (let i = 0; i < 1_100; i++) await defaults.append(`room-${i}`, big); // 68.75 MiB in all
    assert.ok(defaults.bytes <= 64 * 1024 * 1024, `the default maxBytes holds: ${defaults.bytes}`);
  });

  test("bad bounds from JavaScript are a TypeError or a RangeError", () => {
    const make = (options: unknown) => new MemoryHistory(options as object);
    assert.throws(() => make({ sise: 10 }), { name: "TypeError", message: /'sise' is not an option/ });
    assert.throws(() => make({ ttl: 0 }), RangeError);
    assert.throws(() => make({ maxRooms: 1.5 }), RangeError);
    assert.throws(() => make({ maxBytes: "big" }), TypeError);
    assert.throws(() => make({ size: Infinity }), RangeError);
    assert.doesNotThrow(() => make({ ttl: Infinity, maxRooms: Infinity, maxBytes: Infinity }));
  });
});

/** A History that stores only after a delay, and logs when each entry became visible. */
class SlowHistory implements History {
  readonly inner: MemoryHistory;
  /** Ids readable from the history, in the order they became readable. */
  readonly stored: number[] = [];
  appends = 0;

  constructor(size: number) {
    this.inner = new MemoryHistory({ size });
  }
  async append(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData)): Promise<HistoryEntry> {
    this.appends++;
    await delay(30);
    const entry = await this.inner.append(room, data);
    this.stored.push(entry.id);
    return entry;
  }
  recent(room: string, limit?: number): Promise<HistoryEntry[]> {
    return this.inner.recent(room, limit);
  }
  since(room: string, since: Position | number): Promise<SinceResult> {
    return this.inner.since(room, since);
  }
  position(room: string): Promise<Position> {
    return this.inner.position(room);
  }
  rooms(): Promise<string[]> {
    return this.inner.rooms();
  }
  count(room?: string): Promise<number> {
    return this.inner.count(room);
  }
  clear(room?: string): Promise<void> {
    return this.inner.clear(room);
  }
}

/**
 * A chat room with catch-up: `?since=N` joins with `join(room, { since })`,
 * sending "gap" when the history could not give everything after N (then the
 * latest entries), the entries, then "caught up"; live messages follow.
 */
class Room extends WebSocketController<{ since: number | undefined }> {
  override onUpgrade(request: UpgradeRequest) {
    const since = request.query.get("since");
    return { userData: { since: since === null ? undefined : Number(since) } };
  }
  override async onConnect(conn: Connection<{ since: number | undefined }>) {
    const since = conn.userData.since;
    if (since === undefined) return conn.join("lobby");
    const { complete, entries } = await conn.join("lobby", { since });
    if (!complete) conn.sendText("gap");
    for (const entry of entries) {
      if (typeof entry.data === "string") conn.sendText(entry.data);
      else conn.sendBinary(entry.data);
    }
    conn.sendText("caught up");
  }
}

describe("history through a controller", () => {
  test("historySize sets the default MemoryHistory's bound", async () => {
    const controller = new WebSocketController({ historySize: 5 });
    assert.ok(controller.history instanceof MemoryHistory);
    assert.equal((controller.history as MemoryHistory).size, 5);
    assert.equal(controller.options.historySize, 5);
    for (let i = 1; i <= 8; i++) await controller.broadcastText(`m${i}`, { room: "r", record: true });
    assert.deepEqual(texts(await controller.history.recent("r")), ["m4", "m5", "m6", "m7", "m8"]);
    assert.equal(new WebSocketController().options.historySize, 100);
  });

  test("broadcastText/Binary/Json with record: true resolve with the stored entry and send to the room", async (t) => {
    const controller = new Room({ historySize: 10 });
    const server = await startServer({ "/room": controller });
    t.after(() => server.stop());
    const client = await server.connect("/room");
    await waitFor(() => controller.room("lobby").size === 1, 5_000, "the client to join");

    const text = await controller.broadcastText("hello", { room: "lobby", record: true });
    assert.equal(text.id, 1);
    assert.equal(text.room, "lobby");
    assert.equal(text.data, "hello");
    const binary = await controller.broadcastBinary(new Uint8Array([9, 8, 7]), { room: "lobby", record: true });
    assert.equal(binary.id, 2);
    assert.deepEqual([...(binary.data as Uint8Array)], [9, 8, 7]);
    const json = await controller.broadcastJson({ n: 3 }, { room: "lobby", record: true });
    assert.equal(json.id, 3);
    assert.equal(json.data, '{"n":3}', "JSON is recorded as its text");
    // A room without members still records.
    const lonely = await controller.broadcastText("nobody here", { room: "empty", record: true });
    assert.equal(lonely.id, 1);

    const [m1, m2, m3] = await client.messages(3);
    assert.equal(m1!.text(), "hello");
    assert.equal(m2!.kind, "binary");
    assert.deepEqual([...m2!.data], [9, 8, 7]);
    assert.equal(m3!.text(), '{"n":3}');
    assert.deepEqual(await controller.history.recent("lobby"), [text, binary, json]);
    assert.deepEqual(texts(await controller.history.recent("empty")), ["nobody here"]);
    client.close();
    await client.closed;
  });

  test("record: true without a room rejects with a TypeError and sends nothing", async (t) => {
    const controller = new Room();
    const server = await startServer({ "/room": controller });
    t.after(() => server.stop());
    const client = await server.connect("/room");
    await waitFor(() => controller.room("lobby").size === 1, 5_000, "the client to join");
    // The typed overloads require `room` with `record: true`; a caller without types can still leave it out.
    const untyped = controller as unknown as { [K in "broadcastText" | "broadcastJson"]: (x: unknown, o: object) => Promise<unknown> } & {
      broadcastBinary(x: Uint8Array, o: object): Promise<unknown>;
    };
    await assert.rejects(untyped.broadcastText("x", { record: true }), TypeError);
    await assert.rejects(untyped.broadcastBinary(new Uint8Array([1]), { record: true }), TypeError);
    await assert.rejects(untyped.broadcastJson({ x: 1 }, { record: true }), TypeError);
    assert.equal(await controller.history.count(), 0, "nothing recorded");
    assert.equal(controller.broadcastText("marker"), 1);
    assert.equal((await client.nextMessage()).text(), "marker", "nothing was sent before the marker");
    client.close();
    await client.closed;
  });

  test("a recorded message is stored before it is sent", async (t) => {
    const history = new SlowHistory(100);
    const controller = new Room({ history });
    assert.equal(controller.history, history, "the custom History is the controller's history");
    const server = await startServer({ "/room": controller });
    t.after(() => server.stop());
    const client = await server.connect("/room");
    await waitFor(() => controller.room("lobby").size === 1, 5_000, "the client to join");
    // What was already readable from the history when each message reached the client.
    const storedOnArrival: number[][] = [];
    client.onMessage = () => storedOnArrival.push([...history.stored]);
    const entries = await Promise.all([1, 2, 3].map((i) => controller.broadcastText(`m${i}`, { room: "lobby", record: true })));
    assert.deepEqual(ids(entries), [1, 2, 3]);
    await waitFor(() => client.received === 3, 5_000, "three messages");
    assert.equal(history.appends, 3, "the custom History recorded them");
    storedOnArrival.forEach((stored, i) => assert.ok(stored.includes(i + 1), `message ${i + 1} was stored before it arrived: ${stored}`));
    client.close();
    await client.closed;
  });

  test("a client reconnecting with since gets exactly the messages it missed", async (t) => {
    const controller = new Room({ historySize: 100 });
    const server = await startServer({ "/room": controller });
    t.after(() => server.stop());
    const first = await server.connect("/room");
    await waitFor(() => controller.room("lobby").size === 1, 5_000, "the client to join");
    let lastSeen = 0;
    for (let i = 1; i <= 3; i++) lastSeen = (await controller.broadcastText(`m${i}`, { room: "lobby", record: true })).id;
    assert.deepEqual((await first.messages(3)).map((m) => m.text()), ["m1", "m2", "m3"]);
    first.close();
    await first.closed;
    await waitFor(() => controller.connections.size === 0, 5_000, "the disconnect");

    // Missed while away, one of them binary.
    await controller.broadcastText("m4", { room: "lobby", record: true });
    await controller.broadcastBinary(new Uint8Array([5]), { room: "lobby", record: true });
    await controller.broadcastText("m6", { room: "lobby", record: true });

    const back: RawWebSocket = await server.connect(`/room?since=${lastSeen}`);
    const replay = await back.messages(4);
    assert.deepEqual(
      replay.map((m) => (m.kind === "binary" ? `bin ${[...m.data]}` : m.text())),
      ["m4", "bin 5", "m6", "caught up"],
    );
    // Live again after the replay.
    await waitFor(() => controller.room("lobby").size === 1, 5_000, "the client to rejoin");
    await controller.broadcastText("m7", { room: "lobby", record: true });
    assert.equal((await back.nextMessage()).text(), "m7");

    // Up to date: nothing to replay.
    const current = await server.connect("/room?since=7");
    assert.equal((await current.nextMessage()).text(), "caught up");
    await Promise.all([back, current].map((c) => (c.close(), c.closed)));
  });

  test("a client that missed more than historySize is told there is a gap, and gets the latest", async (t) => {
    const controller = new Room({ historySize: 5 });
    const server = await startServer({ "/room": controller });
    t.after(() => server.stop());
    for (let i = 1; i <= 8; i++) await controller.broadcastText(`m${i}`, { room: "lobby", record: true });
    const late = await server.connect("/room?since=2");
    assert.deepEqual((await late.messages(7)).map((m) => m.text()), ["gap", "m4", "m5", "m6", "m7", "m8", "caught up"], "the gap, then the latest");
    const inTime = await server.connect("/room?since=3");
    assert.deepEqual((await inTime.messages(6)).map((m) => m.text()), ["m4", "m5", "m6", "m7", "m8", "caught up"]);
    const ahead = await server.connect("/room?since=42");
    assert.deepEqual((await ahead.messages(7)).map((m) => m.text()), ["gap", "m4", "m5", "m6", "m7", "m8", "caught up"], "an id never issued");
    await Promise.all([late, inTime, ahead].map((c) => (c.close(), c.closed)));
  });

  test("stats().messagesInHistory counts the entries kept over all rooms", async () => {
    const controller = new WebSocketController({ historySize: 3 });
    assert.equal((await controller.stats()).messagesInHistory, 0);
    for (let i = 0; i < 2; i++) await controller.broadcastText(`a${i}`, { room: "a", record: true });
    for (let i = 0; i < 5; i++) await controller.broadcastText(`b${i}`, { room: "b", record: true });
    assert.equal((await controller.stats()).messagesInHistory, 2 + 3);
    await controller.history.clear("b");
    assert.equal((await controller.stats()).messagesInHistory, 2);
    // A broadcast without record leaves history alone.
    controller.broadcastText("not recorded", { room: "a" });
    assert.equal((await controller.stats()).messagesInHistory, 2);
  });

  test("a custom History passed as the history option is used for record, since and stats", async () => {
    const history = new SlowHistory(10);
    const controller = new WebSocketController({ history, historySize: 1 });
    assert.equal(controller.history, history);
    const entry = await controller.broadcastJson({ a: 1 }, { room: "r", record: true });
    await controller.broadcastText("two", { room: "r", record: true });
    assert.equal(history.appends, 2, "record went to the custom History");
    assert.deepEqual(history.stored, [1, 2]);
    assert.equal(entry.data, '{"a":1}');
    assert.equal((await controller.stats()).messagesInHistory, 2, "historySize does not bound a custom History");
    assert.deepEqual(texts((await controller.history.since("r", 0)).entries), ['{"a":1}', "two"]);
  });
  test("recorded broadcasts go out in call order and id order, even when the History answers out of order", async (t) => {
    // The first append answers last: without ordering, the second message would overtake it.
    class ReversingHistory extends SlowHistory {
      #calls = 0;
      override async append(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData)): Promise<HistoryEntry> {
        const entry = this.inner.append(room, data);
        await delay(this.#calls++ === 0 ? 60 : 0);
        return entry;
      }
    }
    const controller = new Room({ history: new ReversingHistory(100) });
    const server = await startServer({ "/room": controller });
    t.after(() => server.stop());
    const client = await server.connect("/room");
    await waitFor(() => controller.room("lobby").size === 1, 5_000, "the client to join");
    const first = controller.broadcastText("first", { room: "lobby", record: true });
    const second = controller.broadcastText("second", { room: "lobby", record: true });
    const [a, b] = await Promise.all([first, second]);
    assert.ok(a.id < b.id, "ids follow the calls");
    assert.deepEqual((await client.messages(2)).map((m) => m.text()), ["first", "second"]);
    client.close();
    await client.closed;
  });
});
