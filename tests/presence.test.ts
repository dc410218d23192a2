/**
 * Presence: MemoryPresence and the PresenceTracker on their own (a
 * reconnect within the grace changes nothing, several connections of a key
 * are one presence), then RedisPresence against a real redis-server, with
 * two or three "processes" (stores with their own clients and process ids)
 * in this one: each change is reported by exactly one of them, and a crashed
 * one's presences go within its lease and one sweep.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
// The named export: ioredis declares its default export the CommonJS way, which NodeNext does not construct.
import { Redis } from "ioredis";
import { PresenceTracker, type PresenceTrackerOptions } from "../src/core/_presence.ts";
import { MemoryPresence, type PresenceChange, type PresenceEntry, type PresenceStore } from "../src/core/presence.ts";
import { RedisPresence } from "../src/redis/presence.ts";
import { type RedisProcess, redisServerPath, startRedis } from "./helpers/redis-server.ts";
import { delay, waitFor } from "./helpers/server.ts";

/** A tracker over `store` with the changes it reported. */
function tracked(store: PresenceStore, options: PresenceTrackerOptions = {}): { tracker: PresenceTracker; changes: PresenceChange[] } {
  const changes: PresenceChange[] = [];
  const tracker = new PresenceTracker(store, (change) => changes.push(change), options);
  return { tracker, changes };
}

const summary = (changes: readonly PresenceChange[]): string[] => changes.map((c) => `${c.type} ${c.room} ${c.key} ${JSON.stringify(c.data)}`);
const byKey = (entries: readonly PresenceEntry[]): PresenceEntry[] => [...entries].sort((a, b) => (a.key < b.key ? -1 : 1));

describe("MemoryPresence", () => {
  test("add gives join, then update for other data and same for equal data; remove gives true once", async () => {
    const store = new MemoryPresence();
    assert.equal(await store.add("r", "ada", { name: "Ada" }), "join");
    assert.equal(await store.add("r", "ada", { name: "Ada" }), "same", "equal JSON is the same data");
    assert.equal(await store.add("r", "ada", { name: "Ada L." }), "update");
    assert.equal(await store.add("r", "bob", null), "join");
    assert.equal(await store.add("other", "ada", 1), "join", "rooms are separate");
    assert.deepEqual(await store.list("r"), [{ key: "ada", data: { name: "Ada L." } }, { key: "bob", data: null }]);
    assert.equal(await store.remove("r", "ada"), true);
    assert.equal(await store.remove("r", "ada"), false, "not held any more");
    assert.equal(await store.remove("nowhere", "ada"), false);
    assert.deepEqual(await store.list("r"), [{ key: "bob", data: null }]);
    assert.deepEqual(await store.list("nowhere"), []);
  });

  test("list gives copies: changing a listed entry or the added object changes nothing kept", async () => {
    const store = new MemoryPresence();
    const data = { name: "Ada", tags: ["a"] };
    await store.add("r", "ada", data);
    data.tags.push("changed");
    const [entry] = await store.list("r");
    (entry!.data as { name: string }).name = "changed";
    assert.deepEqual(await store.list("r"), [{ key: "ada", data: { name: "Ada", tags: ["a"] } }]);
  });

  test("data that is not JSON, and empty rooms or keys, are a TypeError", async () => {
    const store = new MemoryPresence();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const data of [undefined, () => 1, Symbol("s"), 1n, cycle]) {
      await assert.rejects(store.add("r", "k", data), TypeError, `data ${typeof data}`);
    }
    await assert.rejects(store.add("r", "k", undefined), /Cannot add presence as 'data' must be JSON-serialisable: current value is undefined/);
    await assert.rejects(store.add("", "k", 1), /Cannot add presence as 'room' must be a non-empty string: current value is string ""/);
    await assert.rejects(store.add("r", 7 as unknown as string, 1), /'key' must be a non-empty string: current value is number 7/);
    assert.deepEqual(await store.list("r"), [], "nothing was added");
  });

  test("the expired listener is never called, and close forgets everything", async () => {
    const store = new MemoryPresence();
    let called = 0;
    store.setExpiredListener(() => called++);
    await store.add("r", "ada", 1);
    await store.close();
    assert.deepEqual(await store.list("r"), []);
    assert.equal(called, 0);
  });
});

describe("PresenceTracker", () => {
  test("two connections of one key are one join; the leave comes once, after the last goes and the grace", async (t) => {
    const { tracker, changes } = tracked(new MemoryPresence(), { grace: 80 });
    t.after(() => tracker.close());
    assert.equal(tracker.grace, 80);
    const join = await tracker.track("c1", "r", "ada", { name: "Ada" });
    assert.deepEqual(join, { type: "join", room: "r", key: "ada", data: { name: "Ada" } });
    assert.equal(await tracker.track("c2", "r", "ada", { name: "Ada" }), undefined, "a second tab is no change");
    assert.deepEqual(summary(changes), ['join r ada {"name":"Ada"}']);
    tracker.untrack("c1", "r");
    await delay(160);
    assert.equal(changes.length, 1, "c2 still holds the key");
    const untracked = Date.now();
    tracker.untrack("c2", "r");
    await delay(20);
    assert.deepEqual(await tracker.list("r"), [{ key: "ada", data: { name: "Ada" } }], "present during the grace");
    await waitFor(() => changes.length === 2, 2_000, "the leave");
    assert.ok(Date.now() - untracked >= 75, `the leave came ${Date.now() - untracked} ms after the untrack`);
    assert.deepEqual(summary(changes), ['join r ada {"name":"Ada"}', 'leave r ada {"name":"Ada"}']);
    assert.deepEqual(await tracker.list("r"), []);
    await delay(100);
    assert.equal(changes.length, 2, "one leave");
    assert.equal(tracker.size, 0, "nothing is held once every connection has gone");
  });

  test("a reconnect within the grace gives no change at all: no leave, no join", async (t) => {
    const { tracker, changes } = tracked(new MemoryPresence(), { grace: 100 });
    t.after(() => tracker.close());
    await tracker.track("old", "r", "ada", { name: "Ada" });
    tracker.untrack("old", "r");
    await delay(30);
    assert.equal(await tracker.track("new", "r", "ada", { name: "Ada" }), undefined);
    await delay(200);
    assert.deepEqual(summary(changes), ['join r ada {"name":"Ada"}'], "only the first join");
    assert.deepEqual(await tracker.list("r"), [{ key: "ada", data: { name: "Ada" } }]);
    assert.equal(tracker.size, 1);
  });

  test("a reconnect within the grace with other data is one update", async (t) => {
    const { tracker, changes } = tracked(new MemoryPresence(), { grace: 100 });
    t.after(() => tracker.close());
    await tracker.track("old", "r", "ada", { name: "Guest-6B2W" });
    tracker.untrack("old", "r");
    const update = await tracker.track("new", "r", "ada", { name: "Ada" });
    assert.deepEqual(update, { type: "update", room: "r", key: "ada", data: { name: "Ada" } });
    await delay(200);
    assert.deepEqual(summary(changes), ['join r ada {"name":"Guest-6B2W"}', 'update r ada {"name":"Ada"}']);
  });

  test("new data is an update, for the same connection or another of the key; equal data is nothing", async (t) => {
    const { tracker, changes } = tracked(new MemoryPresence(), { grace: 0 });
    t.after(() => tracker.close());
    await tracker.track("c1", "r", "ada", { typing: false });
    assert.equal((await tracker.track("c1", "r", "ada", { typing: true }))?.type, "update");
    assert.equal(await tracker.track("c1", "r", "ada", { typing: true }), undefined);
    assert.equal((await tracker.track("c2", "r", "ada", { typing: false }))?.type, "update");
    assert.deepEqual(summary(changes), [
      'join r ada {"typing":false}',
      'update r ada {"typing":true}',
      'update r ada {"typing":false}',
    ]);
    assert.deepEqual(await tracker.list("r"), [{ key: "ada", data: { typing: false } }]);
  });

  test("grace 0 removes the key at once; untracking what is not tracked does nothing", async (t) => {
    const { tracker, changes } = tracked(new MemoryPresence(), { grace: 0 });
    t.after(() => tracker.close());
    await tracker.track("c1", "r", "ada", 1);
    tracker.untrack("c1", "r");
    tracker.untrack("c1", "r");
    tracker.untrack("c9", "r");
    tracker.untrack("c1", "elsewhere");
    await waitFor(() => changes.length === 2, 1_000, "the leave");
    assert.deepEqual(summary(changes), ["join r ada 1", "leave r ada 1"]);
    assert.equal(tracker.size, 0);
  });

  test("calls are applied in call order: track, untrack and track again at once with grace 0", async (t) => {
    const { tracker, changes } = tracked(new MemoryPresence(), { grace: 0 });
    t.after(() => tracker.close());
    const first = tracker.track("c1", "r", "ada", 1);
    tracker.untrack("c1", "r");
    const second = tracker.track("c2", "r", "ada", 1);
    assert.equal((await first)?.type, "join");
    // The removal was queued before c2 came: it is dropped, and c2's add finds the key held.
    assert.equal(await second, undefined);
    await delay(20);
    assert.deepEqual(summary(changes), ["join r ada 1"]);
    assert.deepEqual(await tracker.list("r"), [{ key: "ada", data: 1 }]);
  });

  test("a connection tracked as another key leaves the old one at once (it did not disconnect)", async (t) => {
    const { tracker, changes } = tracked(new MemoryPresence(), { grace: 5_000 });
    t.after(() => tracker.close());
    await tracker.track("c1", "r", "guest-6b2w", { name: "Guest-6B2W" });
    assert.equal((await tracker.track("c1", "r", "ada", { name: "Ada" }))?.type, "join");
    await waitFor(() => changes.length === 3, 1_000, "the old key's leave");
    assert.deepEqual(summary(changes).sort(), [
      'join r ada {"name":"Ada"}',
      'join r guest-6b2w {"name":"Guest-6B2W"}',
      'leave r guest-6b2w {"name":"Guest-6B2W"}',
    ]);
    assert.deepEqual(await tracker.list("r"), [{ key: "ada", data: { name: "Ada" } }]);
  });

  test("rooms are separate: leaving one room leaves the key present in the other", async (t) => {
    const { tracker, changes } = tracked(new MemoryPresence(), { grace: 0 });
    t.after(() => tracker.close());
    await tracker.track("c1", "a", "ada", 1);
    await tracker.track("c1", "b", "ada", 1);
    tracker.untrack("c1", "a");
    await waitFor(() => changes.length === 3, 1_000, "the leave of room a");
    assert.deepEqual(summary(changes), ["join a ada 1", "join b ada 1", "leave a ada 1"]);
    assert.deepEqual(await tracker.list("b"), [{ key: "ada", data: 1 }]);
  });

  test("close cancels the graces (no leave comes), closes the store, and tracking after it rejects", async () => {
    const store = new MemoryPresence();
    const { tracker, changes } = tracked(store, { grace: 50 });
    await tracker.track("c1", "r", "ada", 1);
    tracker.untrack("c1", "r");
    await tracker.close();
    await delay(120);
    assert.deepEqual(summary(changes), ["join r ada 1"]);
    assert.deepEqual(await store.list("r"), [], "the store was closed");
    await assert.rejects(tracker.track("c1", "r", "ada", 1), /Cannot track presence as the tracker is closed/);
    tracker.untrack("c1", "r");
    assert.equal(tracker.close(), tracker.close(), "close is idempotent");
  });

  test("a listener that throws reaches onError and the tracker goes on", async (t) => {
    const errors: Error[] = [];
    const tracker = new PresenceTracker(new MemoryPresence(), () => {
      throw new Error("listener broke");
    }, { grace: 0, onError: (error) => errors.push(error) });
    t.after(() => tracker.close());
    assert.equal((await tracker.track("c1", "r", "ada", 1))?.type, "join", "the change is still returned");
    assert.deepEqual(errors.map((e) => e.message), ["listener broke"]);
  });

  test("a failed store removal reaches onError", async (t) => {
    const errors: Error[] = [];
    const store = new MemoryPresence();
    store.remove = () => Promise.reject(new Error("store down"));
    const tracker = new PresenceTracker(store, () => {}, { grace: 0, onError: (error) => errors.push(error) });
    t.after(() => tracker.close());
    await tracker.track("c1", "r", "ada", 1);
    tracker.untrack("c1", "r");
    await waitFor(() => errors.length === 1, 1_000, "the error");
    assert.equal(errors[0]!.message, "store down");
  });

  test("bad arguments are a TypeError (a RangeError for a bad grace), and change nothing", async (t) => {
    const store = new MemoryPresence();
    assert.throws(() => new PresenceTracker(store, undefined as never), /Cannot create presence tracker as 'onChange' must be a function: current value is undefined/);
    assert.throws(() => new PresenceTracker(store, () => {}, { grace: -1 }), RangeError);
    assert.throws(() => new PresenceTracker(store, () => {}, { grace: Infinity }), RangeError);
    assert.throws(() => new PresenceTracker(store, () => {}, { grace: "5" as never }), TypeError);
    assert.throws(() => new PresenceTracker(store, () => {}, { grce: 5 } as never), /'grce' is not an option/);
    assert.throws(() => new PresenceTracker(store, () => {}, { onError: 1 as never }), /'onError' must be a function/);
    const { tracker, changes } = tracked(store, { grace: 0 });
    t.after(() => tracker.close());
    await assert.rejects(tracker.track("", "r", "k", 1), /Cannot track presence as 'connectionId' must be a non-empty string/);
    await assert.rejects(tracker.track("c", undefined as never, "k", 1), /'room' must be a non-empty string: current value is undefined/);
    await assert.rejects(tracker.track("c", "r", null as never, 1), /'key' must be a non-empty string: current value is null/);
    await assert.rejects(tracker.track("c", "r", "k", () => {}), /'data' must be JSON-serialisable: current value is a function/);
    await assert.rejects(tracker.track("c", "r", "k", { n: 1n }), TypeError);
    assert.throws(() => tracker.untrack(1 as never, "r"), /Cannot untrack presence as 'connectionId' must be a non-empty string/);
    await assert.rejects(tracker.list(""), TypeError);
    assert.equal(tracker.size, 0, "nothing was tracked");
    assert.deepEqual(changes, []);
  });
});

describe("RedisPresence", { skip: !redisServerPath && "redis-server is not installed" }, () => {
  let server: RedisProcess;
  const clients: Redis[] = [];
  const stores: RedisPresence[] = [];
  let endpoints = 0;

  before(async () => {
    server = await startRedis();
  });

  after(async () => {
    await Promise.allSettled(stores.map((store) => store.close()));
    for (const client of clients) client.disconnect();
    await server?.stop();
  });

  /** A "process": its own client and store, and the changes its expired listener got. */
  async function startProcess(name: string, processId: string, lease?: number) {
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    client.on("error", () => {}); // without a listener ioredis logs each connection error
    clients.push(client);
    await client.ping();
    const errors: Error[] = [];
    const store = new RedisPresence(client, { name, processId, lease, onError: (error) => errors.push(error) });
    stores.push(store);
    const expired: PresenceChange[] = [];
    store.setExpiredListener((change) => expired.push(change));
    return { client, store, expired, errors };
  }

  const endpoint = (): string => `presence-${++endpoints}`;

  test("a join is reported by exactly one process, and both list the same entries", async () => {
    const name = endpoint();
    const a = await startProcess(name, "A");
    const b = await startProcess(name, "B");
    assert.equal(await a.store.add("r", "ada", { name: "Ada" }), "join");
    assert.equal(await b.store.add("r", "ada", { name: "Ada" }), "same", "B holds ada too, with the same data");
    assert.equal(await b.store.add("r", "bob", { name: "Bob" }), "join");
    assert.equal(await a.store.add("r", "bob", { name: "Bobby" }), "update", "held already, by B: an update");
    const expected = [{ key: "ada", data: { name: "Ada" } }, { key: "bob", data: { name: "Bobby" } }];
    assert.deepEqual(byKey(await a.store.list("r")), expected);
    assert.deepEqual(byKey(await b.store.list("r")), expected);
    assert.deepEqual(await a.store.list("empty"), []);
  });

  test("two trackers on two processes: one join between them, for the key held on both", async (t) => {
    const name = endpoint();
    const a = tracked((await startProcess(name, "A")).store, { grace: 0 });
    const b = tracked((await startProcess(name, "B")).store, { grace: 0 });
    t.after(() => Promise.all([a.tracker.close(), b.tracker.close()]));
    await Promise.all([a.tracker.track("a1", "r", "ada", 1), b.tracker.track("b1", "r", "ada", 1), b.tracker.track("b2", "r", "ada", 1)]);
    assert.deepEqual(summary([...a.changes, ...b.changes]), ["join r ada 1"]);
    b.tracker.untrack("b1", "r");
    b.tracker.untrack("b2", "r");
    a.tracker.untrack("a1", "r");
    await waitFor(() => a.changes.length + b.changes.length === 2, 2_000, "the leave");
    await delay(50);
    assert.deepEqual(summary([...a.changes, ...b.changes]), ["join r ada 1", "leave r ada 1"]);
  });

  test("a key held by both processes leaves only when both remove it; the room's keys go", async () => {
    const name = endpoint();
    const a = await startProcess(name, "A");
    const b = await startProcess(name, "B");
    await a.store.add("r", "ada", 1);
    await b.store.add("r", "ada", 1);
    assert.deepEqual(
      (await server.command("KEYS", `sb:*${name}:*`)).split("\n").sort(),
      [`sb:${name}:presence-rooms`, `sb:{${name}:r}:pc`, `sb:{${name}:r}:ph`, `sb:{${name}:r}:pz`],
      "the room's keys share the hash tag {name:room}",
    );
    assert.equal(await server.command("HGET", `sb:{${name}:r}:pc`, "ada"), "2");
    assert.equal(await a.store.remove("r", "ada"), false, "B still holds it");
    assert.deepEqual(await b.store.list("r"), [{ key: "ada", data: 1 }]);
    assert.equal(await a.store.remove("r", "ada"), false, "A no longer holds it");
    assert.equal(await b.store.remove("r", "ada"), true, "the leave");
    assert.deepEqual(await a.store.list("r"), []);
    assert.equal(await server.command("KEYS", `sb:{${name}:*`), "", "the room's keys are gone");
    await a.store.sweep();
    assert.equal(await server.command("KEYS", `sb:*${name}:*`), "", "the sweep took the empty room out of the index");
  });

  test("a crashed process's presences go within lease + one sweep, each leave reported once", async () => {
    const name = endpoint();
    const lease = 600;
    const a = await startProcess(name, "A", lease);
    const b = await startProcess(name, "B", lease);
    const crashed = await startProcess(name, "C", lease);
    assert.equal(a.store.renewInterval, 200);
    assert.equal(a.store.sweepInterval, 150);
    await crashed.store.add("r", "ada", { name: "Ada" });
    await crashed.store.add("r", "bob", { name: "Bob" });
    await crashed.store.add("s", "ada", { name: "Ada" });
    await a.store.add("r", "bob", { name: "Bob" });
    await delay(lease); // the crashed process renews meanwhile: nothing expires
    assert.deepEqual(byKey(await b.store.list("r")).map((e) => e.key), ["ada", "bob"]);
    assert.deepEqual([...a.expired, ...b.expired], []);
    // The crash: no renewal, no removal. A disconnected client is not ready, so its timers and close send nothing.
    crashed.client.disconnect();
    const crashedAt = Date.now();
    await waitFor(() => a.expired.length + b.expired.length >= 2, 5_000, "the leaves of ada in r and s");
    const elapsed = Date.now() - crashedAt;
    // Its holdings expire one lease after its last renewal (at most renewInterval before the crash); a sweep follows within sweepInterval.
    assert.ok(elapsed >= lease - a.store.renewInterval - 50, `the leaves came ${elapsed} ms after the crash: too early`);
    assert.ok(elapsed <= lease + a.store.sweepInterval + 250, `the leaves came ${elapsed} ms after the crash: too late`);
    await delay(2 * lease); // more sweeps on both: nothing is reported again
    assert.deepEqual(summary([...a.expired, ...b.expired]).sort(), ['leave r ada {"name":"Ada"}', 'leave s ada {"name":"Ada"}']);
    assert.deepEqual(await b.store.list("r"), [{ key: "bob", data: { name: "Bob" } }], "A still holds bob: no leave for it");
    assert.deepEqual(await a.store.list("s"), []);
    assert.equal(await server.command("HGET", `sb:{${name}:r}:pc`, "bob"), "1");
    assert.equal(await server.command("ZRANGE", `sb:${name}:presence-rooms`, "0", "-1"), "r", "s, now empty, left the index");
    assert.deepEqual([...a.errors, ...b.errors], []);
    // The crashed one may have had a renewal or a sweep on the wire: it failed, and said so.
    for (const error of crashed.errors) assert.match(error.message, /Connection is closed/);
  });

  test("a tracker's reconnect within the grace on another process gives no leave and no join", async (t) => {
    const name = endpoint();
    const a = tracked((await startProcess(name, "A")).store, { grace: 200 });
    const b = tracked((await startProcess(name, "B")).store, { grace: 200 });
    t.after(() => Promise.all([a.tracker.close(), b.tracker.close()]));
    await a.tracker.track("c1", "r", "ada", { name: "Ada" });
    a.tracker.untrack("c1", "r"); // the client's connection to A drops...
    await delay(50);
    assert.equal(await b.tracker.track("c2", "r", "ada", { name: "Ada" }), undefined, "...and it comes back on B");
    await delay(400);
    assert.deepEqual(summary([...a.changes, ...b.changes]), ['join r ada {"name":"Ada"}']);
    assert.deepEqual(await a.tracker.list("r"), [{ key: "ada", data: { name: "Ada" } }]);
    assert.equal(await server.command("HGET", `sb:{${name}:r}:pc`, "ada"), "1", "only B holds it now");
  });

  test("a process that lost its holdings puts them back at its next renewal and reports the join", async () => {
    const name = endpoint();
    const a = await startProcess(name, "A");
    const b = await startProcess(name, "B");
    await b.store.add("r", "ada", 1);
    // As if B had stalled past its lease: its holding runs out, and A's sweep finds it.
    await server.command("ZADD", `sb:{${name}:r}:pz`, "0", "B|ada");
    await a.store.sweep();
    assert.deepEqual(summary(a.expired), ["leave r ada 1"]);
    assert.deepEqual(await a.store.list("r"), []);
    await b.store.renew();
    assert.deepEqual(summary(b.expired), ["join r ada 1"]);
    assert.deepEqual(await a.store.list("r"), [{ key: "ada", data: 1 }]);
    await b.store.renew();
    assert.equal(b.expired.length, 1, "a renewal of a held key reports nothing");
  });

  test("list leaves out holdings whose lease ran out before a sweep removes them", async () => {
    const name = endpoint();
    const a = await startProcess(name, "A");
    await a.store.add("r", "ada", 1);
    await a.store.add("r", "bob", 2);
    await server.command("ZADD", `sb:{${name}:r}:pz`, "0", "A|bob");
    assert.deepEqual(await a.store.list("r"), [{ key: "ada", data: 1 }]);
  });

  test("close removes this process's holdings and reports nothing, here or elsewhere", async () => {
    const name = endpoint();
    const a = await startProcess(name, "A", 600);
    const b = await startProcess(name, "B", 600);
    await a.store.add("r", "ada", 1);
    await a.store.add("r", "both", 1);
    await b.store.add("r", "both", 1);
    await a.store.close();
    assert.deepEqual(await b.store.list("r"), [{ key: "both", data: 1 }]);
    assert.equal(await server.command("HGET", `sb:{${name}:r}:pc`, "both"), "1");
    await delay(800);
    assert.deepEqual([...a.expired, ...b.expired], []);
    await assert.rejects(a.store.add("r", "ada", 1), /Cannot add presence as the store is closed/);
  });

  test("after SCRIPT FLUSH (a restarted or new server) the scripts are sent again", async () => {
    const name = endpoint();
    const a = await startProcess(name, "A");
    await a.store.add("r", "ada", 1);
    await server.command("SCRIPT", "FLUSH");
    assert.equal(await a.store.add("r", "bob", 1), "join");
    assert.equal(await a.store.remove("r", "ada"), true);
    assert.deepEqual(await a.store.list("r"), [{ key: "bob", data: 1 }]);
  });

  test("after Redis restarts empty, each process puts its holdings back and the first to do so reports the join", async () => {
    const name = endpoint();
    // A long lease: no timer renews before the calls below, which choose who renews first.
    const a = await startProcess(name, "A", 60_000);
    const b = await startProcess(name, "B", 60_000);
    await a.store.add("r", "ada", 1);
    await b.store.add("r", "ada", 1);
    await b.store.add("r", "bob", 2);
    await server.restart();
    await waitFor(() => a.client.status === "ready" && b.client.status === "ready", 5_000, "the clients to reconnect");
    assert.deepEqual(await a.store.list("r"), [], "the restarted server is empty");
    await a.store.renew();
    await b.store.renew();
    assert.deepEqual(summary(a.expired), ["join r ada 1"]);
    assert.deepEqual(summary(b.expired), ["join r bob 2"], "ada was back already: no second join");
    assert.deepEqual(byKey(await b.store.list("r")), [{ key: "ada", data: 1 }, { key: "bob", data: 2 }]);
    assert.equal(await server.command("HGET", `sb:{${name}:r}:pc`, "ada"), "2");
    assert.equal(await server.command("ZRANGE", `sb:${name}:presence-rooms`, "0", "-1"), "r", "the room is indexed again");
  });

  test("bad options and data are a TypeError (a RangeError for a short lease)", async () => {
    const client = new Redis(server.url, { lazyConnect: true });
    clients.push(client);
    assert.throws(() => new RedisPresence(client, undefined as never), /Cannot create Redis presence as the options must be an object/);
    assert.throws(() => new RedisPresence(client, { name: "", processId: "A" }), /'name' must be a non-empty string/);
    assert.throws(() => new RedisPresence(client, { name: "n", processId: "A|B" }), /'processId' must not contain '\|'/);
    assert.throws(() => new RedisPresence(client, { name: "n", processId: "A", lease: 50 }), RangeError);
    assert.throws(() => new RedisPresence(client, { name: "n", processId: "A", leese: 1 } as never), /'leese' is not an option/);
    assert.throws(() => new RedisPresence({} as never, { name: "n", processId: "A" }), /'client' must be a Redis client/);
    const store = new RedisPresence(client, { name: endpoint(), processId: "A" });
    stores.push(store);
    await assert.rejects(store.add("r", "k", undefined), /Cannot add presence as 'data' must be JSON-serialisable/);
    await assert.rejects(store.add("r", "", 1), TypeError);
    await assert.rejects(store.remove("", "k"), TypeError);
    await assert.rejects(store.list(""), TypeError);
  });
});
