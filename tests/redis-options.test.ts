/**
 * RedisEngine with no Redis to talk to (ioredis clients that never connect):
 * its options from plain JavaScript, and what it leaves on the clients it is
 * given once it is closed. Milliseconds, on every runtime.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Redis } from "ioredis";
import { SwitchboardError, WebSocketController } from "../mod.ts";
import { RedisEngine, type RedisEngineOptions } from "../src/redis/mod.ts";

/** A client that never connects: nothing here needs a server. */
function idleClient(): Redis {
  return new Redis({ lazyConnect: true, enableOfflineQueue: false });
}

describe("RedisEngine options", () => {
  test("bad options from JavaScript are TypeErrors and RangeErrors that say what is wrong", async () => {
    const client = idleClient();
    const make = (options: unknown) => new RedisEngine(options as RedisEngineOptions);
    assert.throws(() => make(undefined), { name: "TypeError", message: /options are missing/ });
    assert.throws(() => make(null), TypeError);
    assert.throws(() => make("redis://localhost"), TypeError);
    assert.throws(() => make({}), { name: "TypeError", message: /'client' must be a Redis client/ });
    assert.throws(() => make({ client: {} }), { name: "TypeError", message: /'client' must be a Redis client/ });
    assert.throws(() => make({ client: "redis://localhost" }), TypeError);
    assert.throws(() => make({ client, subscriber: {} }), { name: "TypeError", message: /'subscriber' must be a Redis client/ });
    assert.throws(() => make({ client, degradedGrace: "10s" }), { name: "TypeError", message: /'degradedGrace'/ });
    assert.throws(() => make({ client, degradedGrace: -1 }), RangeError);
    assert.throws(() => make({ client, degradedGrace: Number.NaN }), RangeError);
    assert.throws(() => make({ client, commandTimeout: 0 }), RangeError);
    assert.throws(() => make({ client, commandTimeout: Infinity }), RangeError);
    assert.throws(() => make({ client, commandTimeout: null }), TypeError);
    assert.throws(() => make({ client, commandTimout: 100 }), { name: "TypeError", message: /'commandTimout' is not an option/ });
    const engine = make({ client, degradedGrace: Infinity, commandTimeout: 1 });
    assert.equal(engine.state, "degraded", "not connected");
    await engine.close();
    client.disconnect();
  });

  test("a closed engine leaves no listener on the client it was given", async () => {
    const client = idleClient();
    const events = ["ready", "close", "end", "reconnecting", "error", "messageBuffer"];
    const before = events.map((name) => client.listenerCount(name));
    for (let i = 0; i < 12; i++) {
      const engine = new RedisEngine({ client });
      await engine.close();
    }
    assert.deepEqual(events.map((name) => client.listenerCount(name)), before);
    client.disconnect();
  });

  test("a controller's engine options: not with a history, not an engine, not two controllers of one name on one engine, nothing after close", async () => {
    const client = idleClient();
    const engine = new RedisEngine({ client, degradedGrace: Infinity });
    const history = { append() {}, recent() {}, since() {}, position() {}, count() {}, rooms() {}, clear() {} };
    assert.throws(() => new WebSocketController({ name: "x", engine, history: history as never }), { name: "TypeError", message: /both 'engine' and 'history'/ });
    assert.throws(() => new WebSocketController({ name: "x", engine: {} as never }), { name: "TypeError", message: /'engine' must be an Engine/ });
    // A name from the route or the class could differ between processes, and split the endpoint without a word.
    assert.throws(() => new WebSocketController({ engine }), { name: "TypeError", message: /an 'engine' but no 'name'/ });
    const first = new WebSocketController({ name: "chat", engine });
    assert.throws(() => new WebSocketController({ name: "chat", engine }), { name: "TypeError", message: /another controller of that name/ });
    new WebSocketController({ name: "lobby", engine });
    await engine.close();
    await assert.rejects(first.broadcastText("x", { room: "r", record: true }), (error: unknown) => {
      assert.ok(error instanceof SwitchboardError && error.code === "HISTORY_FAILED");
      assert.ok(error.cause instanceof SwitchboardError && error.cause.code === "ENGINE_UNAVAILABLE");
      return true;
    });
    client.disconnect();
  });
});
