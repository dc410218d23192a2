/**
 * The History contract as tests, run against each implementation (tests/
 * history.test.ts: MemoryHistory; tests/redis-history.test.ts: RedisHistory
 * on a real redis-server): the same cases, word for word. What an
 * implementation may do differently is a parameter of the subject, not a
 * second copy of a case: `trimSlack`, how many entries past `size` a
 * history may still give whole (Redis trims with `XADD MAXLEN ~`).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { type History, type HistoryData, type HistoryEntry, type HistoryMeta, NO_POSITION, type Position } from "../../mod.ts";

/** An implementation under test. */
export interface HistorySubject {
  /** A new, empty history (of its own: nothing another test wrote) with these bounds; `ttl` in ms, default a day. */
  make(bounds: { size: number; ttl?: number }): History | Promise<History>;
  /** Entries past `size` that `since` may still give whole (0: exactly `size`). */
  readonly trimSlack: number;
  /** Runs once the cases are done (stops a server, say). */
  done?(): void | Promise<void>;
}

const texts = (entries: readonly HistoryEntry[]): HistoryData[] => entries.map((e) => e.data);
const ids = (entries: readonly HistoryEntry[]): number[] => entries.map((e) => e.id);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Appends `count` messages "m<n>" one after the other. */
async function fill(history: History, room: string, count: number, from = 1): Promise<void> {
  for (let i = from; i < from + count; i++) await history.append(room, `m${i}`);
}

/** Bytes as an array: a Buffer (a Uint8Array too) and a plain Uint8Array compare equal this way. */
function bytes(data: HistoryData | undefined): number[] {
  assert.ok(data instanceof Uint8Array, `binary data, not ${typeof data}`);
  return [...data];
}

/** An entry has exactly the fields of a HistoryEntry: nothing of the store's own leaks out. */
function assertEntryShape(entry: HistoryEntry, what: string): void {
  assert.deepEqual(Object.keys(entry).sort(), ["data", "epoch", "id", "room", "timestamp"], what);
}

/** Registers the contract's cases for `subject`, in a suite named `History contract: <name>`. */
export function historyContract(name: string, subject: HistorySubject, options: { skip?: string | false } = {}): void {
  describe(`History contract: ${name}`, { skip: options.skip }, () => {
    if (subject.done) after(() => subject.done!());
    const make = (size: number, ttl?: number) => Promise.resolve(subject.make({ size, ttl }));

    test("ids start at 1 and go up by one, in the order of the calls, plain and built, awaited or not", async () => {
      const history = await make(100);
      const before = Date.now();
      for (let i = 1; i <= 3; i++) assert.equal((await history.append("room", `m${i}`)).id, i);
      const calls: Promise<HistoryEntry>[] = [];
      for (let i = 4; i <= 30; i++) {
        calls.push(i % 3 === 0 ? history.append("room", (meta) => `m${i} as ${meta.id}`) : history.append("room", `m${i}`));
      }
      const entries = await Promise.all(calls);
      assert.deepEqual(ids(entries), range(4, 30), "in call order, though not awaited one by one");
      const kept = await history.recent("room");
      assert.deepEqual(ids(kept), range(1, 30));
      assert.deepEqual(texts(kept), range(1, 30).map((i) => (i % 3 === 0 && i > 3 ? `m${i} as ${i}` : `m${i}`)));
      for (const entry of kept) {
        assertEntryShape(entry, `entry ${entry.id}`);
        assert.equal(entry.room, "room");
        assert.equal(entry.epoch, kept[0]!.epoch, "one epoch");
      }
      for (let i = 1; i < kept.length; i++) assert.ok(kept[i]!.timestamp >= kept[i - 1]!.timestamp, "timestamps never go back");
      assert.ok(kept[0]!.timestamp >= before && kept.at(-1)!.timestamp <= Date.now());
    });

    test("150 appends with size 100 keep the newest 100: recent() and count() say so", async () => {
      const history = await make(100);
      await fill(history, "room", 150);
      const kept = await history.recent("room");
      assert.deepEqual(ids(kept), range(51, 150));
      assert.deepEqual(texts(kept), range(51, 150).map((i) => `m${i}`));
      assert.equal(await history.count("room"), 100);
    });

    test("recent(room, n) gives the newest n, oldest first; a bad limit is a rejected RangeError", async () => {
      const history = await make(10);
      await fill(history, "r", 25);
      assert.deepEqual(ids(await history.recent("r", 3)), [23, 24, 25]);
      assert.deepEqual(ids(await history.recent("r", 1)), [25]);
      assert.deepEqual(ids(await history.recent("r", 0)), []);
      assert.deepEqual(ids(await history.recent("r", 10)), range(16, 25));
      assert.deepEqual(ids(await history.recent("r", 1_000)), range(16, 25), "more than kept gives all kept");
      assert.deepEqual(ids(await history.recent("r")), range(16, 25), "no limit gives all kept");
      assert.deepEqual(await history.recent("unknown", 5), []);
      assert.deepEqual(ids(await history.recent("r", -3)), [], "a negative limit gives nothing");
      assert.deepEqual(ids(await history.recent("r", 2.5)), [24, 25], "a fractional limit rounds down");
      assert.deepEqual(ids(await history.recent("r", Infinity)), range(16, 25));
      for (const limit of [Number.NaN, "5", null]) {
        // A bad limit is a rejected promise, not a synchronous throw from an async API.
        let result: unknown;
        try {
          result = history.recent("r", limit as number);
        } catch (error) {
          result = `threw synchronously: ${error}`;
        }
        assert.ok(result instanceof Promise, String(result));
        await assert.rejects(result, RangeError, String(limit));
      }
    });

    test("since(room, id) gives exactly the entries after id, up to the top; since the top is complete and empty", async () => {
      const history = await make(100);
      await fill(history, "room", 150);
      const position = await history.position("room");
      assert.equal(position.id, 150);
      for (const after of [50, 51, 100, 120, 149]) {
        const result = await history.since("room", after);
        assert.equal(result.complete, true, `since(${after}) is complete`);
        assert.deepEqual(ids(result.entries), range(after + 1, 150), `since(${after})`);
        assert.deepEqual(texts(result.entries), range(after + 1, 150).map((i) => `m${i}`));
        assert.deepEqual(result.position, position);
        for (const entry of result.entries) assertEntryShape(entry, `since(${after}), entry ${entry.id}`);
      }
      assert.deepEqual(await history.since("room", 150), { complete: true, entries: [], position });
      assert.deepEqual(await history.since("room", position), { complete: true, entries: [], position }, "the same as a Position");
      const third = await history.since("room", { epoch: position.epoch, id: 147 });
      assert.deepEqual(ids(third.entries), [148, 149, 150]);
    });

    test("since a position whose entries fell out of the log is complete: false, never a partial replay", async () => {
      const size = 5;
      const history = await make(size);
      const top = size + subject.trimSlack + 60;
      await fill(history, "room", top);
      const position = await history.position("room");
      assert.equal(position.id, top);
      for (const after of [0, 1, top - size - subject.trimSlack - 1]) {
        assert.deepEqual(await history.since("room", after), { complete: false, entries: [], position }, `since(${after})`);
        assert.deepEqual(await history.since("room", { epoch: position.epoch, id: after }), { complete: false, entries: [], position });
      }
      const kept = await history.since("room", top - size);
      assert.equal(kept.complete, true, "the newest `size` are always there");
      assert.deepEqual(ids(kept.entries), range(top - size + 1, top));
    });

    test("since another epoch, an id never issued, or something that is no position is complete: false", async () => {
      const history = await make(10);
      await fill(history, "room", 8);
      const position = await history.position("room");
      const gap = { complete: false, entries: [], position };
      assert.deepEqual(await history.since("room", { epoch: "another-epoch", id: 3 }), gap, "another epoch");
      assert.deepEqual(await history.since("room", { epoch: "", id: 0 }), gap, "the position of a room without a log");
      for (const bad of [9, 100, -1, 2.5, Number.NaN, Infinity]) {
        assert.deepEqual(await history.since("room", bad), gap, `since(${bad})`);
        assert.deepEqual(await history.since("room", { epoch: position.epoch, id: bad }), gap, `since({ id: ${bad} })`);
      }
      // From plain JavaScript: what is neither a number nor a Position.
      for (const bad of [null, undefined, "3", {}, [], { epoch: position.epoch }, { epoch: position.epoch, id: "3" }]) {
        assert.deepEqual(await history.since("room", bad as unknown as Position), gap, `since(${JSON.stringify(bad)})`);
      }
    });

    test("a room without a log is at { epoch: '', id: 0 }: since 0 is complete and empty, since 1 is not; a bare id is of the current epoch", async () => {
      const history = await make(5);
      assert.deepEqual(await history.position("room"), NO_POSITION);
      assert.deepEqual(await history.since("room", 0), { complete: true, entries: [], position: NO_POSITION }, "nothing recorded yet, nothing missed");
      assert.deepEqual(await history.since("room", NO_POSITION), { complete: true, entries: [], position: NO_POSITION });
      assert.deepEqual(await history.since("room", 1), { complete: false, entries: [], position: NO_POSITION }, "id 1 was never issued");
      const first = await history.append("room", "m1");
      assert.notEqual(first.epoch, "", "a log has a real epoch");
      assert.deepEqual(await history.position("room"), { epoch: first.epoch, id: 1 });
      await history.append("room", "m2");
      const bare = await history.since("room", 1);
      assert.deepEqual(bare, await history.since("room", { epoch: first.epoch, id: 1 }), "a bare id is an id of the current epoch");
      assert.deepEqual(texts(bare.entries), ["m2"]);
      assert.deepEqual((await history.since("room", 0)).entries.length, 2);
    });

    test("rooms are independent: own ids, own epochs, own bounds, own since", async () => {
      const history = await make(3);
      await fill(history, "a", 5);
      await history.append("b", "b1");
      assert.equal((await history.append("b", "b2")).id, 2, "b counts its own ids");
      assert.equal((await history.append("a", "m6")).id, 6);
      assert.deepEqual(texts(await history.recent("a")), ["m4", "m5", "m6"]);
      assert.deepEqual(texts(await history.recent("b")), ["b1", "b2"]);
      assert.deepEqual(texts((await history.since("b", 0)).entries), ["b1", "b2"]);
      assert.equal((await history.since("b", 3)).complete, false, "a's ids mean nothing in b");
      const a = await history.position("a");
      assert.equal((await history.since("b", a)).complete, false, "nor does a's epoch");
      assert.notEqual(a.epoch, (await history.position("b")).epoch, "each room has its own epoch");
      assert.ok((await history.recent("a")).every((e) => e.room === "a"));
    });

    test("a builder gets the message's own id, epoch and timestamp", async () => {
      const history = await make(10);
      await history.append("chat", "plain");
      const metas: HistoryMeta[] = [];
      const entry = await history.append("chat", (meta) => {
        metas.push(meta);
        return JSON.stringify({ id: meta.id, epoch: meta.epoch, at: meta.timestamp, text: "hi" });
      });
      assert.equal(entry.id, 2);
      assert.deepEqual(metas.at(-1), { id: entry.id, epoch: entry.epoch, room: "chat", timestamp: entry.timestamp }, "the last build is the one kept");
      assert.deepEqual(JSON.parse(entry.data as string), { id: 2, epoch: entry.epoch, at: entry.timestamp, text: "hi" });
      const binary = await history.append("chat", ({ id }) => new Uint8Array([id, 0xff]));
      assert.deepEqual(bytes(binary.data), [3, 0xff]);
      // Several at once: each built message carries the position it is stored at.
      const built = await Promise.all(range(1, 10).map(() => history.append("chat", (meta) => `${meta.epoch}/${meta.id}`)));
      for (const e of built) assert.equal(e.data, `${e.epoch}/${e.id}`);
      assert.deepEqual(ids(built), range(4, 13));
      const stored = await history.recent("chat");
      assert.deepEqual(texts(stored.slice(-10)), built.map((e) => e.data));
      // A builder in a room without a log gets the epoch the room's first message is stored in.
      const first = await history.append("fresh", (meta) => `${meta.epoch}/${meta.id}`);
      assert.equal(first.data, `${first.epoch}/1`);
      assert.notEqual(first.epoch, "");
    });

    test("data comes back as stored: every byte value, empty bytes, text with newlines and non-ASCII, the empty string", async () => {
      const history = await make(10);
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const text = "line 1\nline 2\r\n\ttabbed é ü 漢字 🎉 \u0000 end";
      await history.append("bin", all);
      await history.append("bin", new Uint8Array(0));
      await history.append("bin", text);
      await history.append("bin", "");
      await history.append("bin", new Uint8Array(all.buffer, 250, 6)); // a view into a larger buffer
      for (const entries of [await history.recent("bin"), (await history.since("bin", 0)).entries]) {
        assert.equal(entries.length, 5);
        assert.deepEqual(bytes(entries[0]!.data), [...all]);
        assert.deepEqual(bytes(entries[1]!.data), []);
        assert.equal(entries[2]!.data, text);
        assert.equal(entries[3]!.data, "");
        assert.deepEqual(bytes(entries[4]!.data), [250, 251, 252, 253, 254, 255]);
      }
    });

    test("count() per room and in all; rooms(); clear() one room or all, and a cleared room starts again at id 1 in a new epoch", async () => {
      const history = await make(4);
      await fill(history, "a", 6);
      await fill(history, "b", 2);
      assert.equal(await history.count("a"), 4, "bounded");
      assert.equal(await history.count("b"), 2);
      assert.equal(await history.count("none"), 0);
      assert.equal(await history.count(), 6);
      assert.deepEqual((await history.rooms()).sort(), ["a", "b"]);
      const before = await history.position("a");
      await history.clear("a");
      assert.equal(await history.count("a"), 0);
      assert.equal(await history.count(), 2);
      assert.deepEqual(await history.recent("a"), []);
      assert.deepEqual(await history.position("a"), NO_POSITION);
      assert.deepEqual(await history.rooms(), ["b"]);
      const again = await history.append("a", "again");
      assert.equal(again.id, 1);
      assert.notEqual(again.epoch, before.epoch, "a cleared room starts a new epoch");
      const stale = await history.since("a", { epoch: before.epoch, id: 1 });
      assert.equal(stale.complete, false, "a position from before clear() is never complete, though id 1 exists again");
      await history.clear();
      assert.equal(await history.count(), 0);
      assert.deepEqual(await history.recent("b"), []);
      assert.deepEqual(await history.rooms(), []);
    });

    test("a room is forgotten ttl after its last message (a ttl in fractions of a millisecond too), and comes back in a new epoch", async () => {
      const history = await make(10, 150.5);
      const old = await history.append("quiet", "q1");
      await history.append("busy", "b1");
      assert.deepEqual((await history.rooms()).sort(), ["busy", "quiet"]);
      await delay(100);
      await history.append("busy", "b2"); // keeps "busy" alive
      await delay(100);
      assert.deepEqual(await history.rooms(), ["busy"], "the quiet room expired");
      assert.equal(await history.count("quiet"), 0);
      assert.deepEqual(await history.position("quiet"), NO_POSITION);
      assert.equal((await history.since("quiet", old)).complete, false, "its old position is not complete any more");
      assert.deepEqual(ids(await history.recent("busy")), [1, 2]);
      const again = await history.append("quiet", "q2");
      assert.equal(again.id, 1);
      assert.notEqual(again.epoch, old.epoch);
    });

    test("bad arguments from JavaScript are rejected promises with a TypeError: a room that is no name, data that is neither text nor bytes", async () => {
      const history = await make(10);
      const calls: [string, () => Promise<unknown>][] = [
        ["room 42", () => history.append(42 as unknown as string, "x")],
        ["room ''", () => history.append("", "x")],
        ["data 42", () => history.append("r", 42 as unknown as string)],
        ["data null", () => history.append("r", null as unknown as string)],
        ["data {}", () => history.append("r", {} as unknown as string)],
        ["built 42", () => history.append("r", () => 42 as unknown as string)],
      ];
      for (const [what, call] of calls) {
        let result: unknown;
        try {
          result = call();
        } catch (error) {
          result = `threw synchronously: ${error}`;
        }
        assert.ok(result instanceof Promise, `${what}: ${String(result)}`);
        await assert.rejects(result, TypeError, what);
      }
      assert.equal(await history.count("r"), 0, "nothing was stored");
      const builderError = new Error("the builder's own");
      await assert.rejects(history.append("r", () => {
        throw builderError;
      }), (error) => error === builderError, "a builder's error comes out as it is");
      assert.equal((await history.append("r", "fine")).id, 1, "and a failed append takes no id");
    });
  });
}
