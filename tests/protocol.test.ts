/**
 * `switchboard/protocol` on a real server through this runtime's adapter:
 * dispatch with zod and valibot schemas, async validators, every error reply
 * (the connection stays open), handlers that refuse or throw, acknowledged
 * messages (with a dedupe), ping, binary, outbound validation modes and the
 * typed broadcast, with raw RFC 6455 clients and `switchboard/client`.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import * as v from "valibot";
import { z } from "zod";
import { type Connection, MemoryDedupe } from "../mod.ts";
import { ClientError, connect } from "../src/client/mod.ts";
import {
  defineProtocol,
  KeyedWindows,
  type MessageLimits,
  MessageRefused,
  type Protocol,
  ProtocolController,
  type ProtocolControllerOptions,
  type ProtocolHandlers,
  type Refusal,
  type RefusalReply,
  SlidingWindow,
  type StandardSchema,
} from "../src/protocol/mod.ts";
import type { RawWebSocket } from "./helpers/raw-client.ts";
import { delay, startServer, type TestServer, waitFor, within } from "./helpers/server.ts";

type Json = Record<string, unknown>;

/** A Standard Schema that answers asynchronously, after `ms`: `{ n: number }`. */
function slowNumber(ms: number): StandardSchema<{ n: number }> {
  return {
    "~standard": {
      version: 1,
      vendor: "test",
      validate: async (value) => {
        await delay(ms);
        const n = (value as { n?: unknown })?.n;
        return typeof n === "number" ? { value: { n } } : { issues: [{ message: "Expected a number", path: ["n"] }] };
      },
    },
  };
}

const chat = defineProtocol({
  client: {
    say: z.object({ text: z.string().trim().min(1), items: z.array(z.object({ name: z.string() })).optional() }),
    vote: v.object({ poll: v.string(), choice: v.pipe(v.number(), v.integer()), tags: v.optional(v.array(v.object({ label: v.string() }))) }),
    pair: z.object({ a: z.number(), b: z.number() }).refine((p) => p.a < p.b, { message: "a must be less than b" }),
    slow: slowNumber(30),
    fail: z.object({ how: z.enum(["refuse", "throw"]) }),
  },
  server: {
    said: z.object({ from: z.string(), text: z.string() }),
    voted: v.object({ poll: v.string(), choice: v.number() }),
    slowed: slowNumber(10),
    message: z.object({ room: z.string(), epoch: z.string(), id: z.number(), text: z.string() }),
  },
});
type Chat = typeof chat;

/** What the handlers saw, in order. */
type Seen = { type: string; conn: string; message: unknown };

class ChatServer extends ProtocolController<Chat> {
  readonly seen: Seen[] = [];
  readonly errors: Error[] = [];
  protected readonly handlers: ProtocolHandlers<Chat> = {
    say: (conn, message) => {
      this.seen.push({ type: "say", conn: conn.id, message });
      this.broadcast("said", { from: conn.id, text: message.text });
    },
    vote: (conn, message) => {
      this.seen.push({ type: "vote", conn: conn.id, message });
      this.send(conn, "voted", { poll: message.poll, choice: message.choice });
    },
    pair: (conn, message) => void this.seen.push({ type: "pair", conn: conn.id, message }),
    slow: async (conn, message) => {
      this.seen.push({ type: "slow", conn: conn.id, message });
      await this.send(conn, "slowed", { n: message.n });
    },
    fail: async (conn, message) => {
      this.seen.push({ type: "fail", conn: conn.id, message });
      await delay(1);
      if (message.how === "refuse") throw new MessageRefused("not_allowed", "Cannot fail here: refused on purpose");
      throw new Error("handler failed on purpose");
    },
  };
  override onError(_conn: Connection | undefined, error: Error): void {
    this.errors.push(error);
  }
}

async function start(t: TestContext, controller: ProtocolController<Chat> = new ChatServer(chat)): Promise<TestServer> {
  const server = await startServer({ "/chat": controller });
  t.after(() => server.stop());
  return server;
}

async function open(t: TestContext, server: TestServer): Promise<RawWebSocket> {
  const client = await server.connect("/chat");
  t.after(() => client.destroy());
  return client;
}

async function next(client: RawWebSocket): Promise<Json> {
  return JSON.parse((await client.nextMessage(5_000)).text()) as Json;
}

/** Sends `frame` (an object as JSON, a string as is) and reads the one reply. */
async function ask(client: RawWebSocket, frame: Json | string): Promise<Json> {
  client.sendText(typeof frame === "string" ? frame : JSON.stringify(frame));
  return next(client);
}

describe("protocol: dispatch", () => {
  test("a zod message is validated (its transform applied), handed to its handler and broadcast typed", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    const b = await open(t, server);
    await waitFor(() => controller.connections.size === 2);
    a.sendText(JSON.stringify({ type: "say", text: "  hello  " }));
    const [toA, toB] = await Promise.all([next(a), next(b)]);
    assert.deepEqual(toA, toB);
    assert.equal(toA.type, "said");
    assert.equal(toA.text, "hello");
    assert.deepEqual(controller.seen.map((s) => [s.type, s.message]), [["say", { text: "hello" }]]);
  });

  test("a valibot message is validated and handed to its handler; send answers the one connection", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    assert.deepEqual(await ask(a, { type: "vote", poll: "lunch", choice: 2 }), { type: "voted", poll: "lunch", choice: 2 });
    assert.deepEqual(controller.seen[0]!.message, { poll: "lunch", choice: 2 });
  });

  test("async validators are awaited, and one connection's messages still reach the handlers in order", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    a.sendTexts([1, 2, 3].map((n) => JSON.stringify({ type: "slow", n })));
    a.sendText(JSON.stringify({ type: "vote", poll: "after", choice: 4 }));
    const replies = [await next(a), await next(a), await next(a), await next(a)];
    assert.deepEqual(replies, [
      { type: "slowed", n: 1 },
      { type: "slowed", n: 2 },
      { type: "slowed", n: 3 },
      { type: "voted", poll: "after", choice: 4 },
    ]);
    assert.deepEqual(await ask(a, { type: "slow", n: "x" }), {
      type: "error",
      code: "invalid_message",
      message: "Cannot handle message 'slow' as its fields are invalid: n: Expected a number",
      messageType: "slow",
      issues: [{ path: "n", message: "Expected a number" }],
    });
  });
});

describe("protocol: error replies (the connection stays open)", () => {
  test("invalid JSON, JSON that is not an object, a bad ack key and a malformed join are refused by code", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    assert.deepEqual(await ask(a, "{not json"), { type: "error", code: "invalid_json", message: "Cannot read message as it is not valid JSON" });
    for (const text of ["[1,2]", "42", "null", '"say"']) {
      const reply = await ask(a, text);
      assert.deepEqual([reply.type, reply.code], ["error", "invalid_frame"], text);
    }
    const badAck = await ask(a, { type: "say", text: "hi", ack: "not a key!" });
    assert.deepEqual([badAck.code, badAck.message], ["invalid_frame", "Cannot acknowledge as 'ack' must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-'"]);
    assert.equal((await ask(a, { type: "join", room: 5 })).code, "invalid_frame");
    // Still open, still dispatching.
    assert.equal((await ask(a, { type: "vote", poll: "p", choice: 1 })).type, "voted");
    assert.deepEqual(controller.errors, []);
  });

  test("an unknown type is refused listing the known types; a missing type and inherited names too", async (t) => {
    const server = await start(t);
    const a = await open(t, server);
    assert.deepEqual(await ask(a, { type: "shout", text: "hi" }), {
      type: "error",
      code: "unknown_type",
      message: "Cannot handle message as its type 'shout' is unknown: known types are say, vote, pair, slow, fail",
      messageType: "shout",
    });
    const untyped = await ask(a, { text: "hi" });
    assert.deepEqual([untyped.code, untyped.messageType, untyped.message], [
      "unknown_type",
      undefined,
      "Cannot handle message as it has no string 'type': known types are say, vote, pair, slow, fail",
    ]);
    for (const type of ["constructor", "toString", "__proto__", "hasOwnProperty", 7]) {
      assert.equal((await ask(a, JSON.stringify({ type }))).code, "unknown_type", String(type));
    }
    // A type of the server's side is not the client's to send.
    assert.equal((await ask(a, { type: "said", from: "x", text: "y" })).code, "unknown_type");
  });

  test("invalid fields list each issue with its dotted path (zod and valibot), and nothing reaches the handler", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    const zod = await ask(a, { type: "say", text: "", items: [{ name: "ok" }, { name: 3 }] });
    assert.equal(zod.code, "invalid_message");
    assert.equal(zod.messageType, "say");
    assert.deepEqual((zod.issues as { path: string }[]).map((i) => i.path), ["text", "items.1.name"]);
    assert.ok((zod.issues as { message: string }[]).every((i) => typeof i.message === "string" && i.message.length > 0));
    assert.match(zod.message as string, /^Cannot handle message 'say' as its fields are invalid: text: .+; items\.1\.name: .+$/);

    const valibot = await ask(a, { type: "vote", poll: 1, choice: 1.5, tags: [{ label: "a" }, {}] });
    assert.deepEqual((valibot.issues as { path: string }[]).map((i) => i.path), ["poll", "choice", "tags.1.label"]);

    // An issue about the message as a whole has the empty path.
    const whole = await ask(a, { type: "pair", a: 2, b: 1 });
    assert.deepEqual(whole.issues, [{ path: "", message: "a must be less than b" }]);
    assert.deepEqual(controller.seen, []);
    // A valid one goes through (no reply: the handler only records it); a ping proves the order.
    a.sendText(JSON.stringify({ type: "pair", a: 1, b: 2 }));
    assert.deepEqual(await ask(a, { type: "ping" }), { type: "pong" });
    assert.deepEqual((controller.seen as Seen[]).map((s) => s.message), [{ a: 1, b: 2 }]);
  });

  test("a handler's MessageRefused is answered with its own code; any other throw goes to onError and the connection stays open", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    assert.deepEqual(await ask(a, { type: "fail", how: "refuse" }), {
      type: "error",
      code: "not_allowed",
      message: "Cannot fail here: refused on purpose",
      messageType: "fail",
    });
    a.sendText(JSON.stringify({ type: "fail", how: "throw" }));
    await waitFor(() => controller.errors.length === 1, 5_000, "onError");
    assert.equal(controller.errors[0]!.message, "handler failed on purpose");
    // Nothing was said about the throw, and the connection goes on.
    assert.deepEqual(await ask(a, { type: "vote", poll: "still", choice: 1 }), { type: "voted", poll: "still", choice: 1 });
    assert.equal(controller.connections.size, 1);
  });

  test("a binary message gets binary_not_supported", async (t) => {
    const server = await start(t);
    const a = await open(t, server);
    a.sendBinary(new Uint8Array([1, 2, 3]));
    assert.deepEqual(await next(a), { type: "error", code: "binary_not_supported", message: "Cannot handle a binary message on this endpoint: send JSON text" });
  });
});

describe("protocol: the wire protocol's own frames", () => {
  test("ping gets pong; join is refused with left; leave is answered with left", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    assert.deepEqual(await ask(a, { type: "ping" }), { type: "pong" });
    assert.deepEqual(await ask(a, { type: "join", room: "r" }), { type: "left", room: "r", reason: "Cannot join rooms in-band on this endpoint" });
    assert.deepEqual(await ask(a, { type: "leave", room: "r" }), { type: "left", room: "r" });
    assert.deepEqual(controller.seen, []);
  });
});

describe("protocol: acknowledged messages", () => {
  test("ok once the handler resolved; refused, invalid and unknown as ok: false; a throw as internal_error and onError", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    assert.deepEqual(await ask(a, { type: "vote", poll: "p", choice: 1, ack: "k1" }), { type: "voted", poll: "p", choice: 1 });
    assert.deepEqual(await next(a), { type: "ack", key: "k1", ok: true });
    assert.deepEqual(controller.seen[0]!.message, { poll: "p", choice: 1 }, "the ack key is not one of the fields");
    assert.deepEqual(await ask(a, { type: "fail", how: "refuse", ack: "k2" }), {
      type: "ack",
      key: "k2",
      ok: false,
      error: { code: "not_allowed", message: "Cannot fail here: refused on purpose" },
    });
    const invalid = await ask(a, { type: "vote", poll: "p", ack: "k3" });
    assert.deepEqual([invalid.type, invalid.key, invalid.ok, (invalid.error as Json).code], ["ack", "k3", false, "invalid_message"]);
    assert.match((invalid.error as Json).message as string, /^Cannot handle message 'vote' as its fields are invalid: choice: /);
    const unknown = await ask(a, { type: "nope", ack: "k4" });
    assert.deepEqual([unknown.type, unknown.ok, (unknown.error as Json).code], ["ack", false, "unknown_type"]);
    const thrown = await ask(a, { type: "fail", how: "throw", ack: "k5" });
    assert.deepEqual(thrown, {
      type: "ack",
      key: "k5",
      ok: false,
      error: { code: "internal_error", message: "Cannot handle message 'fail' as the server failed: retry later" },
    });
    await waitFor(() => controller.errors.length === 1, 5_000, "onError");
    assert.deepEqual(await ask(a, { type: "ping" }), { type: "pong" });
  });

  test("with a MemoryDedupe, a repeated key is acknowledged without running the handler again; a refusal is not remembered", async (t) => {
    const store = new MemoryDedupe();
    const controller = new ChatServer(chat, { dedupe: { store } });
    const server = await start(t, controller);
    const a = await open(t, server);
    assert.equal((await ask(a, { type: "vote", poll: "once", choice: 1, ack: "same" })).type, "voted");
    assert.deepEqual(await next(a), { type: "ack", key: "same", ok: true });
    assert.deepEqual(await ask(a, { type: "vote", poll: "once", choice: 1, ack: "same" }), { type: "ack", key: "same", ok: true });
    assert.equal(controller.seen.filter((s) => s.type === "vote").length, 1);
    for (let i = 0; i < 2; i++) assert.equal((await ask(a, { type: "fail", how: "refuse", ack: "refused" })).ok, false);
    assert.equal(controller.seen.filter((s) => s.type === "fail").length, 2, "a refusal is run again");
    // Keys are scoped to the connection by default: another connection's same key runs.
    const b = await open(t, server);
    assert.equal((await ask(b, { type: "vote", poll: "once", choice: 1, ack: "same" })).type, "voted");
    assert.equal(controller.seen.filter((s) => s.type === "vote").length, 2);
  });

  test("a dedupe scope spans connections (one user), and bad dedupe options are refused", async (t) => {
    const controller = new ChatServer(chat, { dedupe: { store: new MemoryDedupe(), scope: () => "one-user" } });
    const server = await start(t, controller);
    const a = await open(t, server);
    const b = await open(t, server);
    assert.equal((await ask(a, { type: "say", text: "x", ack: "k" })).type, "said");
    assert.deepEqual(await next(a), { type: "ack", key: "k", ok: true });
    assert.equal((await next(b)).type, "said");
    assert.deepEqual(await ask(b, { type: "say", text: "x", ack: "k" }), { type: "ack", key: "k", ok: true });
    assert.equal(controller.seen.length, 1);
    assert.throws(() => new ChatServer(chat, { dedupe: { store: {} } } as unknown as ProtocolControllerOptions), /'dedupe.store' must be a Dedupe/);
    assert.throws(() => new ChatServer(chat, { dedupe: { store: new MemoryDedupe(), scope: "x" } } as unknown as ProtocolControllerOptions), /'dedupe.scope' must be a function/);
  });

  test("switchboard/client, typed by the protocol: an acked send resolves, a refused one rejects with the server's code", async (t) => {
    const controller = new ChatServer(chat);
    const server = await start(t, controller);
    const client = connect<Chat>(server.ws("/chat"), { maxAttempts: 1 });
    t.after(() => client.close());
    const received: unknown[] = [];
    client.addEventListener("message", (event) => {
      if (event.data.type === "voted") received.push(event.data.choice);
    });
    await within(client.send({ type: "vote", poll: "p", choice: 7 }, { ack: true, key: "c1" }), 5_000, "ack");
    await waitFor(() => received.length === 1);
    assert.deepEqual(received, [7]);
    const refused = await within(client.send({ type: "fail", how: "refuse" }, { ack: true }).then(() => undefined, (error: unknown) => error), 5_000, "refusal");
    assert.ok(refused instanceof ClientError);
    assert.deepEqual([refused.code, refused.message], ["not_allowed", "Cannot fail here: refused on purpose"]);
  });
});

describe("protocol: outbound", () => {
  /** A controller whose `send`/`broadcast` the test drives from outside, with the given options. */
  class Outbound extends ProtocolController<Chat> {
    protected readonly handlers: ProtocolHandlers<Chat> = { say() {}, vote() {}, pair() {}, slow() {}, fail() {} };
    override async onConnect(conn: Connection): Promise<void> {
      await conn.join("room", {});
    }
  }

  async function oneClient(t: TestContext, options: ProtocolControllerOptions): Promise<{ controller: Outbound; a: RawWebSocket }> {
    const controller = new Outbound(chat, options);
    const server = await startServer({ "/chat": controller });
    t.after(() => server.stop());
    const a = await open(t, server);
    await waitFor(() => controller.room("room").size === 1, 5_000, "the join");
    return { controller, a };
  }

  test('"always": an invalid outbound message throws a TypeError listing the issues and sends nothing', async (t) => {
    const { controller, a } = await oneClient(t, { validateOutbound: "always" });
    const conn = [...controller.connections.values()][0]!;
    assert.equal(controller.validatesOutbound, true);
    assert.throws(
      () => controller.send(conn, "said", { from: 1, text: "x" } as never),
      (error: Error) => error instanceof TypeError && /^Cannot send 'said' as its fields are invalid \(a bug in the server, not the client's\): from: /.test(error.message),
    );
    assert.throws(() => controller.broadcast("voted", { poll: "p" } as never), /Cannot broadcast 'voted' as its fields are invalid.*choice: /);
    await assert.rejects(controller.broadcast("said", { from: 2 } as never, { room: "room", record: true }), TypeError);
    await assert.rejects(
      controller.broadcast("message", (meta) => ({ room: meta.room, epoch: meta.epoch, id: meta.id }) as never, { room: "room", record: true }),
      /Cannot broadcast 'message' as its fields are invalid.*text: /,
    );
    // An async schema: send returns a Promise, rejected when invalid.
    await assert.rejects(Promise.resolve(controller.send(conn, "slowed", { n: "x" } as never)), /Cannot send 'slowed' as its fields are invalid.*n: Expected a number/);
    assert.throws(() => controller.send(conn, "nope" as never, {} as never), /is not a server message type of the protocol: known types are said, voted, slowed, message/);
    assert.throws(() => controller.send(conn, "said", { type: "x", from: "a", text: "b" } as never), /'fields' has a 'type': it is given apart/);
    // Nothing of the above was sent: the next frame is the valid one.
    const sent = controller.send(conn, "said", { from: "a", text: "ok" });
    assert.equal(sent, true);
    assert.deepEqual(await next(a), { type: "said", from: "a", text: "ok" });
    assert.equal(await controller.send(conn, "slowed", { n: 5 }), true);
    assert.deepEqual(await next(a), { type: "slowed", n: 5 });
    assert.equal((await controller.history.since("room", 0)).entries.length, 0, "nothing recorded either");
  });

  test('"off" sends what it is given, unchecked', async (t) => {
    const { controller, a } = await oneClient(t, { validateOutbound: "off" });
    const conn = [...controller.connections.values()][0]!;
    assert.equal(controller.validatesOutbound, false);
    assert.equal(controller.send(conn, "said", { from: 1, extra: true } as never), true);
    assert.deepEqual(await next(a), { type: "said", from: 1, extra: true });
    assert.equal(controller.broadcast("voted", { poll: 3 } as never), 1);
    assert.deepEqual(await next(a), { type: "voted", poll: 3 });
  });

  test('"development" (the default) validates unless NODE_ENV is "production"; other values are refused', (t) => {
    const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process!.env;
    const before = env.NODE_ENV;
    t.after(() => {
      if (before === undefined) delete env.NODE_ENV;
      else env.NODE_ENV = before;
    });
    delete env.NODE_ENV;
    assert.equal(new Outbound(chat).validatesOutbound, true);
    env.NODE_ENV = "production";
    assert.equal(new Outbound(chat).validatesOutbound, false);
    assert.equal(new Outbound(chat, { validateOutbound: "always" }).validatesOutbound, true);
    assert.throws(() => new Outbound(chat, { validateOutbound: "sometimes" as never }), /'validateOutbound' must be "off", "development" or "always"/);
    // The core's own options are still checked, typos included.
    assert.throws(() => new Outbound(chat, { maxMesageSize: 1 } as never), /'maxMesageSize' is not an option/);
  });

  test("a recorded broadcast with a builder carries its own position, validated; fields and except work as broadcastJson's", async (t) => {
    const { controller, a } = await oneClient(t, { validateOutbound: "always" });
    const entry = await controller.broadcast("message", (meta) => ({ room: meta.room, epoch: meta.epoch, id: meta.id, text: "first" }), {
      room: "room",
      record: true,
    });
    const frame = await next(a);
    assert.deepEqual(frame, { type: "message", room: "room", epoch: entry.epoch, id: entry.id, text: "first" });
    assert.equal(entry.id, 1);
    assert.equal(entry.data, JSON.stringify(frame));
    const second = await controller.broadcast("said", { from: "s", text: "recorded" }, { room: "room", record: true });
    assert.equal(second.id, 2);
    assert.deepEqual(await next(a), { type: "said", from: "s", text: "recorded" });
    const conn = [...controller.connections.values()][0]!;
    assert.equal(controller.broadcast("said", { from: "s", text: "skipped" }, { room: "room", except: conn }), 0);
    // A builder cannot wait for an asynchronous schema.
    await assert.rejects(
      controller.broadcast("slowed", () => ({ n: 1 }), { room: "room", record: true }),
      /Cannot broadcast 'slowed' from a builder as its schema validates asynchronously/,
    );
    // A plain recorded broadcast can.
    const slow = await controller.broadcast("slowed", { n: 9 }, { room: "room", record: true });
    assert.deepEqual(await next(a), { type: "slowed", n: 9 });
    assert.equal(slow.id, 3, "the refused builder burned no id");
  });
});

describe("protocol: defineProtocol", () => {
  test("reserved types are refused on each side, naming the key; message is allowed on the server's", () => {
    for (const type of ["ping", "join", "leave"]) {
      assert.throws(() => defineProtocol({ client: { [type]: z.object({}) }, server: {} }), {
        name: "TypeError",
        message: `Cannot define protocol as 'client.${type}' is a type of the wire protocol: rename it (reserved on the client side: ping, join, leave)`,
      });
    }
    for (const type of ["welcome", "joined", "left", "ack", "pong", "reconnect", "error"]) {
      assert.throws(() => defineProtocol({ client: {}, server: { [type]: z.object({}) } }), new RegExp(`'server\\.${type}' is a type of the wire protocol`));
    }
    for (const side of ["client", "server"] as const) {
      assert.throws(() => defineProtocol({ client: {}, server: {}, [side]: { "": z.object({}) } }), { name: "TypeError", message: /has a message type "": a type is a non-empty string/ });
    }
    const ok: Protocol = defineProtocol({ client: { message: z.object({}), error: z.object({}) }, server: { message: z.object({}), ping: z.object({}) } });
    assert.deepEqual([Object.keys(ok.client), Object.keys(ok.server)], [["message", "error"], ["message", "ping"]]);
    assert.ok(Object.isFrozen(ok) && Object.isFrozen(ok.client) && Object.isFrozen(ok.server));
  });

  test("values that are not Standard Schemas are refused, naming the key; so are definitions that are not objects", () => {
    for (const bad of [1, "z.string()", null, {}, { "~standard": { version: 2, validate() {} } }, { "~standard": { version: 1 } }, () => {}]) {
      assert.throws(() => defineProtocol({ client: { say: bad as never }, server: {} }), {
        name: "TypeError",
        message: /^Cannot define protocol as 'client\.say' must be a Standard Schema \(zod, valibot, arktype\.\.\.\): current value is /,
      });
    }
    assert.throws(() => defineProtocol({ client: {}, server: { said: z } as never }), /'server\.said' must be a Standard Schema/);
    assert.throws(() => defineProtocol(undefined as never), /the definition must be an object/);
    assert.throws(() => defineProtocol({ client: {} } as never), /'server' must be an object of schemas/);
    assert.throws(() => defineProtocol({ client: [], server: {} } as never), /'client' must be an object of schemas/);
  });
});

// --- Shaping error replies ----------------------------------------------------------------

/** Maps the schema's issues to codes of its own, and JSON that is not an object to unknown_type, as an application would. */
class ShapedServer extends ChatServer {
  readonly refusals: Refusal[] = [];
  /** Makes the hook return what is not a reply. */
  broken = false;
  protected override refusal(conn: Connection, refusal: Refusal): RefusalReply {
    this.refusals.push(refusal);
    if (refusal.code === "invalid_frame" && refusal.data !== undefined) {
      return { code: "unknown_type", message: `Cannot handle ${JSON.stringify(refusal.data)}: send an object with a type` };
    }
    if (refusal.code === "invalid_message" && refusal.messageType === "say") {
      const text = (refusal.data as Json).text;
      return { code: "empty_text", message: `Cannot say ${JSON.stringify(text)} from ${conn.id.length > 0 ? "you" : "?"}: it is empty` };
    }
    if (this.broken) return { code: 42 } as unknown as RefusalReply;
    return refusal;
  }
}

describe("protocol: refusal, the hook that shapes error replies", () => {
  test("it gets the code, default message, type, issues and parsed message, and what it returns is sent (only what it returns)", async (t) => {
    const controller = new ShapedServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    assert.deepEqual(await ask(a, { type: "say", text: "", extra: 1 }), { type: "error", code: "empty_text", message: 'Cannot say "" from you: it is empty' });
    const seen = controller.refusals[0]!;
    assert.deepEqual([seen.code, seen.messageType, seen.data], ["invalid_message", "say", { type: "say", text: "", extra: 1 }]);
    assert.deepEqual(seen.issues!.map((issue) => issue.path), ["text"]);
    assert.match(seen.message, /^Cannot handle message 'say' as its fields are invalid: text: /);
    for (const text of ["[1]", "42", "null"]) {
      assert.deepEqual(await ask(a, text), { type: "error", code: "unknown_type", message: `Cannot handle ${text}: send an object with a type` });
    }
    // A malformed protocol frame has no application message: its refusal has no data, and is sent as it is.
    assert.deepEqual(await ask(a, { type: "join" }), { type: "error", code: "invalid_frame", message: "Cannot join as 'room' must be a string" });
    assert.equal(controller.refusals.at(-1)!.data, undefined);
    // The default for everything else: the refusal itself, messageType and issues included.
    const valibot = await ask(a, { type: "vote", poll: 1, choice: 1 });
    assert.deepEqual([valibot.code, valibot.messageType, (valibot.issues as Json[]).length], ["invalid_message", "vote", 1]);
    assert.deepEqual(await ask(a, { type: "fail", how: "refuse" }), { type: "error", code: "not_allowed", message: "Cannot fail here: refused on purpose", messageType: "fail" });
    a.sendBinary(new Uint8Array([1]));
    assert.equal((await next(a)).code, "binary_not_supported");
    assert.equal(controller.refusals.at(-1)!.code, "binary_not_supported", "binary refusals go through it too");
  });

  test("acknowledged messages get the reply's code and message in their ack; a reply that is not { code, message } goes to onError", async (t) => {
    const controller = new ShapedServer(chat);
    const server = await start(t, controller);
    const a = await open(t, server);
    assert.deepEqual(await ask(a, { type: "say", text: "  ", ack: "k1" }), {
      type: "ack",
      key: "k1",
      ok: false,
      error: { code: "empty_text", message: 'Cannot say "  " from you: it is empty' },
    });
    controller.broken = true;
    a.sendText(JSON.stringify({ type: "fail", how: "refuse" }));
    await waitFor(() => controller.errors.length === 1, 5_000, "onError");
    controller.broken = false;
    assert.match(controller.errors[0]!.message, /'refusal' must return \{ code, message \}/);
    assert.deepEqual(await ask(a, { type: "ping" }), { type: "pong" }, "nothing was sent for it, and the connection goes on");
  });
});

// --- Rate limits per message type ---------------------------------------------------------------

const limited = defineProtocol({
  client: {
    post: z.object({ text: z.string().min(1) }),
    rename: z.object({ name: z.string() }),
    typing: z.object({}),
  },
  server: {
    posted: z.object({ text: z.string() }),
    renamed: z.object({ name: z.string() }),
    typing: z.object({ from: z.string() }),
  },
});
type Limited = typeof limited;
type Keyed = { key: string; name: string };

class LimitedServer extends ProtocolController<Limited, Keyed> {
  readonly handled: string[] = [];
  protected readonly handlers: ProtocolHandlers<Limited, Keyed> = {
    post: (conn, { text }) => {
      this.handled.push(text);
      this.send(conn, "posted", { text });
    },
    rename: (conn, { name }) => {
      if (name === "taken") throw new MessageRefused("taken", "Cannot rename: taken");
      conn.userData.name = name;
      this.send(conn, "renamed", { name });
    },
    typing: (conn) => void this.send(conn, "typing", { from: conn.id }),
  };
  // The key of the shared limits comes from the URL, so that one test client can be many "addresses".
  override onUpgrade(request: { query: URLSearchParams }) {
    return { userData: { key: request.query.get("key") ?? "none", name: "" } };
  }
}

async function startLimited(t: TestContext, options: ProtocolControllerOptions<Keyed, Limited>): Promise<{ controller: LimitedServer; connect(key?: string): Promise<RawWebSocket> }> {
  const controller = new LimitedServer(limited, options);
  const server = await startServer({ "/l": controller });
  t.after(() => server.stop());
  return {
    controller,
    async connect(key = "k") {
      const client = await server.connect(`/l?key=${key}`);
      t.after(() => client.destroy());
      return client;
    },
  };
}

describe("protocol: rate limits per message type", () => {
  test("per connection, in a sliding window: past it a rate_limited reply (an ack ok: false when acked); other types and connections have their own", async (t) => {
    const { controller, connect } = await startLimited(t, { limits: { post: { messages: 2, interval: 400 } } });
    const a = await connect();
    const started = Date.now();
    assert.equal((await ask(a, { type: "post", text: "1" })).type, "posted");
    await delay(200);
    assert.equal((await ask(a, { type: "post", text: "2" })).type, "posted");
    assert.deepEqual(await ask(a, { type: "post", text: "3" }), {
      type: "error",
      code: "rate_limited",
      message: "Cannot handle message 'post' as the limit is 2 messages in 0.4 s: wait a little",
      messageType: "post",
    });
    assert.deepEqual(await ask(a, { type: "post", text: "4", ack: "k4" }), {
      type: "ack",
      key: "k4",
      ok: false,
      error: { code: "rate_limited", message: "Cannot handle message 'post' as the limit is 2 messages in 0.4 s: wait a little" },
    });
    assert.equal((await ask(a, { type: "rename", name: "x" })).type, "renamed", "another type is not limited");
    const b = await connect();
    assert.equal((await ask(b, { type: "post", text: "b" })).type, "posted", "another connection has its own window");
    // "1" has left the window, "2" has not: one more fits, not two (a fixed window would allow both).
    await delay(Math.max(0, started + 450 - Date.now()));
    assert.equal((await ask(a, { type: "post", text: "5" })).type, "posted");
    assert.equal((await ask(a, { type: "post", text: "6" })).code, "rate_limited");
    assert.deepEqual(controller.handled, ["1", "2", "b", "5"]);
    assert.equal(controller.rateLimitKeys, 0, "limits per connection keep no keys");
  });

  test("only a valid message counts, and only when every limit has room; a refused one counts nowhere; a handler's refusal counts", async (t) => {
    const { connect } = await startLimited(t, {
      limits: { rename: [{ messages: 3, interval: 10_000 }, { messages: 2, interval: 300, per: (conn) => conn.userData.key }] },
    });
    const a = await connect("shared");
    for (let i = 0; i < 5; i++) assert.equal((await ask(a, { type: "rename" })).code, "invalid_message", "invalid: not counted");
    assert.equal((await ask(a, { type: "rename", name: "taken" })).code, "taken", "refused by the handler: counted");
    assert.equal((await ask(a, { type: "rename", name: "one" })).type, "renamed");
    const refused = await ask(a, { type: "rename", name: "two" });
    assert.deepEqual([refused.code, refused.message], ["rate_limited", "Cannot handle message 'rename' as the limit is 2 messages in 0.3 s: wait a little"]);
    const b = await connect("other");
    assert.equal((await ask(b, { type: "rename", name: "b1" })).type, "renamed", "another key has its own shared window");
    // Once the shared window is free, the connection's own has exactly one left: the refused one was not counted in it.
    await delay(350);
    assert.equal((await ask(a, { type: "rename", name: "three" })).type, "renamed");
    assert.match((await ask(a, { type: "rename", name: "four" })).message as string, /the limit is 3 messages in 10 s/);
  });

  test("per key: connections of one key share the window; keys are bounded by maxKeys and counted in rateLimitKeys", async (t) => {
    const { controller, connect } = await startLimited(t, {
      limits: { post: { messages: 2, interval: 10_000, per: (conn) => conn.userData.key, maxKeys: 2 } },
    });
    const a1 = await connect("a");
    const a2 = await connect("a");
    assert.equal((await ask(a1, { type: "post", text: "a1" })).type, "posted");
    assert.equal((await ask(a2, { type: "post", text: "a2" })).type, "posted");
    assert.equal((await ask(a2, { type: "post", text: "a2 again" })).code, "rate_limited", "a reconnect does not refill it");
    assert.equal(controller.rateLimitKeys, 1);
    for (const key of ["b", "c"]) assert.equal((await ask(await connect(key), { type: "post", text: key })).type, "posted");
    assert.equal(controller.rateLimitKeys, 2, "never more than maxKeys");
    assert.equal((await ask(a1, { type: "post", text: "a, forgotten" })).type, "posted", "the least recently used key was forgotten");
  });

  test('"drop" ignores past the limit without a word (an acked one is acked ok); counts() exempts a message', async (t) => {
    const { controller, connect } = await startLimited(t, {
      limits: {
        typing: { messages: 1, interval: 10_000, action: "drop" },
        rename: { messages: 1, interval: 10_000, counts: (conn, { name }) => name !== conn.userData.name },
      },
    });
    const a = await connect();
    assert.equal((await ask(a, { type: "typing" })).type, "typing");
    a.sendText(JSON.stringify({ type: "typing" }));
    assert.deepEqual(await ask(a, { type: "typing", ack: "t" }), { type: "ack", key: "t", ok: true }, "dropped: no typing, no error");
    assert.equal((await ask(a, { type: "rename", name: "same" })).type, "renamed");
    for (let i = 0; i < 3; i++) assert.equal((await ask(a, { type: "rename", name: "same" })).type, "renamed", "the same name: not counted");
    assert.equal((await ask(a, { type: "rename", name: "other" })).code, "rate_limited");
    assert.deepEqual(controller.handled, []);
  });

  test("with a dedupe, a repeat already done is answered from it without being limited; dedupe.types chooses the types deduplicated", async (t) => {
    const { controller, connect } = await startLimited(t, {
      limits: { post: { messages: 1, interval: 10_000 } },
      dedupe: { store: new MemoryDedupe(), types: ["post"] },
    });
    const a = await connect();
    assert.equal((await ask(a, { type: "post", text: "once", ack: "p" })).type, "posted");
    assert.deepEqual(await next(a), { type: "ack", key: "p", ok: true });
    assert.deepEqual(await ask(a, { type: "post", text: "once", ack: "p" }), { type: "ack", key: "p", ok: true }, "done: not limited");
    assert.equal((await ask(a, { type: "post", text: "new", ack: "q" })).ok, false, "a new key is limited");
    // rename is not in dedupe.types: each repeat runs.
    for (let i = 0; i < 2; i++) {
      assert.equal((await ask(a, { type: "rename", name: `n${i}`, ack: "r" })).type, "renamed");
      assert.deepEqual(await next(a), { type: "ack", key: "r", ok: true });
    }
    assert.deepEqual(controller.handled, ["once"]);
    assert.throws(() => new LimitedServer(limited, { dedupe: { store: new MemoryDedupe(), types: ["nope" as "post"] } }), /'dedupe.types' must be an array of client message types/);
  });

  test("bad limits are refused when the controller is created, naming the option", () => {
    const bad: [RegExp, unknown][] = [
      [/'limits.nope' is not a client message type/, { nope: { messages: 1, interval: 1 } }],
      [/'limits.post.messages' must be an integer of at least 0/, { post: { messages: 1.5, interval: 1 } }],
      [/'limits.post.messages' is missing/, { post: { interval: 1 } }],
      [/'limits.post\[1\].interval' must be a finite number of milliseconds above 0/, { post: [{ messages: 1, interval: 1 }, { messages: 1, interval: 0 }] }],
      [/'limits.post.per' must be a function/, { post: { messages: 1, interval: 1, per: "address" } }],
      [/'limits.post.maxKeys' needs 'per'/, { post: { messages: 1, interval: 1, maxKeys: 5 } }],
      [/'limits.post.maxKeys' must be an integer of at least 1/, { post: { messages: 1, interval: 1, per: () => "", maxKeys: 0 } }],
      [/'limits.post.action' must be "reply" or "drop"/, { post: { messages: 1, interval: 1, action: "close" } }],
      [/'windowMs' is not an option/, { post: { messages: 1, interval: 1, windowMs: 1 } }],
      [/'limits.post' must be an object/, { post: 5 }],
    ];
    for (const [pattern, limits] of bad) {
      assert.throws(() => new LimitedServer(limited, { limits: limits as MessageLimits<Limited, Keyed> }), (error: Error) => pattern.test(error.message), String(pattern));
    }
  });

  test("SlidingWindow is exact; KeyedWindows keeps at most maxKeys, forgets a key quiet for an interval, and a refused try keeps a key in use", () => {
    const window = new SlidingWindow({ messages: 2, interval: 1_000 });
    for (const now of [0, 600]) {
      assert.equal(window.allows(now), true);
      window.take(now);
    }
    assert.deepEqual([window.allows(999), window.allows(1_000)], [false, true]);
    window.take(1_000);
    assert.deepEqual([window.allows(1_599), window.allows(1_600)], [false, true]);
    assert.equal(new SlidingWindow({ messages: 0, interval: 1 }).allows(0), false);

    const keyed = new KeyedWindows({ messages: 1, interval: 1_000 }, 3);
    const spend = (key: string, now: number) => keyed.windowOf(key, now).take(now);
    for (const [i, key] of ["a", "b", "c", "d"].entries()) spend(key, i);
    assert.equal(keyed.size, 3);
    assert.equal(keyed.windowOf("d", 10).allows(10), false, "the most recent keep their windows");
    assert.equal(keyed.windowOf("a", 10).allows(10), true, "the least recently used went first");
    keyed.windowOf("z", 1_020);
    assert.equal(keyed.size, 1, "a whole interval after their last use, the others are forgotten");
    spend("g", 2_000);
    for (let now = 2_100; now < 3_000; now += 100) assert.equal(keyed.windowOf("g", now).allows(now), false, `at ${now}`);
    assert.equal(keyed.windowOf("g", 3_000).allows(3_000), true);
  });
});
