/**
 * Conformance: broadcastText/Binary/Json to every connection, to a room, with
 * `except`; rooms through conn.join/leave, `room(name)` and `rooms`; exact,
 * in-order, exactly-once fan-out to 100 clients. On Bun these broadcasts go
 * through Bun's native publish, elsewhere through the core's loop: the same
 * assertions hold for both.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Connection, type UpgradeRequest, WebSocketController } from "../mod.ts";
import type { RawMessage, RawWebSocket } from "./helpers/raw-client.ts";
import { capabilities, startServer, type TestServer, waitFor } from "./helpers/server.ts";

interface Member {
  name: string;
}

/**
 * Names each connection from `?name=`, joins the rooms in `?rooms=a,b`, and
 * obeys "join:x" / "leave:x" from its client (answering "ok" so the test knows
 * the change happened).
 */
class Hub extends WebSocketController<Member> {
  readonly byName: Map<string, Connection<Member>> = new Map();

  override onUpgrade(request: UpgradeRequest) {
    return { userData: { name: request.query.get("name") ?? "anon" } };
  }
  override onConnect(conn: Connection<Member>) {
    this.byName.set(conn.userData.name, conn);
    for (const room of conn.request.query.get("rooms")?.split(",").filter(Boolean) ?? []) conn.join(room);
  }
  override onTextMessage(conn: Connection<Member>, text: string) {
    const [command, room = ""] = text.split(":");
    if (command === "join") conn.join(room);
    else if (command === "leave") conn.leave(room);
    conn.sendText("ok");
  }
  override onDisconnect(conn: Connection<Member>) {
    this.byName.delete(conn.userData.name);
  }
  get(name: string): Connection<Member> {
    const conn = this.byName.get(name);
    assert.ok(conn, `connection ${name} is registered`);
    return conn;
  }
}

interface Setup {
  hub: Hub;
  server: TestServer;
  clients: Map<string, RawWebSocket>;
}

/** Starts a Hub and connects one raw client per `name -> rooms` entry. */
async function setup(t: { after(fn: () => unknown): void }, members: Record<string, string[]>): Promise<Setup> {
  const hub = new Hub();
  const server = await startServer({ "/hub": hub });
  t.after(() => server.stop());
  const clients = new Map<string, RawWebSocket>();
  for (const [name, rooms] of Object.entries(members)) {
    clients.set(name, await server.connect(`/hub?name=${name}&rooms=${rooms.join(",")}`));
  }
  await waitFor(() => hub.byName.size === clients.size, 5_000, "every connection to register");
  return { hub, server, clients };
}

/**
 * The next message of each client. A message that a client should NOT have
 * got shows up here instead of the marker the test broadcasts to everyone
 * afterwards: no sleeping, and a stray message cannot go unnoticed.
 */
async function nextTexts(clients: Map<string, RawWebSocket>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, client] of clients) out[name] = (await client.nextMessage()).text();
  return out;
}

async function closeAll(clients: Iterable<RawWebSocket>): Promise<void> {
  const list = [...clients];
  for (const client of list) client.close();
  await Promise.all(list.map((c) => c.closed));
}

describe("broadcast", () => {
  test("broadcastText, broadcastBinary and broadcastJson reach every connection and return the recipient count", async (t) => {
    const { hub, clients } = await setup(t, { a: [], b: ["red"], c: ["blue"] });
    assert.equal(hub.broadcastText("héllo 😀"), 3);
    assert.deepEqual(await nextTexts(clients), { a: "héllo 😀", b: "héllo 😀", c: "héllo 😀" });

    const bytes = new Uint8Array([0, 1, 127, 128, 255]);
    assert.equal(hub.broadcastBinary(bytes), 3);
    for (const client of clients.values()) {
      const message = await client.nextMessage();
      assert.equal(message.kind, "binary");
      assert.deepEqual([...message.data], [...bytes]);
    }

    const value = { from: "server", n: [1, 2], "ü": "€" };
    assert.equal(hub.broadcastJson(value), 3);
    for (const client of clients.values()) {
      const message = await client.nextMessage();
      assert.equal(message.kind, "text");
      assert.equal(message.text(), JSON.stringify(value));
    }
    await closeAll(clients.values());
  });

  test("a broadcast to a room reaches exactly its members", async (t) => {
    const { hub, clients } = await setup(t, { a: ["red"], b: ["red", "blue"], c: ["blue"], d: [] });
    assert.equal(hub.broadcastText("to red", { room: "red" }), 2);
    assert.equal(hub.broadcastBinary(new Uint8Array([7]), { room: "blue" }), 2);
    assert.equal(hub.broadcastJson({ to: "blue" }, { room: "blue" }), 2);
    assert.equal(hub.broadcastText("marker"), 4);
    const seen: Record<string, string[]> = {};
    for (const [name, client] of clients) {
      seen[name] = [];
      for (let message: RawMessage; (message = await client.nextMessage()).text() !== "marker";) {
        seen[name].push(message.kind === "binary" ? `bin:${[...message.data]}` : message.text());
      }
    }
    assert.deepEqual(seen, {
      a: ["to red"],
      b: ["to red", "bin:7", '{"to":"blue"}'],
      c: ["bin:7", '{"to":"blue"}'],
      d: [],
    });
    await closeAll(clients.values());
  });

  test("except leaves out one connection, or every connection of an array or set", async (t) => {
    const { hub, clients } = await setup(t, { a: ["red"], b: ["red"], c: ["red"], d: [] });
    const [a, b, c, d] = ["a", "b", "c", "d"].map((name) => hub.get(name));
    const round = async (sent: number, text: string, receivers: string[]): Promise<void> => {
      assert.equal(sent, receivers.length, `recipients of ${text}`);
      assert.equal(hub.broadcastText("marker"), 4);
      const expected: Record<string, string> = {};
      for (const name of clients.keys()) expected[name] = receivers.includes(name) ? text : "marker";
      assert.deepEqual(await nextTexts(clients), expected, `who got ${text}`);
      // Whoever got the message still has the marker queued.
      for (const name of receivers) assert.equal((await clients.get(name)!.nextMessage()).text(), "marker");
    };
    await round(hub.broadcastText("all but a", { except: a }), "all but a", ["b", "c", "d"]);
    await round(hub.broadcastText("all but a, b", { except: [a!, b!] }), "all but a, b", ["c", "d"]);
    await round(hub.broadcastText("all but b, d", { except: new Set([b!, d!]) }), "all but b, d", ["a", "c"]);
    await round(hub.broadcastText("red but c", { room: "red", except: c }), "red but c", ["a", "b"]);
    await round(hub.broadcastText("red but a, c", { room: "red", except: [a!, c!] }), "red but a, c", ["b"]);
    // Excluding a connection that is not in the room excludes nobody.
    await round(hub.broadcastText("red but d", { room: "red", except: d }), "red but d", ["a", "b", "c"]);
    await round(hub.broadcastText("nobody left", { room: "red", except: [a!, b!, c!] }), "nobody left", []);
    await round(hub.broadcastText("empty except", { except: [] }), "empty except", ["a", "b", "c", "d"]);
    const bytes = new Uint8Array([1, 2, 3]);
    assert.equal(hub.broadcastBinary(bytes, { room: "red", except: b }), 2);
    assert.equal(hub.broadcastJson({ j: 1 }, { except: [c!] }), 3);
    assert.equal(hub.broadcastText("marker"), 4);
    const got: Record<string, string[]> = {};
    for (const [name, client] of clients) {
      got[name] = [];
      for (let message: RawMessage; (message = await client.nextMessage()).text() !== "marker";) {
        got[name].push(message.kind === "binary" ? `bin:${[...message.data]}` : message.text());
      }
    }
    assert.deepEqual(got, {
      a: ["bin:1,2,3", '{"j":1}'],
      b: ['{"j":1}'],
      c: ["bin:1,2,3"],
      d: ['{"j":1}'],
    });
    await closeAll(clients.values());
  });

  test("a broadcast to an empty or unknown room, or with no connections, returns 0 and reaches nobody", async (t) => {
    const empty = new Hub();
    assert.equal(empty.broadcastText("nobody"), 0, "a controller with no connections");
    const { hub, clients } = await setup(t, { a: ["red"], b: [] });
    assert.equal(hub.broadcastText("x", { room: "never-created" }), 0);
    assert.equal(hub.broadcastBinary(new Uint8Array([1]), { room: "never-created" }), 0);
    assert.throws(() => hub.broadcastJson({ x: 1 }, { room: "" }), TypeError, "a room is named by a non-empty string");
    // A room that existed and emptied is unknown again.
    const a = clients.get("a")!;
    a.sendText("leave:red");
    assert.equal((await a.nextMessage()).text(), "ok");
    assert.equal(hub.rooms.has("red"), false, "an emptied room is forgotten");
    assert.equal(hub.broadcastText("to the emptied room", { room: "red" }), 0);
    assert.equal(hub.broadcastText("marker"), 2);
    assert.deepEqual(await nextTexts(clients), { a: "marker", b: "marker" });
    await closeAll(clients.values());
    await waitFor(() => hub.connections.size === 0, 5_000, "every disconnect");
    assert.equal(hub.broadcastText("after everyone left"), 0);
  });

  test("rooms: join and leave from hooks and from outside, room(name), rooms and conn.rooms", async (t) => {
    const { hub, clients } = await setup(t, { a: [], b: [], c: [] });
    const [a, b, c] = ["a", "b", "c"].map((name) => hub.get(name));
    assert.equal(hub.rooms.size, 0);
    assert.equal(hub.room("red").size, 0, "room() of an unknown room is empty");

    // Joining from inside a hook (the usual case).
    for (const name of ["a", "b"]) {
      const client = clients.get(name)!;
      client.sendText("join:red");
      assert.equal((await client.nextMessage()).text(), "ok");
    }
    // Joining from outside any hook, twice: the second join changes nothing.
    c!.join("blue");
    c!.join("blue");
    a!.join("blue");
    assert.deepEqual([...hub.room("red")].map((x) => x.userData.name).sort(), ["a", "b"]);
    assert.deepEqual([...hub.room("blue")].map((x) => x.userData.name).sort(), ["a", "c"]);
    assert.deepEqual([...hub.rooms.keys()].sort(), ["blue", "red"]);
    assert.ok(hub.room("red").has(a!) && hub.room("red").has(b!));
    assert.deepEqual([...a!.rooms].sort(), ["blue", "red"]);
    assert.deepEqual([...b!.rooms], ["red"]);
    assert.deepEqual([...c!.rooms], ["blue"]);
    assert.equal(hub.broadcastText("red 1", { room: "red" }), 2);
    assert.equal(hub.broadcastText("blue 1", { room: "blue" }), 2);
    assert.equal(hub.broadcastText("marker"), 3);
    assert.deepEqual(await nextTexts(clients), { a: "red 1", b: "red 1", c: "blue 1" });
    assert.deepEqual(await nextTexts(clients), { a: "blue 1", b: "marker", c: "marker" });
    assert.equal((await clients.get("a")!.nextMessage()).text(), "marker");

    // Leaving: from a hook, from outside, and leaving a room one is not in.
    const clientA = clients.get("a")!;
    clientA.sendText("leave:red");
    assert.equal((await clientA.nextMessage()).text(), "ok");
    c!.leave("blue");
    c!.leave("red");
    assert.deepEqual([...hub.room("red")].map((x) => x.userData.name), ["b"]);
    assert.deepEqual([...hub.room("blue")].map((x) => x.userData.name), ["a"]);
    assert.deepEqual([...a!.rooms], ["blue"]);
    assert.deepEqual([...c!.rooms], []);
    assert.equal(hub.broadcastText("red 2", { room: "red" }), 1);
    assert.equal(hub.broadcastText("blue 2", { room: "blue" }), 1);
    assert.equal(hub.broadcastText("marker"), 3);
    assert.deepEqual(await nextTexts(clients), { a: "blue 2", b: "red 2", c: "marker" });
    assert.deepEqual(await nextTexts(new Map([...clients].filter(([n]) => n !== "c"))), { a: "marker", b: "marker" });

    // Rejoining after leaving works again (native subscriptions are renewed on Bun).
    c!.join("red");
    assert.equal(hub.broadcastText("red 3", { room: "red" }), 2);
    assert.equal(hub.broadcastText("marker"), 3);
    assert.deepEqual(await nextTexts(clients), { a: "marker", b: "red 3", c: "red 3" });
    assert.deepEqual(await nextTexts(new Map([...clients].filter(([n]) => n !== "a"))), { b: "marker", c: "marker" });

    // A closed connection leaves every room and stops counting.
    const clientB = clients.get("b")!;
    clientB.close();
    await clientB.closed;
    await waitFor(() => hub.connections.size === 2, 5_000, "b to disconnect");
    clients.delete("b");
    assert.deepEqual([...hub.room("red")].map((x) => x.userData.name), ["c"]);
    assert.equal(hub.broadcastText("red 4", { room: "red" }), 1);
    assert.equal(hub.broadcastText("marker"), 2);
    assert.deepEqual(await nextTexts(clients), { a: "marker", c: "red 4" });
    await closeAll(clients.values());
  });

  test("stats() counts each broadcast once per recipient", async (t) => {
    const { hub, clients } = await setup(t, { a: ["red"], b: ["red"], c: [] });
    const before = await hub.stats();
    assert.equal(hub.broadcastText("héllo"), 3); // 6 bytes
    assert.equal(hub.broadcastBinary(new Uint8Array(10), { room: "red" }), 2);
    assert.equal(hub.broadcastText("😀", { except: hub.get("c") }), 2); // 4 bytes
    assert.equal(hub.broadcastText("x", { except: [hub.get("a")] }), 2);
    assert.equal(hub.broadcastText("gone", { room: "nobody" }), 0);
    const received = { a: 3, b: 4, c: 2 } as Record<string, number>;
    for (const [name, client] of clients) await client.messages(received[name]!);
    const after = await hub.stats();
    assert.equal(after.messagesOut - before.messagesOut, 3 + 2 + 2 + 2);
    assert.equal(after.bytesOut - before.bytesOut, 6 * 3 + 10 * 2 + 4 * 2 + 1 * 2);
    assert.equal(after.rooms, 1);
    assert.equal(after.connections, 3);
    await closeAll(clients.values());
  });

  for (const excludeSender of [false, true]) {
    test(
      `100 clients, 5 senders: every broadcast arrives exactly once and in order at each client${excludeSender ? " (except the sender)" : ""}`,
      async (t) => {
        const CLIENTS = 100;
        const SENDERS = 5;
        const PER_SENDER = 20;
        /** The order in which the server broadcast, the one order every client must see. */
        const log: string[] = [];
        const returned: number[] = [];
        class Fanout extends WebSocketController {
          override onTextMessage(conn: Connection, text: string) {
            log.push(text);
            returned.push(excludeSender ? this.broadcastText(text, { except: conn }) : this.broadcastText(text));
          }
        }
        const controller = new Fanout();
        const server = await startServer({ "/fanout": controller });
        t.after(() => server.stop());
        const clients = await Promise.all(Array.from({ length: CLIENTS }, () => server.connect("/fanout", { timeoutMs: 15_000 })));
        await waitFor(() => controller.connections.size === CLIENTS, 10_000, "every client to register");
        const inboxes = clients.map(() => [] as string[]);
        clients.forEach((client, i) => (client.onMessage = (message) => inboxes[i]!.push(message.text())));

        // Each sender fires its whole sequence at once; the senders' streams interleave at the server.
        for (let seq = 0; seq < PER_SENDER; seq++) {
          for (let s = 0; s < SENDERS; s++) clients[s]!.sendText(`s${s}:${seq}`);
        }
        const expectedCount = (i: number): number => SENDERS * PER_SENDER - (excludeSender && i < SENDERS ? PER_SENDER : 0);
        await waitFor(() => inboxes.every((inbox, i) => inbox.length >= expectedCount(i)), 20_000, "every broadcast at every client");

        assert.equal(log.length, SENDERS * PER_SENDER);
        // Each sender's messages reached the server in the order sent.
        for (let s = 0; s < SENDERS; s++) {
          assert.deepEqual(log.filter((x) => x.startsWith(`s${s}:`)), Array.from({ length: PER_SENDER }, (_, q) => `s${s}:${q}`));
        }
        assert.deepEqual(returned, log.map(() => (excludeSender ? CLIENTS - 1 : CLIENTS)), "each broadcast reports its recipients");
        inboxes.forEach((inbox, i) => {
          const expected = excludeSender && i < SENDERS ? log.filter((x) => !x.startsWith(`s${i}:`)) : log;
          assert.deepEqual(inbox, expected, `client ${i} got every message once, in the server's order`);
        });
        await closeAll(clients);
      },
    );
  }

  test("fan-out to two rooms of 50 and to a room minus several members stays exact", async (t) => {
    const CLIENTS = 100;
    const controller = new Hub();
    const server = await startServer({ "/hub": controller });
    t.after(() => server.stop());
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => server.connect(`/hub?name=c${i}&rooms=${i % 2 ? "odd" : "even"}`, { timeoutMs: 15_000 })),
    );
    await waitFor(() => controller.byName.size === CLIENTS, 10_000, "every client to register");
    const inboxes = clients.map(() => [] as string[]);
    clients.forEach((client, i) => (client.onMessage = (message) => inboxes[i]!.push(message.text())));
    const skipped = [0, 2, 4].map((i) => controller.get(`c${i}`));
    for (let seq = 0; seq < 30; seq++) {
      assert.equal(controller.broadcastText(`odd ${seq}`, { room: "odd" }), 50);
      assert.equal(controller.broadcastText(`even ${seq}`, { room: "even", except: skipped }), 47);
    }
    const expectedFor = (i: number): string[] =>
      i % 2 ? Array.from({ length: 30 }, (_, q) => `odd ${q}`) : i <= 4 ? [] : Array.from({ length: 30 }, (_, q) => `even ${q}`);
    assert.equal(controller.broadcastText("marker"), CLIENTS);
    await waitFor(() => inboxes.every((inbox) => inbox.at(-1) === "marker"), 20_000, "the marker at every client");
    inboxes.forEach((inbox, i) => assert.deepEqual(inbox, [...expectedFor(i), "marker"], `client ${i}`));
    await closeAll(clients);
  });

  test("direct sends and broadcasts to the same connection keep their order", async (t) => {
    // On Bun a publish is queued per topic while a send is written at once: the order must still hold.
    class Mixed extends WebSocketController {
      override onConnect(conn: Connection) {
        conn.join("room");
      }
      override onTextMessage(conn: Connection, text: string) {
        for (let i = 0; i < 5; i++) {
          conn.sendText(`${text} direct ${i}`);
          this.broadcastText(`${text} all ${i}`);
          this.broadcastText(`${text} room ${i}`, { room: "room" });
          this.broadcastBinary(new Uint8Array([i]), { room: "room", except: [] });
        }
        conn.sendText(`${text} end`);
      }
    }
    const server = await startServer({ "/mixed": new Mixed() });
    t.after(() => server.stop());
    const client = await server.connect("/mixed");
    client.sendText("a");
    client.sendText("b");
    const got = (await client.messages(2 * 21)).map((m) => (m.kind === "binary" ? `bin ${m.data[0]}` : m.text()));
    const expected: string[] = [];
    for (const text of ["a", "b"]) {
      for (let i = 0; i < 5; i++) expected.push(`${text} direct ${i}`, `${text} all ${i}`, `${text} room ${i}`, `bin ${i}`);
      expected.push(`${text} end`);
    }
    assert.deepEqual(got, expected);
    client.close();
    await client.closed;
  });

  test("broadcasts stay within their controller: two controllers on one server, with the same room names", async (t) => {
    const first = new Hub();
    const second = new Hub();
    const server = await startServer({ "/first": first, "/second": second });
    t.after(() => server.stop());
    const clients = new Map<string, RawWebSocket>();
    for (const [name, path] of [["f1", "/first"], ["f2", "/first"], ["s1", "/second"]] as const) {
      clients.set(name, await server.connect(`${path}?name=${name}&rooms=shared`));
    }
    await waitFor(() => first.byName.size === 2 && second.byName.size === 1, 5_000, "every connection to register");
    assert.equal(first.broadcastText("first to all"), 2);
    assert.equal(first.broadcastText("first to shared", { room: "shared" }), 2);
    assert.equal(second.broadcastText("second to shared", { room: "shared", except: [] }), 1);
    assert.equal(second.broadcastText("second to all but s1", { except: second.get("s1") }), 0);
    assert.equal(first.broadcastText("marker"), 2);
    assert.equal(second.broadcastText("marker"), 1);
    const seen: Record<string, string[]> = {};
    for (const [name, client] of clients) {
      seen[name] = [];
      for (let message: RawMessage; (message = await client.nextMessage()).text() !== "marker";) seen[name].push(message.text());
    }
    assert.deepEqual(seen, {
      f1: ["first to all", "first to shared"],
      f2: ["first to all", "first to shared"],
      s1: ["second to shared"],
    });
    await closeAll(clients.values());
  });

  test("one controller served by two servers broadcasts to the connections of both", async (t) => {
    const hub = new Hub();
    const one = await startServer({ "/hub": hub });
    t.after(() => one.stop());
    const two = await startServer({ "/hub": hub });
    t.after(() => two.stop());
    const clients = new Map<string, RawWebSocket>([
      ["a", await one.connect("/hub?name=a&rooms=red")],
      ["b", await two.connect("/hub?name=b&rooms=red")],
      ["c", await two.connect("/hub?name=c")],
    ]);
    await waitFor(() => hub.byName.size === 3, 5_000, "every connection to register");
    assert.equal(hub.broadcastText("all"), 3);
    assert.equal(hub.broadcastText("red", { room: "red" }), 2);
    assert.equal(hub.broadcastText("red but b", { room: "red", except: hub.get("b") }), 1);
    assert.equal(hub.broadcastText("all but a", { except: hub.get("a") }), 2);
    assert.equal(hub.broadcastText("marker"), 3);
    const seen: Record<string, string[]> = {};
    for (const [name, client] of clients) {
      seen[name] = [];
      for (let message: RawMessage; (message = await client.nextMessage()).text() !== "marker";) seen[name].push(message.text());
    }
    assert.deepEqual(seen, {
      a: ["all", "red", "red but b"],
      b: ["all", "red", "all but a"],
      c: ["all", "all but a"],
    });
    await closeAll(clients.values());
  });

  test("a connection the server is closing gets no more broadcasts and is not counted", async (t) => {
    const { hub, clients } = await setup(t, { a: ["red"], b: ["red"], c: ["red"] });
    hub.get("c").close(4000, "bye");
    assert.equal(hub.broadcastText("after close"), 2);
    assert.equal(hub.broadcastText("after close, red", { room: "red" }), 2);
    assert.equal(hub.broadcastText("after close, except a", { except: hub.get("a") }), 1);
    const c = clients.get("c")!;
    const closeInfo = await c.closed;
    assert.equal(closeInfo.code, 4000);
    assert.equal(c.received, 0, "nothing was sent after close()");
    clients.delete("c");
    for (const [name, client] of clients) {
      const expected = name === "a" ? ["after close", "after close, red"] : ["after close", "after close, red", "after close, except a"];
      assert.deepEqual((await client.messages(expected.length)).map((m) => m.text()), expected, name);
    }
    await closeAll(clients.values());
  });

  test("capabilities report whether broadcasts use the runtime's native publish", () => {
    // Documents which path the tests above exercised on this runtime: Bun's publish, or the core's loop.
    assert.equal(capabilities.nativePubSub, capabilities.runtime === "bun");
  });
});
