/**
 * The chat example against abuse from outside: every message kind has its
 * own limit per connection and per client address, and the lobby's updates
 * are coalesced, so that one client can neither make the server send to a
 * whole room at its own rate nor get a fresh budget by reconnecting, and the
 * others keep being served. A real server through this runtime's adapter,
 * real RFC 6455 clients, all from 127.0.0.1.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChatController, type RateLimit } from "../examples/chat.ts";
import { KeyedWindows } from "../src/protocol/mod.ts";
import { type ChatClient, fill, type Json, MANY, start } from "./helpers/chat-client.ts";
import { within } from "./helpers/server.ts";

const LOTS: RateLimit = { messages: 10_000, windowMs: 1_000 };

/** Reads `client`'s messages until one passes `done`; returns all of them, that one last. */
async function readUntil(client: ChatClient, done: (message: Json) => boolean, max = 10_000): Promise<Json[]> {
  const seen: Json[] = [];
  for (let i = 0; i < max; i++) {
    const message = await client.next();
    seen.push(message);
    if (done(message)) return seen;
  }
  throw new Error(`no matching message within ${max}`);
}

/** Bytes the chat and its lobby have sent so far, over all their connections. */
async function bytesSent(chat: Awaited<ReturnType<typeof start>>): Promise<number> {
  const [room, lobby] = await Promise.all([chat.chat.stats(), chat.lobby.stats()]);
  return room.bytesOut + lobby.bytesOut;
}

describe("chat example: limits on every kind of message", () => {
  test("renames and typing have their own limits: renames past it get rate_limited and change nothing, typing past it is dropped", async (t) => {
    const two: RateLimit = { messages: 2, windowMs: 10_000 };
    const chat = await start(t, {
      limits: { chat: { messages: 3, windowMs: 10_000 }, username: two, typing: two },
      addressLimits: { chat: LOTS, username: LOTS, typing: LOTS },
    });
    const a = await chat.join("/chat/kinds");
    const b = await chat.join("/chat/kinds");
    await a.expect("user_joined");

    for (const username of ["One", "Two", "Three"]) a.send({ type: "username", username });
    assert.equal((await a.expect("username_changed")).username, "One");
    assert.equal((await a.expect("username_changed")).username, "Two");
    const refused = await a.error("rate_limited");
    assert.match(refused.message, /2 renames in 10 s/);
    a.say("after the renames");
    assert.deepEqual(
      (await readUntil(b, (m) => m.type === "message")).map((m) => m.username ?? m.text),
      ["One", "Two", "Two"],
      "b heard two renames, and the name stayed Two",
    );
    await a.expect("message");

    for (let i = 0; i < 3; i++) a.send({ type: "typing" });
    a.say("after typing");
    assert.deepEqual((await readUntil(b, (m) => m.type === "message")).map((m) => m.type), ["typing", "typing", "message"]);
    assert.equal((await a.next()).text, "after typing", "no reply to the dropped typing notice");

    // Chat has its own window: the renames and typing notices used none of it.
    a.say("third");
    a.say("fourth");
    assert.equal((await a.expect("message")).text, "third");
    assert.match((await a.error("rate_limited")).message, /3 messages in 10 s/);
    await Promise.all([a.close(), b.close()]);
  });

  test("a limit that is not whole messages in a positive window is a RangeError when the chat is created", () => {
    const bad: [string, () => unknown][] = [
      ["limits.typing", () => new ChatController({ limits: { typing: { messages: -1, windowMs: 1_000 } } })],
      ["limits.chat", () => new ChatController({ rateLimit: { messages: 1.5, windowMs: 1_000 } })],
      ["limits.username", () => new ChatController({ limits: { username: { messages: 1, windowMs: 0 } } })],
      ["addressLimits.username", () => new ChatController({ addressLimits: { username: { messages: 1, windowMs: 0 } } })],
      ["maxAddresses", () => new ChatController({ maxAddresses: 0 })],
      ["lobbyInterval", () => new ChatController({ lobbyInterval: Number.NaN })],
    ];
    for (const [option, create] of bad) assert.throws(create, (error: Error) => error instanceof RangeError && error.message.includes(`'${option}`), option);
  });

  test("one client's flood of renames and typing in a room of 50: the bytes sent stay bounded and another member's round trip stays fast", async (t) => {
    // Default limits; a short lobby interval only to keep the test short.
    const chat = await start(t, { lobbyInterval: 200 });
    const lobby = await chat.watchLobby();
    const flooder = await chat.join("/chat/crowd");
    const healthy = await chat.join("/chat/crowd");
    const members: ChatClient[] = [flooder, healthy];
    while (members.length < 50) members.push(await chat.join("/chat/crowd"));
    await within(readUntil(lobby, (m) => m.rooms.crowd?.users === 50), 5_000, "the lobby to see 50 users");
    const before = await bytesSent(chat);

    const renames = 2_000;
    for (let i = 0; i < renames; i++) {
      flooder.send({ type: "username", username: `Flood ${i}` });
      flooder.send({ type: "typing" });
    }
    flooder.say("flood sent");
    // Meanwhile a healthy member chats, and its own message must come back quickly each time.
    const roundTrips: number[] = [];
    for (let i = 0; i < 5; i++) {
      const sent = Date.now();
      healthy.say(`healthy ${i}`);
      await within(readUntil(healthy, (m) => m.type === "message" && m.text === `healthy ${i}`), 5_000, "the healthy echo");
      roundTrips.push(Date.now() - sent);
    }
    const flood = await within(readUntil(flooder, (m) => m.type === "message" && m.text === "flood sent", 3 * renames), 10_000, "the flood to be handled");
    const sent = (await bytesSent(chat)) - before;

    const limited = flood.filter((m) => m.type === "error" && m.code === "rate_limited").length;
    const renamed = flood.filter((m) => m.type === "username_changed").length;
    assert.equal(renamed, 5, "the default: 5 renames in 10 s");
    assert.equal(limited, renames - 5, "every other rename refused, typing dropped without a reply");
    // Unlimited, this was 25 MB: each rename to 50 members plus the lobby's user list, each
    // typing notice to 49. Limited it is 375 KB: 5 renames and 10 typing notices to the room,
    // the refusals to the flooder alone, a few lobby updates.
    assert.ok(sent < 600_000, `sent ${sent} bytes during the flood`);
    // Measured here: at most 65 ms limited; unlimited the first one took 700-930 ms on Node and
    // Deno (about 200 ms on Bun, so the bytes above are what fails there).
    assert.ok(Math.max(...roundTrips) < 500, `round trips ${roundTrips.join(", ")} ms`);
    const updates = await within(readUntil(lobby, (m) => m.rooms.crowd?.usernames.includes("Flood 4")), 2_000, "the lobby's final state");
    assert.equal(updates.at(-1)!.rooms.crowd.users, 50);
    assert.ok(updates.length <= 3, `${updates.length} lobby updates for the whole flood`);
    await Promise.all([...members, lobby].map((client) => client.close()));
  });

  test("lobby updates are coalesced: the first change goes out at once, later ones within the interval as one update", async (t) => {
    const interval = 200;
    const chat = await start(t, { ...MANY, lobbyInterval: interval });
    const lobby = await chat.watchLobby();
    const joined = Date.now();
    const a = await chat.join("/chat/names");
    const first = await lobby.expect("rooms_update");
    assert.ok(Date.now() - joined < interval, "the first change is not held back");
    assert.deepEqual(first.rooms.names.usernames, [a.welcome.username]);

    for (let i = 0; i < 10; i++) a.send({ type: "username", username: `Name ${i}` });
    const second = await lobby.expect("rooms_update");
    const gap = Date.parse(second.timestamp) - Date.parse(first.timestamp);
    assert.ok(gap >= interval - 5, `at most one update per interval: ${gap} ms apart`);
    assert.deepEqual(second.rooms.names.usernames, ["Name 9"], "the update at the end of the interval has the final state");
    await assert.rejects(lobby.ws.nextMessage(interval * 2), /no message within/, "and nothing more once it is quiet");
    await Promise.all([a.close(), lobby.close()]);
  });
});

describe("chat example: limits per client address", () => {
  test("short connections from one address share its budget: reconnecting does not refill it", async (t) => {
    const chat = await start(t); // default: 20 messages per connection, 60 per address, in 10 s
    const text = "x".repeat(1_000);
    let stored = 0;
    let limited = 0;
    for (let connection = 0; connection < 10; connection++) {
      const client = await chat.join("/chat/churn");
      for (let i = 0; i < 20; i++) client.say(text);
      for (let i = 0; i < 20; i++) {
        const reply = await client.next();
        if (reply.type === "message") stored++;
        else if (reply.type === "error" && reply.code === "rate_limited") limited++;
        else i--; // a join or leave of another connection
        if (reply.type === "error" && connection >= 3) assert.match(reply.message, /60 messages in 10 s per address/);
      }
      await client.close();
    }
    assert.equal(stored, 60, "the address's budget, not 10 connections × 20");
    assert.equal(limited, 140);
    assert.equal(await chat.chat.history.count("churn"), 60);
    assert.equal(chat.chat.trackedAddresses, 1, "one address: 127.0.0.1");
  });

  test("the budget of an address is shared by its open connections too, and other kinds have their own", async (t) => {
    const chat = await start(t, { limits: { chat: LOTS }, addressLimits: { chat: { messages: 4, windowMs: 10_000 } } });
    const a = await chat.join("/chat/shared");
    const b = await chat.join("/chat/shared");
    await a.expect("user_joined");
    await fill(a, 3);
    b.say("fourth");
    b.say("fifth");
    await readUntil(b, (m) => m.type === "message" && m.text === "fourth"); // after a's three
    assert.match((await b.error("rate_limited")).message, /4 messages in 10 s per address/);
    b.send({ type: "username", username: "Still Fine" });
    assert.equal((await b.expect("username_changed")).username, "Still Fine");
    await Promise.all([a.close(), b.close()]);
  });

  test("the per-address state is bounded: at most maxAddresses are kept, and an address quiet for the longest window is forgotten", () => {
    // The chat's per-address budgets are switchboard/protocol's KeyedWindows, one per kind (the chat limit's here).
    const budgets = new KeyedWindows({ messages: 2, interval: 1_000 }, 3);
    const spend = (address: string, now: number) => {
      const chat = budgets.windowOf(address, now);
      while (chat.allows(now)) chat.take(now);
    };
    spend("10.0.0.1", 0);
    assert.equal(budgets.windowOf("10.0.0.1", 999).allows(999), false, "spent within the window");
    assert.equal(budgets.windowOf("10.0.0.1", 1_000).allows(1_000), true, "free again once the window has passed");

    for (const [i, address] of ["a", "b", "c", "d", "e"].entries()) spend(address, 2_000 + i);
    assert.equal(budgets.size, 3, "never more than maxAddresses");
    assert.equal(budgets.windowOf("e", 2_010).allows(2_010), false, "the most recent keep their budgets");
    assert.equal(budgets.windowOf("a", 2_010).allows(2_010), true, "the least recently used was forgotten first");

    // 1 s (the window) after they were last used, every window is empty: forgotten.
    budgets.windowOf("f", 3_010);
    assert.equal(budgets.size, 1);
    // Refused attempts keep an address in use, so a client that keeps trying keeps its count.
    spend("g", 4_000);
    for (let now = 4_100; now < 5_000; now += 100) assert.equal(budgets.windowOf("g", now).allows(now), false, `at ${now}`);
    assert.equal(budgets.windowOf("g", 5_000).allows(5_000), true);
  });
});
