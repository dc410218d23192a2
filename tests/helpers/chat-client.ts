/**
 * The chat tests' client and server: a raw RFC 6455 client that speaks the
 * chat's JSON, and a chat server per test on 127.0.0.1 through this
 * runtime's adapter, alone or as one of several "processes" on one Redis.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { type RunningChat, startChat, type StartChatOptions } from "../../examples/chat.ts";
import { RedisEngine } from "../../src/redis/mod.ts";
import { connectOrThrow, type HttpRejection, rawConnect, type RawWebSocket } from "./raw-client.ts";
import { fastClient } from "./redis-engine.ts";

/** A parsed JSON message. */
// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** One chat client: a raw WebSocket that speaks JSON, and the welcome it got. */
export class ChatClient {
  readonly ws: RawWebSocket;
  /** The first message: `welcome`, or `rooms_update` for a lobby client. */
  readonly welcome: Json;

  constructor(ws: RawWebSocket, welcome: Json) {
    this.ws = ws;
    this.welcome = welcome;
  }

  get id(): string {
    return this.welcome.connectionId;
  }

  /**
   * The welcome's state of the client's room (`welcome.rooms[welcome.room]`):
   * `messages` (the catch-up, oldest first), `resumed`, and `epoch`/`id`, the
   * room's position after those messages.
   */
  get catchUp(): Json {
    return this.welcome.rooms[this.welcome.room];
  }

  send(value: unknown): void {
    this.ws.sendText(typeof value === "string" ? value : JSON.stringify(value));
  }

  say(text: string): void {
    this.send({ type: "chat", text });
  }

  async next(): Promise<Json> {
    return JSON.parse((await this.ws.nextMessage()).text());
  }

  /** The next message, which must be of this type. */
  async expect(type: string): Promise<Json> {
    const message = await this.next();
    assert.equal(message.type, type, `expected ${type}, got ${JSON.stringify(message)}`);
    return message;
  }

  /** Skips other messages (joins, leaves) until one of this type arrives. */
  async nextOf(type: string): Promise<Json> {
    for (let i = 0; i < 1000; i++) {
      const message = await this.next();
      if (message.type === type) return message;
    }
    throw new Error(`no ${type} within 1000 messages`);
  }

  /** Reads messages until one passes `done`; returns all of them, that one last. */
  async until(done: (message: Json) => boolean, max = 10_000): Promise<Json[]> {
    const seen: Json[] = [];
    for (let i = 0; i < max; i++) {
      const message = await this.next();
      seen.push(message);
      if (done(message)) return seen;
    }
    throw new Error(`no matching message within ${max}`);
  }

  async error(code: string): Promise<Json> {
    const message = await this.expect("error");
    assert.equal(message.code, code, `expected error ${code}, got ${JSON.stringify(message)}`);
    assert.equal(typeof message.message, "string");
    assert.ok(message.message.length > 0);
    return message;
  }

  /**
   * The next message, which must be the `ack` of `key`: `{type, key, ok: true}`
   * exactly, or, given `code`, a refusal `{type, key, ok: false, error: {code, message}}`.
   */
  async ack(key: string, code?: string): Promise<Json> {
    const message = await this.expect("ack");
    if (code === undefined) {
      assert.deepEqual(message, { type: "ack", key, ok: true });
      return message;
    }
    assert.deepEqual(Object.keys(message).sort(), ["error", "key", "ok", "type"], JSON.stringify(message));
    assert.deepEqual([message.key, message.ok], [key, false]);
    assert.deepEqual(Object.keys(message.error).sort(), ["code", "message"]);
    assert.equal(message.error.code, code, `expected refusal ${code}, got ${JSON.stringify(message)}`);
    assert.equal(typeof message.error.message, "string");
    assert.ok(message.error.message.length > 0);
    return message;
  }

  /** Sends a ping; the next message must be its pong: nothing else was on its way to this client. */
  async flush(): Promise<void> {
    this.send({ type: "ping" });
    assert.deepEqual(await this.next(), { type: "pong" }, "nothing before the pong");
  }

  close(): Promise<unknown> {
    this.ws.close(1000);
    return this.ws.closed;
  }
}

/** A chat server for one test, and ways to reach it. */
export interface Chat extends RunningChat {
  join(path?: string): Promise<ChatClient>;
  watchLobby(): Promise<ChatClient>;
  upgrade(path: string): Promise<RawWebSocket | HttpRejection>;
  get(path: string): Promise<Response>;
}

/**
 * Starts the chat on 127.0.0.1 and a free port; it stops when the test ends.
 * With `presenceGrace: 0` unless given, so that a client that goes is
 * announced as gone at once (the tests of the grace set one).
 */
export async function start(t: TestContext, options: StartChatOptions = {}): Promise<Chat> {
  const running = await startChat({ port: 0, hostname: "127.0.0.1", presenceGrace: 0, ...options });
  t.after(() => running.server.stop());
  return reach(running);
}

/**
 * One chat "process" on a shared Redis at 127.0.0.1:`redisPort`: its own
 * ioredis client (fast retries) and RedisEngine, its own server. Stopped,
 * then its engine closed, when the test ends; `stop()` does it earlier.
 */
export async function startShared(t: TestContext, redisPort: number, options: StartChatOptions = {}): Promise<Chat & { stop(): Promise<void> }> {
  const client = fastClient(redisPort);
  const engine = new RedisEngine({ client, commandTimeout: 2_000 });
  const running = await startChat({ port: 0, hostname: "127.0.0.1", presenceGrace: 0, ...options, engine });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      await running.server.stop();
      await engine.close();
      client.disconnect();
    })();
  t.after(stop);
  return { ...reach(running), stop };
}

/** Ways to reach a running chat. */
function reach(running: RunningChat): Chat {
  const base = `127.0.0.1:${running.server.port}`;
  return {
    ...running,
    async join(path = "/chat") {
      const ws = await connectOrThrow(`ws://${base}${path}`);
      const welcome = JSON.parse((await ws.nextMessage()).text());
      assert.equal(welcome.type, "welcome", `first message is the welcome: ${JSON.stringify(welcome)}`);
      return new ChatClient(ws, welcome);
    },
    async watchLobby() {
      const ws = await connectOrThrow(`ws://${base}/lobby`);
      const update = JSON.parse((await ws.nextMessage()).text());
      assert.equal(update.type, "rooms_update");
      return new ChatClient(ws, update);
    },
    upgrade: (path) => rawConnect(`ws://${base}${path}`),
    get: (path) => fetch(`http://${base}${path}`),
  };
}

/** An ISO 8601 UTC timestamp of about now. */
export function assertIso(value: unknown): void {
  assert.equal(typeof value, "string");
  assert.match(value as string, ISO_UTC);
  assert.equal(new Date(value as string).toISOString(), value);
  assert.ok(Math.abs(Date.parse(value as string) - Date.now()) < 60_000, `${value} is about now`);
}

/** Sends `count` messages `prefix0..`, from a client allowed to (see the rate limit option). */
export async function fill(client: ChatClient, count: number, prefix = "m"): Promise<Json[]> {
  for (let i = 0; i < count; i++) client.say(`${prefix}${i}`);
  const received: Json[] = [];
  while (received.length < count) {
    const message = await client.next();
    if (message.type === "message") received.push(message);
  }
  return received;
}

const LOTS = { messages: 10_000, windowMs: 1_000 };

/**
 * Rate limits out of the way, for tests about something else: every kind,
 * per connection and per address (all test clients share 127.0.0.1).
 */
export const MANY: StartChatOptions = {
  limits: { chat: LOTS, username: LOTS, typing: LOTS },
  addressLimits: { chat: LOTS, username: LOTS, typing: LOTS },
};
