/**
 * RedisDedupe on a real redis-server: the Dedupe contract
 * (tests/helpers/dedupe-contract.ts, which MemoryDedupe meets in
 * tests/wire.test.ts), then what is its own: one key across processes (two
 * clients), a claim whose process died freed at its lease, its keys.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import { RedisDedupe } from "../src/redis/mod.ts";
import { dedupeContract } from "./helpers/dedupe-contract.ts";
import { type RedisProcess, redisServerPath, startRedis } from "./helpers/redis-server.ts";

// CI installs redis-server (.ci/run); a machine without it skips these, saying why.
const noRedis = !redisServerPath && "redis-server is not installed (not on PATH nor in /usr/bin)";

let started: Promise<{ server: RedisProcess; clients: Redis[] }> | undefined;
let prefixes = 0;

/** One redis-server and two clients (two processes, as far as Redis can tell), started on first use. */
function redis(): Promise<{ server: RedisProcess; clients: Redis[] }> {
  started ??= startRedis().then((server) => ({
    server,
    clients: [0, 1].map(() => new Redis({ host: "127.0.0.1", port: server.port, maxRetriesPerRequest: 1 })),
  }));
  return started;
}

async function stopRedis(): Promise<void> {
  const running = started;
  started = undefined;
  if (!running) return;
  const { server, clients } = await running;
  for (const client of clients) client.disconnect();
  await server.stop();
}

dedupeContract("RedisDedupe", {
  make: async ({ ttl }) => new RedisDedupe({ client: (await redis()).clients[0]!, prefix: `t${++prefixes}:`, ttl }),
  done: stopRedis,
}, { skip: noRedis });

describe("RedisDedupe", { skip: noRedis }, () => {
  after(() => stopRedis());

  test("one key across two processes: the second waits for the first's effect and gets its outcome", async () => {
    const { clients } = await redis();
    const prefix = `x${++prefixes}:`;
    const [here, there] = clients.map((client) => new RedisDedupe({ client, prefix }));
    let runs = 0;
    const effect = async () => (runs++, await new Promise((resolve) => setTimeout(resolve, 150)), { ok: true as const });
    const first = here!.run("user", "k1", effect);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await there!.run("user", "k1", effect);
    assert.deepEqual([(await first).duplicate, second.duplicate, runs], [false, true, 1]);
    const refused = { ok: false as const, error: { code: "rate_limited", message: "wait" } };
    await here!.run("user", "k2", () => refused);
    assert.deepEqual(await there!.run("user", "k2", effect), { outcome: refused, duplicate: true });
  });

  test("a claim whose process died during the effect is freed at its lease, and the repeat runs it", async () => {
    const { clients } = await redis();
    const prefix = `l${++prefixes}:`;
    // The dead process: its claim is in Redis, and nothing will finish it.
    await clients[0]!.call("SET", `${prefix}user:k`, "r:dead-process", "NX", "PX", 200);
    const dedupe = new RedisDedupe({ client: clients[1]!, prefix, lease: 200 });
    const startedAt = Date.now();
    const result = await dedupe.run("user", "k", () => ({ ok: true }));
    assert.equal(result.duplicate, false);
    assert.ok(Date.now() - startedAt >= 150, "it waited for the lease rather than run beside the claim");
  });

  test("keys: the prefix, then scope and key with ':' escaped; a done key expires at the ttl", async () => {
    const { clients } = await redis();
    const prefix = `k${++prefixes}:`;
    const dedupe = new RedisDedupe({ client: clients[0]!, prefix, ttl: 60_000 });
    await dedupe.run("user:1", "key", () => ({ ok: true }));
    assert.deepEqual(await clients[0]!.keys(`${prefix}*`), [`${prefix}user%3A1:key`]);
    const ttl = Number(await clients[0]!.call("PTTL", `${prefix}user%3A1:key`));
    assert.ok(ttl > 55_000 && ttl <= 60_000, `PTTL ${ttl}`);
    assert.equal(await clients[0]!.get(`${prefix}user%3A1:key`), 'd:{"ok":true}');
  });

  test("bad options are TypeErrors and RangeErrors", () => {
    assert.throws(() => new RedisDedupe(undefined as never), TypeError);
    assert.throws(() => new RedisDedupe({ client: {} as never }), TypeError);
    assert.throws(() => new RedisDedupe({ client: { call() {} } as never, ttl: 0 }), RangeError);
    assert.throws(() => new RedisDedupe({ client: { call() {} } as never, leese: 1 } as never), TypeError);
  });
});
