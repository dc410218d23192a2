/**
 * RoomFeed on its own, with no Redis: a FeedHost that plays the room's stream
 * in memory. Each test drives the channel by hand (`receive`), so that losses,
 * duplicates, gaps, trims and epoch changes happen exactly where a test wants
 * them; reads can be held on their way (`paused`) to place messages between a
 * read's execution and its answer, as with a real Redis.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Position } from "../src/core/history.ts";
import type { StoredEntry } from "../src/redis/redis-history.ts";
import { type FeedHost, type RecordedMessage, RoomFeed } from "../src/redis/room-feed.ts";

/** The room's log as Redis keeps it: epoch, top, base, entries (trimmable). */
class Stream {
  epoch = "E1";
  top = 0;
  base = 0;
  entries: StoredEntry[] = [];

  /** Appends the next message and returns it, as the channel would bring it. */
  append(): RecordedMessage {
    if (this.epoch === "") this.epoch = "E1"; // a room without a log starts one
    const entry: StoredEntry = { room: "r", epoch: this.epoch, id: ++this.top, timestamp: 0, data: `m${this.top}`, except: [] };
    this.entries.push(entry);
    return entry;
  }

  /** Appends `n` messages; returns them. */
  appendMany(n: number): RecordedMessage[] {
    return Array.from({ length: n }, () => this.append());
  }

  /** Keeps only the newest `n` entries, as MAXLEN does. */
  trim(n: number): void {
    this.entries = this.entries.slice(-n);
  }

  /** A new epoch whose ids go on after the top (a restarted or promoted Redis). */
  rotate(epoch: string): void {
    this.epoch = epoch;
    this.base = this.top;
    this.entries = [];
  }

  /** The room's log is gone (cleared, expired): epoch "", id 0. */
  gone(): void {
    this.epoch = "";
    this.top = this.base = 0;
    this.entries = [];
  }

  read(after: number): { epoch: string; top: number; base: number; entries: StoredEntry[] } {
    return { epoch: this.epoch, top: this.top, base: this.base, entries: this.entries.filter((e) => e.id > after) };
  }
}

/** The feed's host: reads of the stream (taken when asked, answered at once or when released), and what the feed did. */
class Host implements FeedHost {
  readonly stream: Stream;
  readonly delivered: RecordedMessage[] = [];
  readonly resyncs: Position[] = [];
  readonly failures: unknown[] = [];
  /** The `id` of each read, in order. */
  readonly reads: number[] = [];
  repairs = 0;
  /** Reads are held until `release()`: the read is taken when asked, as Redis runs it, but answered later. */
  paused = false;
  /** Reads fail (the link is down). */
  failing = false;
  #pending: (() => void)[] = [];

  constructor(stream: Stream = new Stream()) {
    this.stream = stream;
  }

  get ids(): number[] {
    return this.delivered.map((m) => m.id);
  }

  readAfter(id: number): Promise<{ epoch: string; top: number; base: number; entries: StoredEntry[] }> {
    this.reads.push(id);
    if (this.failing) return Promise.reject(new Error("link down"));
    const read = this.stream.read(id);
    if (!this.paused) return Promise.resolve(read);
    return new Promise((resolve) => this.#pending.push(() => resolve(read)));
  }

  /** Answers the reads held so far (the first `count` of them). */
  release(count: number = Infinity): void {
    const pending = this.#pending.splice(0, count);
    for (const answer of pending) answer();
  }

  deliver(message: RecordedMessage): void {
    this.delivered.push(message);
  }
  resync(position: Position): void {
    this.resyncs.push(position);
  }
  repaired(): void {
    this.repairs++;
  }
  failed(error: unknown): void {
    this.failures.push(error);
  }
}

/** Lets every pending promise chain (reads, their handling) run to its end. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function liveFeed(host: Host = new Host(), options?: ConstructorParameters<typeof RoomFeed>[1]): Promise<{ host: Host; feed: RoomFeed }> {
  const feed = new RoomFeed(host, options);
  await feed.start();
  return { host, feed };
}

describe("RoomFeed", () => {
  test("delivers the room's messages in id order, from the room's position at start", async () => {
    const host = new Host();
    host.stream.appendMany(3);
    const { feed } = await liveFeed(host);
    assert.deepEqual(feed.position, { epoch: "E1", id: 3 });
    for (const message of host.stream.appendMany(3)) feed.receive(message);
    assert.deepEqual(host.ids, [4, 5, 6]);
    assert.deepEqual(feed.position, { epoch: "E1", id: 6 });
    assert.deepEqual(host.reads, [Number.MAX_SAFE_INTEGER], "no read but the start's: nothing was missing");
  });

  test("duplicates are dropped: a message at or before the last delivered, again or from before the start", async () => {
    const host = new Host();
    const [one, two] = host.stream.appendMany(2);
    const { feed } = await liveFeed(host);
    const [three, four] = host.stream.appendMany(2);
    for (const message of [one!, three!, three!, two!, four!, three!, four!]) feed.receive(message);
    assert.deepEqual(host.ids, [3, 4]);
    await settle();
    assert.deepEqual(host.ids, [3, 4]);
    assert.equal(host.resyncs.length, 0);
  });

  test("a gap is filled from the stream before anything after it is delivered", async () => {
    const { host, feed } = await liveFeed();
    const messages = host.stream.appendMany(4);
    feed.receive(messages[0]!);
    host.paused = true;
    feed.receive(messages[2]!); // 2 was lost
    feed.receive(messages[3]!);
    assert.deepEqual(host.ids, [1], "3 and 4 wait for 2");
    assert.equal(feed.held, 2);
    host.release();
    await settle();
    assert.deepEqual(host.ids, [1, 2, 3, 4]);
    feed.receive(messages[1]!); // 2 comes late after all
    feed.receive(host.stream.append());
    assert.deepEqual(host.ids, [1, 2, 3, 4, 5]);
    assert.equal(host.repairs, 1);
    assert.equal(host.resyncs.length, 0);
    assert.equal(feed.held, 0);
  });

  test("a gap the stream can no longer fill (trimmed): one resync, then live from the room's top", async () => {
    const { host, feed } = await liveFeed();
    const messages = host.stream.appendMany(10);
    feed.receive(messages[0]!);
    host.stream.trim(3); // 8..10 kept: 2..7 are gone
    host.paused = true;
    feed.receive(messages[9]!);
    feed.receive(messages[8]!);
    host.release();
    await settle();
    assert.deepEqual(host.resyncs, [{ epoch: "E1", id: 10 }], "told once, with the room's top");
    assert.deepEqual(host.ids, [1], "nothing of the broken run is delivered");
    feed.receive(messages[7]!);
    feed.receive(host.stream.append());
    assert.deepEqual(host.ids, [1, 11], "live again after the top");
    assert.equal(host.resyncs.length, 1);
  });

  test("a new epoch (Redis restarted or replaced) resyncs, then goes on live in it", async () => {
    const { host, feed } = await liveFeed();
    for (const message of host.stream.appendMany(2)) feed.receive(message);
    host.stream.rotate("E2"); // ids go on after 2, in E2
    const three = host.stream.append();
    feed.receive(three);
    await settle();
    assert.deepEqual(host.resyncs, [{ epoch: "E2", id: 3 }]);
    assert.deepEqual(host.ids, [1, 2]);
    feed.receive(host.stream.append());
    assert.deepEqual(host.ids, [1, 2, 4]);
    assert.deepEqual(feed.position, { epoch: "E2", id: 4 });
  });

  test("messages that come before start() has its answer are delivered only if they are after the start position", async () => {
    const host = new Host();
    const early = host.stream.appendMany(3);
    host.paused = true;
    const feed = new RoomFeed(host);
    const started = feed.start(); // the read runs now: top 3
    const later = host.stream.appendMany(2);
    for (const message of [early[1]!, early[2]!, ...later]) feed.receive(message);
    assert.deepEqual(host.ids, [], "held until the start is known");
    host.release();
    await started;
    assert.deepEqual(host.ids, [4, 5]);
  });

  test("a second start while the first is on its way (the link back before the feed was live) cannot move the feed past a message", async () => {
    const host = new Host();
    host.paused = true;
    const feed = new RoomFeed(host);
    const started = feed.start(); // runs now: top 0
    const [one, two] = host.stream.appendMany(2);
    feed.resume(); // not live yet: starts again
    host.release(1);
    await started;
    feed.receive(one!);
    host.release(1); // whatever a second read says, 2 is still to be delivered
    await settle();
    feed.receive(two!);
    await settle();
    assert.deepEqual(host.ids, [1, 2]);
    assert.ok(feed.live);
  });

  test("a room without a log at start continues in its first epoch from id 0", async () => {
    const host = new Host();
    host.stream.gone();
    const { feed } = await liveFeed(host);
    assert.deepEqual(feed.position, { epoch: "", id: 0 });
    feed.receive(host.stream.append());
    feed.receive(host.stream.append());
    assert.deepEqual(host.ids, [1, 2]);
    assert.deepEqual(feed.position, { epoch: "E1", id: 2 });
    assert.equal(host.resyncs.length, 0);
  });

  test("a failed read is reported; resume() reads again and fills the gap", async () => {
    const { host, feed } = await liveFeed();
    const messages = host.stream.appendMany(3);
    host.failing = true;
    feed.receive(messages[2]!);
    await settle();
    assert.equal(host.failures.length, 1);
    assert.deepEqual(host.ids, []);
    host.failing = false;
    feed.resume();
    await settle();
    assert.deepEqual(host.ids, [1, 2, 3]);
  });

  test("a read asked for while another is on its way is made after it: a gap seen meanwhile is filled", async () => {
    const { host, feed } = await liveFeed();
    feed.receive(host.stream.append());
    host.paused = true;
    feed.resume(); // the link is back: a read, run now, finds nothing new
    const [, three] = host.stream.appendMany(2);
    feed.receive(three!); // 2 was lost in a second outage: this gap needs a read after the one on its way
    host.paused = false;
    host.release();
    await settle();
    assert.deepEqual(host.ids, [1, 2, 3]);
  });

  test("a read asked for while another is on its way is made after it: a new epoch seen meanwhile resyncs", async () => {
    const { host, feed } = await liveFeed();
    feed.receive(host.stream.append());
    host.paused = true;
    feed.resume();
    host.stream.rotate("E2");
    feed.receive(host.stream.append()); // E2's first message: the feed must read to learn where E2 is
    host.paused = false;
    host.release();
    await settle();
    assert.deepEqual(host.resyncs, [{ epoch: "E2", id: 2 }]);
    feed.receive(host.stream.append());
    assert.deepEqual(host.ids, [1, 3]);
  });

  test("at most maxAhead messages are held ahead of a gap; the stream gives them back in order", async () => {
    const { host, feed } = await liveFeed(new Host(), { maxAhead: 10 });
    const messages = host.stream.appendMany(50);
    host.paused = true;
    for (const message of messages.slice(1)) {
      feed.receive(message); // 1 was lost
      assert.ok(feed.held <= 10, `held ${feed.held}`);
    }
    host.release();
    await settle();
    assert.deepEqual(host.ids, range(1, 50));
    assert.equal(feed.held, 0);
  });

  test("at most maxAhead messages are held before the start too (a start that waits on a link that is down); the stream gives them back", async () => {
    const host = new Host();
    host.paused = true;
    const feed = new RoomFeed(host, { maxAhead: 10 });
    const started = feed.start(); // runs now: top 0
    for (const message of host.stream.appendMany(100)) {
      feed.receive(message);
      assert.ok(feed.held <= 10, `held ${feed.held}`);
    }
    host.paused = false;
    host.release();
    await started;
    await settle();
    assert.deepEqual(host.ids, range(1, 100));
    assert.equal(feed.held, 0);
  });

  describe("afterDelivered", () => {
    test("runs at once without a position, for a position delivered already, and for another epoch", async () => {
      const host = new Host();
      host.stream.appendMany(3);
      const { feed } = await liveFeed(host);
      const ran: string[] = [];
      feed.afterDelivered(undefined, () => ran.push("none"));
      feed.afterDelivered({ epoch: "E1", id: 3 }, () => ran.push("top"));
      feed.afterDelivered({ epoch: "E1", id: 1 }, () => ran.push("older"));
      feed.afterDelivered({ epoch: "E0", id: 9 }, () => ran.push("other epoch"));
      assert.deepEqual(ran, ["none", "top", "older", "other epoch"]);
    });

    test("waits for the message, and runs once it is delivered", async () => {
      const { host, feed } = await liveFeed();
      const [one, two] = host.stream.appendMany(2);
      let ran = 0;
      feed.afterDelivered({ epoch: "E1", id: 2 }, () => ran++);
      feed.receive(one!);
      assert.equal(ran, 0);
      feed.receive(two!);
      assert.equal(ran, 1);
      assert.deepEqual(host.ids, [1, 2], "delivered first, then the waiter runs");
    });

    test("runs when the feed is closed, and at once afterwards; a closed feed delivers nothing", async () => {
      const { host, feed } = await liveFeed();
      const [one] = host.stream.appendMany(2);
      let ran = 0;
      feed.afterDelivered({ epoch: "E1", id: 2 }, () => ran++);
      feed.close();
      assert.equal(ran, 1);
      feed.afterDelivered({ epoch: "E1", id: 2 }, () => ran++);
      assert.equal(ran, 2);
      feed.receive(one!);
      feed.resume();
      await settle();
      assert.deepEqual(host.ids, []);
    });

    test("before the start, waits; the start position settles it", async () => {
      const host = new Host();
      host.paused = true;
      const feed = new RoomFeed(host);
      const started = feed.start();
      let ran = 0;
      feed.afterDelivered({ epoch: "E1", id: 2 }, () => ran++);
      host.stream.appendMany(3);
      host.paused = false;
      host.release(); // the start read was taken before the appends: top 0
      await started;
      assert.equal(ran, 0, "2 is after the start: it comes live");
      feed.afterDelivered({ epoch: "E1", id: 0 }, () => ran++);
      assert.equal(ran, 1);
    });

    test("for a room that had no log at start, a position in its first epoch waits for that message", async () => {
      // A join that read message 1 of the room's first epoch must not end its catch-up before the
      // feed has delivered 1: else 1 comes live too, after the catch-up that has it.
      const host = new Host();
      host.stream.gone();
      const { feed } = await liveFeed(host);
      const one = host.stream.append(); // E1 begins; its publish is on its way
      let ran = 0;
      feed.afterDelivered({ epoch: "E1", id: 1 }, () => ran++);
      assert.equal(ran, 0, "not before message 1 is delivered here");
      feed.receive(one);
      assert.equal(ran, 1);
      assert.deepEqual(host.ids, [1]);
    });

    test("for a room that had no log at start, the stream is read for the first epoch's message, and a log gone since releases the wait", async () => {
      const host = new Host();
      host.stream.gone();
      const { feed } = await liveFeed(host, { waitBeforeReadMs: 5 });
      host.stream.appendMany(2); // never brought by the channel
      let first = 0;
      feed.afterDelivered({ epoch: "E1", id: 2 }, () => first++);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(first, 1);
      assert.deepEqual(host.ids, [1, 2]);

      const other = new Host();
      other.stream.gone();
      const { feed: empty } = await liveFeed(other, { waitBeforeReadMs: 5 });
      let gone = 0;
      empty.afterDelivered({ epoch: "E9", id: 4 }, () => gone++); // a log that was cleared before anything came
      assert.equal(gone, 0);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(gone, 1, "the read shows the room has no log: E9 is over, nothing to wait for");
    });

    test("for a room that had no log at start, a read sent before the wait began (it saw no log) does not end it", async () => {
      const host = new Host();
      host.stream.gone();
      const { feed } = await liveFeed(host);
      host.paused = true;
      feed.resume(); // the link is back: a read runs now, and sees no log
      const one = host.stream.append(); // then E1 begins, and a join reads its message 1
      let ran = 0;
      feed.afterDelivered({ epoch: "E1", id: 1 }, () => ran++);
      host.paused = false;
      host.release();
      await settle();
      assert.equal(ran, 0, "that read said nothing about E1: 1 may still be on its way");
      feed.receive(one);
      assert.equal(ran, 1);
      assert.deepEqual(host.ids, [1]);
    });

    test("reads the stream when the channel does not bring the message soon", async () => {
      const { host, feed } = await liveFeed(new Host(), { waitBeforeReadMs: 5 });
      host.stream.appendMany(2); // recorded, but the channel never brings them
      let ran = 0;
      feed.afterDelivered({ epoch: "E1", id: 2 }, () => ran++);
      assert.equal(ran, 0);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(ran, 1);
      assert.deepEqual(host.ids, [1, 2]);
      assert.equal(host.repairs, 1);
    });
  });
});
