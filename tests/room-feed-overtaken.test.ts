/**
 * The Redis engine's per-room feed on its own (no Redis): a stream read that
 * the channel overtakes. A read is sent with the last id delivered; while its
 * reply is on the way, the channel may deliver the next messages live (the
 * link came back and the channel already flows, or a join waited for a slow
 * channel and read the stream). The reply then starts before what is
 * delivered: that is no break in the room's continuity.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Position } from "../mod.ts";
import type { StoredEntry } from "../src/redis/redis-history.ts";
import { type FeedHost, type RecordedMessage, RoomFeed } from "../src/redis/room-feed.ts";
import { delay, waitFor } from "./helpers/server.ts";

interface Read {
  readonly after: number;
  answer(top: number, entries: number[]): void;
}

/** A feed whose stream reads are answered by the test, in epoch "E". */
function feedWithHost() {
  const reads: Read[] = [];
  const delivered: number[] = [];
  const resyncs: Position[] = [];
  const host: FeedHost = {
    readAfter: (after) =>
      new Promise((resolve) => {
        reads.push({
          after,
          answer: (top, ids) => resolve({ epoch: "E", top, base: 0, entries: ids.map((id): StoredEntry => ({ room: "r", epoch: "E", id, timestamp: 0, data: `m${id}`, except: [] })) }),
        });
      }),
    deliver: (message) => delivered.push(message.id),
    resync: (position) => resyncs.push(position),
    repaired: () => {},
    failed: (error) => {
      throw error;
    },
  };
  const feed = new RoomFeed(host);
  const live = (id: number): RecordedMessage => ({ epoch: "E", id, data: `m${id}`, except: [] });
  return { feed, reads, delivered, resyncs, live };
}

describe("RoomFeed", () => {
  test("a read overtaken by the channel after the link came back: no resync, each message delivered once, in order", async () => {
    const { feed, reads, delivered, resyncs, live } = feedWithHost();
    const started = feed.start();
    reads.shift()!.answer(0, []);
    await started;
    feed.receive(live(1));
    feed.resume(); // the link is back: the feed reads what the channel may have missed
    await waitFor(() => reads.length === 1, 2_000, "the read after id 1");
    assert.equal(reads[0]!.after, 1);
    // The channel brings 2..5 while the read is on the way; Redis answered when the top was 3.
    for (const id of [2, 3, 4, 5]) feed.receive(live(id));
    reads.shift()!.answer(3, [2, 3]);
    await delay(20);
    feed.receive(live(6));
    await delay(20);
    assert.deepEqual(resyncs, []);
    assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(feed.position, { epoch: "E", id: 6 });
    feed.close();
  });

  test("a join's read for a slow channel, overtaken by it: no resync, no message delivered twice", async () => {
    const { feed, reads, delivered, resyncs, live } = feedWithHost();
    const started = feed.start();
    reads.shift()!.answer(0, []);
    await started;
    feed.receive(live(1));
    let waited = false;
    feed.afterDelivered({ epoch: "E", id: 4 }, () => (waited = true));
    await waitFor(() => reads.length === 1, 2_000, "the read the join makes when the channel is slow");
    for (const id of [2, 3, 4, 5, 6]) feed.receive(live(id));
    assert.equal(waited, true);
    reads.shift()!.answer(4, [2, 3, 4]);
    await delay(20);
    assert.deepEqual(resyncs, []);
    assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6]);
    feed.close();
  });

  test("a read that finds the stream trimmed past the last id delivered still resyncs", async () => {
    const { feed, reads, delivered, resyncs, live } = feedWithHost();
    const started = feed.start();
    reads.shift()!.answer(0, []);
    await started;
    feed.receive(live(1));
    feed.receive(live(5)); // 2..4 missed: the feed reads the stream for them
    await waitFor(() => reads.length === 1, 2_000, "the read for the gap");
    reads.shift()!.answer(5, [4, 5]); // 2 and 3 are trimmed away
    await delay(20);
    assert.deepEqual(resyncs, [{ epoch: "E", id: 5 }]);
    assert.deepEqual(delivered, [1]);
    feed.receive(live(6));
    assert.deepEqual(delivered, [1, 6]);
    feed.close();
  });
});
