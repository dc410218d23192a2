/**
 * Conformance: join with catch-up under load, through the real adapter of
 * each runtime. A History with random latency, clients that leave (cleanly
 * or by cutting TCP) and come back with their last position while a sender
 * records a thousand messages: each client ends with exactly the sent
 * sequence, no gap, no duplicate, and every resume is complete.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Feed, type FeedMessage, FeedLog } from "./helpers/feed.ts";
import { LatentHistory, seededRandom } from "./helpers/latent-history.ts";
import type { RawWebSocket } from "./helpers/raw-client.ts";
import { delay, startServer, type TestServer } from "./helpers/server.ts";

/** One client: what it was given over all its connections. */
class Client {
  readonly log: FeedLog = new FeedLog();

  /** One connection: reads for `ms`, then leaves cleanly (reading to the end) or by cutting TCP. */
  async visit(server: TestServer, ms: number, abrupt: boolean): Promise<void> {
    this.log.connecting();
    const ws = await server.connect(`/feed${this.log.query}`);
    const take = (message: FeedMessage) => this.log.take(message);
    await readUntil(ws, Date.now() + ms, take);
    if (abrupt) return ws.destroy();
    ws.close(1000);
    await readUntil(ws, Date.now() + 2_000, take); // what the server sent before it saw the close
    await ws.closed;
  }
}

/** Reads messages until `deadline` or the connection ends. */
async function readUntil(ws: RawWebSocket, deadline: number, take: (message: FeedMessage) => void): Promise<void> {
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    const message = await ws.nextMessage(left).catch(() => undefined);
    if (!message) return;
    take(JSON.parse(message.text()) as FeedMessage);
  }
}

describe("join with catch-up", () => {
  test("20 clients leaving and resuming at random while 1,000 messages are recorded through a History of 0-40 ms latency each get exactly 1..1000", async (t) => {
    const random = seededRandom(20261201);
    const controller = new Feed({ history: new LatentHistory({ size: 2_000, maxLatency: 40, random }) });
    const server = await startServer({ "/feed": controller });
    t.after(() => server.stop());
    const total = 1_000;
    const clients = Array.from({ length: 20 }, () => new Client());
    let sending = true;
    const visits = clients.map(async (client) => {
      const deadline = Date.now() + 30_000;
      while ((sending || client.log.ids.at(-1) !== total) && Date.now() < deadline) {
        await client.visit(server, 40 + Math.floor(random() * 200), random() < 0.5);
        await delay(Math.floor(random() * 30));
      }
    });
    const sends: Promise<unknown>[] = [];
    for (let n = 1; n <= total; n++) {
      sends.push(controller.send(n));
      if (n % 5 === 0) await delay(8);
    }
    await Promise.all(sends);
    sending = false;
    await Promise.all(visits);
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    for (const [i, { log }] of clients.entries()) {
      assert.equal(log.liveBeforeCatchUp, 0, `client ${i}: nothing live before its catch-up`);
      assert.equal(log.incompleteResumes, 0, `client ${i}: every resume was complete`);
      assert.ok(log.resumes >= 3, `client ${i} resumed ${log.resumes} times`);
      assert.deepEqual(log.ids, expected, `client ${i}: exactly the sent sequence`);
    }
  });
});
