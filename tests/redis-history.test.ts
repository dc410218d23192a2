/**
 * RedisHistory on a real redis-server: first the History contract
 * (tests/helpers/history-contract.ts, the cases MemoryHistory meets in
 * tests/history.test.ts), then what is its own (the numbers Redis takes, its
 * keys). Each history is an endpoint of its own name, so that the cases
 * share one server and nothing else.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import { EndpointKeys } from "../src/redis/keys.ts";
import { RedisHistory } from "../src/redis/redis-history.ts";
import { historyContract } from "./helpers/history-contract.ts";
import { type RedisProcess, redisServerPath, startRedis } from "./helpers/redis-server.ts";

// CI installs redis-server (.ci/run); a machine without it skips these, saying why.
const noRedis = !redisServerPath && "redis-server is not installed (not on PATH nor in /usr/bin)";

const DAY = 24 * 60 * 60 * 1000;
/** `XADD MAXLEN ~` keeps up to one macro node (100 entries by default) more than asked: since() may give those whole. */
const TRIM_SLACK = 100;

let started: Promise<{ server: RedisProcess; client: Redis }> | undefined;
let endpoints = 0;

/** One redis-server and one client, started on first use (again after `stopRedis`). */
function redis(): Promise<{ server: RedisProcess; client: Redis }> {
  started ??= startRedis().then((server) => ({ server, client: new Redis({ host: "127.0.0.1", port: server.port, maxRetriesPerRequest: 1 }) }));
  return started;
}

async function stopRedis(): Promise<void> {
  const running = started;
  started = undefined;
  if (!running) return;
  const { server, client } = await running;
  client.disconnect();
  await server.stop();
}

/** A RedisHistory of an endpoint no other test uses. */
async function redisHistory(size: number, ttl: number = DAY): Promise<{ history: RedisHistory; client: Redis; keys: EndpointKeys }> {
  const { client } = await redis();
  const keys = new EndpointKeys(`history-${++endpoints}`);
  const history = new RedisHistory({ client: () => client, bounded: (promise) => promise }, keys, size, ttl, "process-1");
  return { history, client, keys };
}

historyContract("RedisHistory", {
  make: async ({ size, ttl }) => (await redisHistory(size, ttl)).history,
  trimSlack: TRIM_SLACK,
  done: stopRedis,
}, { skip: noRedis });

describe("RedisHistory", { skip: noRedis }, () => {
  after(() => stopRedis());

  test("an append sent twice (as ioredis resends what had no reply when its connection broke) is written and published once", async () => {
    const { client } = await redis();
    const keys = new EndpointKeys(`history-${++endpoints}`);
    // Every script call reaches Redis twice, the way a resend after a reconnect does; the second reply is the one seen.
    const resending = {
      call: async (command: string, ...args: (string | number | Uint8Array)[]) => {
        if (command === "EVALSHA" || command === "EVAL") await client.call(command, ...(args as string[])).catch(() => {});
        return client.call(command, ...(args as string[]));
      },
      callBuffer: (command: string, ...args: (string | number | Uint8Array)[]) => client.callBuffer(command, ...(args as string[])),
    };
    const history = new RedisHistory({ client: () => resending as never, bounded: (promise) => promise }, keys, 10, DAY, "process-1");
    const subscriber = client.duplicate();
    const published: string[] = [];
    subscriber.on("message", (_channel: string, message: string) => published.push(message));
    await subscriber.subscribe(keys.channel("r"));
    try {
      const first = await history.append("r", "one");
      const second = await history.append("r", "two");
      const built = await history.append("r", ({ id }) => `three is ${id}`);
      assert.deepEqual([first.id, second.id, built.id], [1, 2, 3]);
      assert.deepEqual((await history.recent("r")).map((e) => e.data), ["one", "two", "three is 3"], "each once in the stream");
      for (let i = 0; i < 50 && published.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(published.length, 3, "each published once");
    } finally {
      subscriber.disconnect();
    }
  });

  test("historyTtl and historySize that Redis cannot take as they are (a fraction of a ms, past PEXPIRE's range) still record", async () => {
    const fraction = await redisHistory(10, 1_000.5);
    await fraction.history.append("r", "x");
    const pttl = Number(await fraction.client.call("PTTL", fraction.keys.meta("r")));
    assert.ok(pttl > 0 && pttl <= 1_001, `PTTL ${pttl}`);
    const forever = await redisHistory(10, 1e20);
    await forever.history.append("r", "x");
    assert.equal(Number(await forever.client.call("PTTL", forever.keys.stream("r"))), -1, "as good as no expiry");
    const huge = await redisHistory(1e20);
    assert.equal((await huge.history.append("r", "x")).id, 1);
    assert.deepEqual((await huge.history.recent("r")).map((e) => e.data), ["x"]);
  });

  test("since() with what is no position (from JavaScript) is complete: false, as MemoryHistory says, not a TypeError from inside", async () => {
    const { history } = await redisHistory(10);
    await history.append("r", "x");
    const position = await history.position("r");
    for (const bad of [null, undefined, "3", {}, { epoch: position.epoch }, { epoch: position.epoch, id: "0" }, Number.NaN, -1]) {
      assert.deepEqual(await history.since("r", bad as unknown as number), { complete: false, entries: [], position }, String(JSON.stringify(bad)));
    }
  });

  test("entries of recent() and since() are HistoryEntries: the ids a broadcast left out, kept for the other processes, do not come out", async () => {
    const { history } = await redisHistory(10);
    await history.record("r", "x", ["AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB"]);
    const fields = ["data", "epoch", "id", "room", "timestamp"];
    for (const entry of [...(await history.recent("r")), ...(await history.since("r", 0)).entries]) assert.deepEqual(Object.keys(entry).sort(), fields);
    const [stored] = (await history.readAfter("r", 0)).entries;
    assert.deepEqual(stored!.except, ["AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB"], "the feed still gets them");
  });

  test("a room whose meta is gone but whose stream is not (evicted under maxmemory, deleted by hand) starts a new epoch instead of failing every append", async () => {
    const { history, client, keys } = await redisHistory(10);
    for (let i = 1; i <= 3; i++) await history.append("r", `m${i}`);
    const old = await history.position("r");
    await client.call("DEL", keys.meta("r"));
    assert.deepEqual(await history.position("r"), { epoch: "", id: 0 });
    const entry = await history.append("r", "again");
    assert.equal(entry.id, 1);
    assert.notEqual(entry.epoch, old.epoch);
    assert.deepEqual((await history.recent("r")).map((e) => e.data), ["again"], "the old epoch's entries are not taken for the new one's");
    assert.equal((await history.since("r", old)).complete, false);
    assert.deepEqual((await history.since("r", 0)).entries.map((e) => e.data), ["again"]);
    assert.equal(await history.count("r"), 1);
  });
});
