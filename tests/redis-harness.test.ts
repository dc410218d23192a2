/**
 * The Redis engine's test harness, on every runtime, through ioredis: real
 * redis-server primaries and replicas (helpers/redis-server.ts) and a TCP
 * proxy that cuts, blocks and retargets connections (helpers/tcp-proxy.ts).
 * The engine's tests rely on these behaving the same on Node, Bun and Deno,
 * so this checks them as those tests will use them.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { after, describe, test, type TestContext } from "node:test";
// The named export: ioredis's types declare its default export the CommonJS way, so under
// NodeNext (tsc, deno check) a default import types as the module object, not the class.
import { Redis } from "ioredis";
import { redisCommand } from "./helpers/redis-command.ts";
import { type RedisProcess, redisServerPath, startRedis, stopAllRedis, waitForReplication } from "./helpers/redis-server.ts";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy.ts";
import { waitFor, within } from "./helpers/server.ts";

// CI installs redis-server (.ci/run); a machine without it skips, saying why.
const noRedis = !redisServerPath && "redis-server is not installed (not on PATH nor in /usr/bin)";

/** What a client went through, in order: "close", "reconnecting", "ready", "error". */
type Events = string[];

/**
 * An ioredis client to 127.0.0.1:`port`, disconnected when the test ends.
 * Retries every 50 ms and gives up on a command after one failed reconnect,
 * so that outages show within a test's time.
 */
function client(t: TestContext, port: number): { redis: Redis; events: Events } {
  const redis = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, retryStrategy: () => 50, connectTimeout: 1_000 });
  const events: Events = [];
  for (const name of ["close", "reconnecting", "ready"]) redis.on(name, () => events.push(name));
  // Connection errors are expected here (cut, blocked); without a listener ioredis logs each one.
  redis.on("error", () => events.push("error"));
  t.after(() => redis.disconnect());
  return { redis, events };
}

async function redis(t: TestContext, options?: { replicaOf?: number }): Promise<RedisProcess> {
  const server = await startRedis(options);
  t.after(() => server.stop());
  return server;
}

async function proxy(t: TestContext, port: number): Promise<TcpProxy> {
  const started = await startTcpProxy(port);
  t.after(() => started.close());
  return started;
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM"; // exists, but not ours
  }
}

/** Counts of `name` in `events`. */
const count = (events: Events, name: string): number => events.filter((e) => e === name).length;

describe("redis harness", { skip: noRedis }, () => {
  // Whatever a failing test left running.
  after(() => stopAllRedis());

  test("a replica links up to its primary and receives what is SET there", async (t) => {
    const primary = await redis(t);
    const replica = await redis(t, { replicaOf: primary.port });
    assert.match(await replica.command("INFO", "replication"), /role:slave[\s\S]*master_link_status:up/);
    assert.equal(primary.url, `redis://127.0.0.1:${primary.port}`);

    const { redis: writer } = client(t, primary.port);
    assert.equal(await writer.set("greeting", "hello"), "OK");
    await waitForReplication(primary, replica);
    assert.equal(await replica.command("GET", "greeting"), "hello");
    const { redis: reader } = client(t, replica.port);
    assert.equal(await reader.get("greeting"), "hello");
    await assert.rejects(reader.set("x", "1"), /READONLY/, "a replica refuses writes");
  });

  test("kill -9 takes the pid away; restart gives an empty server on the same port", async (t) => {
    const server = await redis(t);
    assert.equal(await server.command("SET", "k", "v"), "OK");
    const { port, pid } = server;
    assert.ok(pidExists(pid));

    server.kill();
    await within(server.exited(), 2_000, "the killed server to exit");
    assert.equal(pidExists(pid), false, `pid ${pid} is gone`);
    await assert.rejects(server.command("PING"), /ECONNREFUSED|closed/);

    await server.restart();
    assert.equal(server.port, port);
    assert.notEqual(server.pid, pid);
    assert.equal(await server.command("PING"), "PONG");
    assert.equal(await server.command("DBSIZE"), "0", "nothing survives a restart");
    assert.equal(await server.command("GET", "k"), "", "nil reads as an empty text");
  });

  test("SIGSTOP freezes a server and SIGCONT thaws it; stop() is idempotent", async (t) => {
    const server = await redis(t);
    server.kill("SIGSTOP");
    await assert.rejects(redisCommand(server.port, ["PING"], 200), /no reply within 200 ms/);
    server.kill("SIGCONT");
    assert.equal(await server.command("PING"), "PONG");

    const pid = server.pid;
    await server.stop();
    await server.stop();
    assert.equal(pidExists(pid), false);
    await assert.rejects(server.restart(), /was stopped/);
  });

  test("a replica's restart comes back empty, then resyncs from its primary", async (t) => {
    const primary = await redis(t);
    const replica = await redis(t, { replicaOf: primary.port });
    await primary.command("SET", "k", "v");
    await waitForReplication(primary, replica);
    await replica.restart(); // waits for the link to be up again, which comes with a full sync
    assert.equal(await replica.command("GET", "k"), "v");
  });

  test("through the proxy: cut() drops ioredis, which reconnects by itself", async (t) => {
    const server = await redis(t);
    const tcp = await proxy(t, server.port);
    const { redis: r, events } = client(t, tcp.port);
    assert.equal(await r.set("k", "v"), "OK");
    assert.deepEqual(events, ["ready"]);

    tcp.cut();
    await waitFor(() => count(events, "ready") === 2, 2_000, "ioredis to reconnect after the cut");
    assert.deepEqual(events.slice(0, 3), ["ready", "close", "reconnecting"]);
    assert.equal(await r.get("k"), "v");
  });

  test("through the proxy: block() keeps ioredis down until unblock()", async (t) => {
    const server = await redis(t);
    const tcp = await proxy(t, server.port);
    const { redis: r, events } = client(t, tcp.port);
    await r.ping();

    tcp.block();
    await waitFor(() => count(events, "reconnecting") >= 3, 2_000, "several refused reconnects");
    assert.notEqual(r.status, "ready");
    assert.equal(count(events, "ready"), 1, "no reconnect got through");
    await assert.rejects(within(r.get("k"), 2_000, "GET to fail"), /max retries|closed/i);

    tcp.unblock();
    await waitFor(() => r.status === "ready", 2_000, "ioredis to reconnect after unblock()");
    assert.equal(await r.ping(), "PONG");
  });

  test("through the proxy: retarget() and a cut move ioredis to another server, as a failover behind a virtual IP does", async (t) => {
    const [a, b] = await Promise.all([redis(t), redis(t)]);
    await a.command("SET", "who", "a");
    await b.command("SET", "who", "b");
    const tcp = await proxy(t, a.port);
    const { redis: r, events } = client(t, tcp.port);
    assert.equal(await r.get("who"), "a");

    tcp.retarget(b.port);
    assert.equal(await r.get("who"), "a", "a connection stays where it is");
    tcp.cut();
    await waitFor(() => count(events, "ready") === 2, 2_000, "ioredis to reconnect");
    assert.equal(await r.get("who"), "b");
  });

  test("through the proxy: a killed server looks like a dropped link, and a restart on its port like a recovery", async (t) => {
    const server = await redis(t);
    const tcp = await proxy(t, server.port);
    const { redis: r, events } = client(t, tcp.port);
    await r.set("k", "v");

    server.kill();
    await waitFor(() => count(events, "reconnecting") >= 2, 2_000, "ioredis to see the server gone");
    await server.restart();
    await waitFor(() => r.status === "ready", 2_000, "ioredis to reconnect to the restarted server");
    assert.equal(await r.exists("k"), 0, "the restarted server is empty");
  });
});
