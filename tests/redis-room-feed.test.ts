/**
 * The Redis engine's per-room feed (src/redis/room-feed.ts) on its own, with
 * a scripted stream: the races between its stream reads and the channel
 * that real processes hit only now and then (redis-processes.test.ts).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Position } from "../mod.ts";
import { type FeedHost, type RecordedMessage, RoomFeed } from "../src/redis/room-feed.ts";
import type { StoredEntry } from "../src/redis/redis-history.ts";
import { delay, waitFor } from "./helpers/server.ts";

type Read = Awaited<ReturnType<FeedHost["readAfter"]>>;

const E = "epoch-e";
const message = (id: number, epoch = E): RecordedMessage => ({ epoch, id, data: `m${id}`, except: [] });
const entry = (id: number): StoredEntry => ({ room: "r", epoch: E, id, timestamp: 0, data: `m${id}`, except: [] });

/** A feed whose reads the test answers, one at a time, and what it did. */
function scriptedFeed(): { feed: RoomFeed; reads: { after: number; answer: (read: Read) => void }[]; delivered: number[]; resyncs: Position[] } {
  const reads: { after: number; answer: (read: Read) => void }[] = [];
  const delivered: number[] = [];
  const resyncs: Position[] = [];
  const feed = new RoomFeed({
    readAfter: (after) => new Promise<Read>((answer) => reads.push({ after, answer })),
    deliver: (m) => delivered.push(m.id),
    resync: (position) => resyncs.push(position),
    repaired: () => {},
    failed: (error) => assert.fail(`a read failed: ${String(error)}`),
  });
  return { feed, reads, delivered, resyncs };
}

describe("Redis room feed", () => {
  test("the channel delivers while a stream read is out: no resync, and every message once, in order", async () => {
    const { feed, reads, delivered, resyncs } = scriptedFeed();
    const started = feed.start();
    reads.shift()!.answer({ epoch: E, top: 0, base: 0, entries: [] });
    await started;
    feed.receive(message(1));
    // A join waits for 3, which its catch-up read saw; the channel lags, so the feed reads the stream.
    let waited = false;
    feed.afterDelivered({ epoch: E, id: 3 }, () => (waited = true));
    await waitFor(() => reads.length === 1, 2_000, "the stream read");
    assert.equal(reads[0]!.after, 1);
    // Meanwhile the channel brings 2, 3 and 4 after all; then the read's answer, taken when 3 was the top.
    for (const id of [2, 3, 4]) feed.receive(message(id));
    reads.shift()!.answer({ epoch: E, top: 3, base: 0, entries: [entry(2), entry(3)] });
    await delay(5);
    feed.receive(message(5));
    await delay(5);
    assert.deepEqual(resyncs, [], "nothing was missing: no resync");
    assert.deepEqual(delivered, [1, 2, 3, 4, 5]);
    assert.deepEqual(feed.position, { epoch: E, id: 5 });
    assert.equal(waited, true);
    assert.equal(reads.length, 0, "no read left waiting");
  });

  test("a room with no log: a read that saw none keeps the first epoch the channel brought meanwhile", async () => {
    const { feed, reads, delivered, resyncs } = scriptedFeed();
    const started = feed.start();
    reads.shift()!.answer({ epoch: "", top: 0, base: 0, entries: [] });
    await started;
    feed.resume(); // the link is back: the feed reads what the channel missed
    assert.equal(reads.length, 1);
    feed.receive(message(1)); // the room's first message, appended after that read ran on Redis
    reads.shift()!.answer({ epoch: "", top: 0, base: 0, entries: [] });
    await delay(5);
    feed.receive(message(2));
    await delay(5);
    assert.deepEqual(resyncs, []);
    assert.deepEqual(delivered, [1, 2]);
    assert.deepEqual(feed.position, { epoch: E, id: 2 });
  });

  test("a room with no log when the feed started: a join waits for the first message its read saw, until the channel brings it", async () => {
    const { feed, reads, delivered, resyncs } = scriptedFeed();
    const started = feed.start();
    reads.shift()!.answer({ epoch: "", top: 0, base: 0, entries: [] });
    await started;
    // A join's catch-up read (on the command connection) already sees message 1 of the room's first epoch.
    const endedAfter: number[][] = [];
    feed.afterDelivered({ epoch: E, id: 1 }, () => endedAfter.push([...delivered]));
    assert.equal(endedAfter.length, 0, "1 is not delivered here yet: the join's live messages must not start");
    feed.receive(message(1));
    await delay(5);
    assert.deepEqual(endedAfter, [[1]], "the join ends once, right after 1 is delivered");
    assert.deepEqual(resyncs, []);
  });

  test("a room with no log: a join whose message the channel never brings ends after the stream read", async () => {
    const { feed, reads, delivered } = scriptedFeed();
    const started = feed.start();
    reads.shift()!.answer({ epoch: "", top: 0, base: 0, entries: [] });
    await started;
    let ended = false;
    feed.afterDelivered({ epoch: E, id: 1 }, () => (ended = true));
    await waitFor(() => reads.length === 1, 2_000, "the stream read");
    reads.shift()!.answer({ epoch: E, top: 1, base: 0, entries: [entry(1)] });
    await waitFor(() => ended, 2_000, "the join's end");
    assert.deepEqual(delivered, [1], "filled from the stream first");
  });

  test("a gap the stream cannot fill resyncs from the room's top", async () => {
    const { feed, reads, delivered, resyncs } = scriptedFeed();
    const started = feed.start();
    reads.shift()!.answer({ epoch: E, top: 0, base: 0, entries: [] });
    await started;
    feed.receive(message(1));
    feed.receive(message(4)); // 2 and 3 never came: read them
    await waitFor(() => reads.length === 1, 2_000, "the stream read");
    reads.shift()!.answer({ epoch: E, top: 4, base: 3, entries: [entry(4)] }); // trimmed past them
    await delay(5);
    assert.deepEqual(resyncs, [{ epoch: E, id: 4 }]);
    assert.deepEqual(delivered, [1]);
    assert.deepEqual(feed.position, { epoch: E, id: 4 });
  });
});
