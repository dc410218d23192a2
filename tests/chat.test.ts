/**
 * The chat example's protocol (issue 3), line by line, bad input included:
 * HTTP endpoints, joining rooms, messages, usernames, typing, errors, the
 * rate and size limits, catch-up with `?since=`, the lobby, and running the
 * file as a program. A real server through this runtime's adapter, real
 * RFC 6455 clients.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { MemoryHistory, type Position } from "../mod.ts";
import { listenConfig } from "../examples/chat.ts";
import { connectOrThrow, RawWebSocket } from "./helpers/raw-client.ts";
import { delay, runtime, waitFor, within } from "./helpers/server.ts";
import { assertIso, type Chat, ChatClient, fill, type Json, MANY, start } from "./helpers/chat-client.ts";
import { LatentHistory, seededRandom } from "./helpers/latent-history.ts";
import { assertCleanExit, startChatProcess } from "./helpers/chat-process.ts";

const GUEST = /^Guest-[A-Za-z0-9]{4}$/;
const CHAT_FILE = fileURLToPath(new URL("../examples/chat.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

describe("chat example: HTTP", () => {
  test("GET / and GET /chat/page serve the page, and /switchboard-client.js the client it imports", async (t) => {
    const chat = await start(t);
    for (const path of ["/", "/chat/page", "/?room=games"]) {
      const response = await chat.get(path);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get("content-type") ?? "", /^text\/html/i);
      const html = await response.text();
      assert.match(html, /^<!doctype html>/i);
      assert.match(html, /from "\/switchboard-client\.js"/);
    }
    // The client the page imports: switchboard/client's browser bundle, as it is committed.
    const script = await chat.get("/switchboard-client.js");
    assert.equal(script.status, 200);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(script.headers.get("cache-control"), "no-cache");
    assert.equal(await script.text(), await readFile(new URL("../src/client/browser/switchboard-client.js", import.meta.url), "utf8"));
    const missing = await chat.get("/nope");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });

  test("GET /health answers status ok and the uptime in seconds", async (t) => {
    const chat = await start(t);
    const response = await chat.get("/health");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const body = await response.json();
    assert.deepEqual(Object.keys(body).sort(), ["status", "uptime"]);
    assert.equal(body.status, "ok");
    assert.ok(Number.isInteger(body.uptime) && body.uptime >= 0 && body.uptime < 5, `uptime ${body.uptime}`);
  });

  test("GET /chat/stats counts users, history and users per room", async (t) => {
    const chat = await start(t);
    const empty = await (await chat.get("/chat/stats")).json();
    assert.deepEqual({ ...empty, timestamp: "" }, { users: 0, messagesInHistory: 0, rooms: {}, timestamp: "" });
    assertIso(empty.timestamp);

    const red1 = await chat.join("/chat/red");
    const red2 = await chat.join("/chat/red");
    const blue = await chat.join("/chat/blue");
    red1.say("one");
    red1.say("two");
    blue.say("three");
    await red2.nextOf("message");
    await red2.nextOf("message");
    await blue.nextOf("message");
    const stats = await (await chat.get("/chat/stats")).json();
    assert.deepEqual(Object.keys(stats).sort(), ["messagesInHistory", "rooms", "timestamp", "users"]);
    assert.equal(stats.users, 3);
    assert.equal(stats.messagesInHistory, 3);
    assert.deepEqual(stats.rooms, { red: { users: 2, messagesInHistory: 2 }, blue: { users: 1, messagesInHistory: 1 } });
    assertIso(stats.timestamp);

    await blue.close();
    await waitFor(() => chat.chat.connections.size === 2, 5_000, "blue to leave");
    let after = await (await chat.get("/chat/stats")).json();
    for (let i = 0; after.users !== 2 && i < 100; i++) after = await (await chat.get("/chat/stats")).json(); // its presence goes just after
    assert.equal(after.users, 2);
    assert.deepEqual(after.rooms.blue, { users: 0, messagesInHistory: 1 }, "a room keeps its history when empty");
    await Promise.all([red1.close(), red2.close()]);
  });
});

describe("chat example: joining", () => {
  test("/chat joins room general with a welcome: a Guest name, the users, empty history", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat");
    const w = a.welcome;
    assert.deepEqual(Object.keys(w).sort(), ["connectionId", "room", "rooms", "timestamp", "type", "userCount", "userId", "username", "users"]);
    assert.deepEqual(Object.keys(w.rooms), ["general"], "the protocol's rooms: the one room of the connection");
    assert.equal(w.room, "general");
    assert.match(w.username, GUEST);
    assert.equal(typeof w.connectionId, "string");
    assert.equal(w.connectionId, [...chat.chat.connections.keys()][0]);
    assert.equal(w.userId, w.connectionId, "without ?session= the user is its connection");
    assert.equal(w.userCount, 1);
    assert.deepEqual(w.users, [{ userId: w.userId, username: w.username }]);
    assert.deepEqual(Object.keys(a.catchUp).sort(), ["epoch", "id", "messages", "resumed"]);
    assert.deepEqual(a.catchUp.messages, []);
    assert.equal(a.catchUp.resumed, false);
    assert.equal(a.catchUp.epoch, "", "a room without messages has no epoch yet");
    assert.equal(a.catchUp.id, 0, "nor any id");
    assertIso(w.timestamp);

    const b = await chat.join("/chat");
    assert.equal(b.welcome.room, "general");
    assert.equal(b.welcome.userCount, 2);
    assert.notEqual(b.welcome.username, w.username, "guest names differ");
    assert.deepEqual(
      [...b.welcome.users].sort((x: Json, y: Json) => x.userId.localeCompare(y.userId)),
      [{ userId: a.id, username: w.username }, { userId: b.id, username: b.welcome.username }]
        .sort((x, y) => x.userId.localeCompare(y.userId)),
    );
    await Promise.all([a.close(), b.close()]);
  });

  test("/chat/<room> joins that room, and rooms do not hear each other", async (t) => {
    const chat = await start(t);
    const names = ["a", "general", "dev-ops_2", "x".repeat(32), "0-9"];
    for (const room of names) {
      const client = await chat.join(`/chat/${room}`);
      assert.equal(client.welcome.room, room);
      assert.equal(client.welcome.userCount, 1);
      await client.close();
    }
    const red = await chat.join("/chat/red");
    const blue = await chat.join("/chat/blue");
    const general = await chat.join("/chat");
    blue.say("in blue");
    assert.equal((await blue.expect("message")).room, "blue");
    red.say("in red");
    const heard = await red.expect("message");
    assert.equal(heard.text, "in red");
    general.say("in general");
    assert.equal((await general.expect("message")).text, "in general");
    // Each saw only its own room's message: the next thing blue hears is blue's.
    blue.say("blue again");
    assert.equal((await blue.expect("message")).text, "blue again");
    assert.equal(red.ws.received, 2, "red got its welcome and its own message only");
    await Promise.all([red.close(), blue.close(), general.close()]);
  });

  test("room names other than 1 to 32 of a-z 0-9 - _ are refused at upgrade with 400", async (t) => {
    const chat = await start(t);
    const bad = ["/chat/", "/chat/General", "/chat/" + "x".repeat(33), "/chat/a%20b", "/chat/a.b", "/chat/caf%C3%A9", "/chat/a/b", "/chat/%2F", "/chat/a%00"];
    for (const path of bad) {
      const result = await chat.upgrade(path);
      if (result instanceof RawWebSocket) {
        result.destroy();
        assert.fail(`${path} was accepted`);
      }
      assert.equal(result.status, 400, `${path}: ${result.status} ${result.body}`);
      assert.match(result.body, /room/);
    }
    assert.equal(chat.chat.connections.size, 0);
  });

  test("the others get user_joined and user_left with the new user count", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/room1");
    const b = await chat.join("/chat/room1");
    const joined = await a.expect("user_joined");
    assert.deepEqual(Object.keys(joined).sort(), ["timestamp", "type", "userCount", "userId", "username"]);
    assert.equal(joined.userId, b.welcome.userId);
    assert.equal(joined.username, b.welcome.username);
    assert.equal(joined.userCount, 2);
    assertIso(joined.timestamp);

    const c = await chat.join("/chat/room1");
    assert.equal((await a.expect("user_joined")).userCount, 3);
    assert.equal((await b.expect("user_joined")).userId, c.welcome.userId);

    b.ws.destroy(); // abrupt: no close frame
    for (const other of [a, c]) {
      const left = await other.expect("user_left");
      assert.deepEqual(Object.keys(left).sort(), ["timestamp", "type", "userCount", "userId", "username"]);
      assert.equal(left.userId, b.welcome.userId);
      assert.equal(left.username, b.welcome.username);
      assert.equal(left.userCount, 2);
      assertIso(left.timestamp);
    }
    await c.close();
    assert.equal((await a.expect("user_left")).userCount, 1);
    // The joiner itself got no user_joined: its next message is its own chat message.
    a.say("alone");
    assert.equal((await a.expect("message")).text, "alone");
    await a.close();
  });
});

describe("chat example: sessions and the reconnect grace", () => {
  test("?session= makes the user id: the same for every connection of the session, not the session itself; a bad one is ignored", async (t) => {
    const chat = await start(t);
    const session = "tab-0123456789abcdef";
    const first = await chat.join(`/chat/ids?session=${session}`);
    assert.match(first.welcome.userId, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(first.welcome.userId, first.id);
    assert.ok(!first.welcome.userId.includes(session));
    await first.close();
    const again = await chat.join(`/chat/ids?session=${session}`);
    assert.equal(again.welcome.userId, first.welcome.userId);
    const other = await chat.join("/chat/ids?session=tab-fedcba9876543210");
    assert.notEqual(other.welcome.userId, first.welcome.userId);
    for (const bad of ["short", "x".repeat(65), "has%20space", "dots.are.not.ok.here"]) {
      const client = await chat.join(`/chat/ids?session=${bad}`);
      assert.equal(client.welcome.userId, client.id, `session=${bad}: the connection is the user`);
      await client.close();
    }
    await Promise.all([again.close(), other.close()]);
  });

  test("a page back with its session within presenceGrace keeps its name and nobody is told; gone for longer, it is announced once", async (t) => {
    const grace = 400;
    const chat = await start(t, { presenceGrace: grace });
    const path = "/chat/grace?session=ada-0123456789abcdef";
    const ada = await chat.join(path);
    const bob = await chat.join("/chat/grace");
    await ada.expect("user_joined");
    ada.send({ type: "username", username: "Ada" });
    await ada.expect("username_changed");
    await bob.expect("username_changed");

    ada.ws.destroy(); // the network went away
    await delay(grace / 4);
    const back = await chat.join(path);
    assert.equal(back.welcome.username, "Ada", "the same name, without asking");
    assert.equal(back.welcome.userId, ada.welcome.userId);
    assert.deepEqual(back.welcome.users.map((u: Json) => u.username).sort(), ["Ada", bob.welcome.username].sort());
    await delay(grace * 2);
    bob.say("still here?");
    const heard = await bob.until((m) => m.type === "message");
    assert.deepEqual(heard.map((m) => m.type), ["message"], "bob heard no user_left nor user_joined");
    await back.nextOf("message");

    await back.close();
    const left = await within(bob.expect("user_left"), grace * 5, "the leave after the grace");
    assert.deepEqual([left.userId, left.username, left.userCount], [ada.welcome.userId, "Ada", 1]);
    await assert.rejects(bob.ws.nextMessage(grace * 2), /no message within/, "announced once");
    await bob.close();
  });

  test("two connections of one session (a duplicated tab) are one user: listed and announced once, renamed together", async (t) => {
    const chat = await start(t);
    const bob = await chat.join("/chat/tabs");
    const path = "/chat/tabs?session=ada-0123456789abcdef&username=Ada";
    const tab1 = await chat.join(path);
    assert.equal((await bob.expect("user_joined")).username, "Ada");
    const tab2 = await chat.join(path);
    assert.deepEqual([tab2.welcome.userId, tab2.welcome.username, tab2.welcome.userCount], [tab1.welcome.userId, "Ada", 2]);
    tab1.send({ type: "username", username: "Ada L" });
    for (const client of [bob, tab1, tab2]) assert.equal((await client.expect("username_changed")).username, "Ada L");
    tab2.say("from the second tab");
    assert.equal((await bob.expect("message")).username, "Ada L", "the other tab's messages carry the new name");
    await tab1.close();
    tab2.say("one tab left");
    assert.deepEqual((await bob.until((m) => m.type === "message")).map((m) => m.type), ["message"], "no user_left while a tab stays");
    await tab2.close();
    assert.equal((await bob.expect("user_left")).username, "Ada L");
    await bob.close();
  });

  test("?username= is the name at the welcome when it is valid and free, else a guest name", async (t) => {
    const chat = await start(t);
    const ada = await chat.join("/chat/wanted?username=%20Ada%20");
    assert.equal(ada.welcome.username, "Ada", "trimmed");
    const copy = await chat.join("/chat/wanted?username=ada");
    assert.match(copy.welcome.username, GUEST, "taken, ignoring case");
    const bad = await chat.join("/chat/wanted?username=%3Cb%3E");
    assert.match(bad.welcome.username, GUEST, "invalid");
    const elsewhere = await chat.join("/chat/wanted-2?username=Ada");
    assert.equal(elsewhere.welcome.username, "Ada", "names are per room");
    await Promise.all([ada, copy, bad, elsewhere].map((client) => client.close()));
  });
});

describe("chat example: messages", () => {
  test("a chat message reaches everyone in the room, sender included, with its history id", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/talk");
    const b = await chat.join("/chat/talk");
    await a.expect("user_joined");
    a.say("hello");
    const atA = await a.expect("message");
    const atB = await b.expect("message");
    assert.deepEqual(atA, atB);
    assert.deepEqual(Object.keys(atA).sort(), ["connectionId", "epoch", "id", "room", "text", "timestamp", "type", "userId", "username"]);
    assert.equal(atA.id, 1);
    assert.equal(atA.epoch, (await chat.chat.history.position("talk")).epoch, "the history's epoch of the room");
    assert.ok(atA.epoch.length > 0);
    assert.equal(atA.connectionId, a.id);
    assert.equal(atA.userId, a.welcome.userId);
    assert.equal(atA.username, a.welcome.username);
    assert.equal(atA.text, "hello");
    assert.equal(atA.room, "talk");
    assertIso(atA.timestamp);
    b.say("hi");
    const reply = await a.expect("message");
    assert.deepEqual(await b.expect("message"), reply);
    assert.deepEqual([reply.id, reply.connectionId, reply.username], [2, b.id, b.welcome.username]);
    const recorded = (await chat.chat.history.recent("talk")).map((entry) => JSON.parse(entry.data as string));
    assert.deepEqual(recorded, [atA, reply], "the history holds the very messages sent");
    await Promise.all([a.close(), b.close()]);
  });

  test("text is trimmed and 1 to 2000 characters; empty or too long is an error and changes nothing", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/t");
    const b = await chat.join("/chat/t");
    await a.expect("user_joined");

    a.say("  \n padded \t ");
    assert.equal((await a.expect("message")).text, "padded");
    await b.expect("message");
    a.say("x".repeat(2000));
    assert.equal((await a.expect("message")).text.length, 2000);
    await b.expect("message");
    const emoji = "😀".repeat(2000); // 2000 characters, 4000 UTF-16 units
    a.say(emoji);
    assert.equal((await a.expect("message")).text, emoji);
    await b.expect("message");

    for (const bad of [{ text: "" }, { text: "   \n\t " }, {}, { text: 42 }, { text: null }, { text: ["x"] }]) {
      a.send({ type: "chat", ...bad });
      await a.error("empty_text");
    }
    a.say("x".repeat(2001));
    await a.error("text_too_long");
    a.say(" " + "😀".repeat(2001) + " ");
    await a.error("text_too_long");

    // Nothing reached the room or the history; the connection still works.
    assert.equal(await chat.chat.history.count("t"), 3);
    a.say("still here");
    assert.equal((await b.expect("message")).text, "still here");
    assert.equal((await a.expect("message")).id, 4);
    await Promise.all([a.close(), b.close()]);
  });

  test("invalid JSON, unknown types and binary messages get errors; the connection stays open", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/errors");
    const b = await chat.join("/chat/errors");
    await a.expect("user_joined");

    for (const text of ["not json", "{", "", '{"type":"chat","text":"x"', "{'type':'chat'}"]) {
      a.send(text);
      await a.error("invalid_json");
    }
    for (const value of [{ type: "shout", text: "x" }, { text: "no type" }, { type: 1 }, { type: "CHAT", text: "x" }, [], [{ type: "chat" }], "chat", 42, null, true]) {
      a.send(JSON.stringify(value));
      await a.error("unknown_type");
    }
    a.ws.sendBinary(new Uint8Array([123, 125]));
    await a.error("binary_not_supported");

    assert.equal(await chat.chat.history.count(), 0);
    a.say("after the errors");
    assert.equal((await b.expect("message")).text, "after the errors", "b heard nothing before this");
    assert.equal((await a.expect("message")).id, 1);
    await Promise.all([a.close(), b.close()]);
  });

  test("typing goes to the others in the room, not to the sender", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/typing");
    const b = await chat.join("/chat/typing");
    const c = await chat.join("/chat/typing");
    const elsewhere = await chat.join("/chat/other");
    await a.expect("user_joined");
    await a.expect("user_joined");
    await b.expect("user_joined");

    a.send({ type: "typing" });
    for (const other of [b, c]) {
      const typing = await other.expect("typing");
      assert.deepEqual(typing, { type: "typing", connectionId: a.id, userId: a.welcome.userId, username: a.welcome.username });
    }
    a.say("done typing");
    assert.equal((await a.expect("message")).text, "done typing", "the sender got no typing");
    elsewhere.say("other room");
    assert.equal((await elsewhere.expect("message")).text, "other room", "another room got no typing");
    await Promise.all([a, b, c, elsewhere].map((client) => client.close()));
  });
});

describe("chat example: usernames", () => {
  test("a rename reaches everyone as username_changed and names later messages", async (t) => {
    const chat = await start(t, MANY); // more renames than the default limit allows
    const a = await chat.join("/chat/names");
    const b = await chat.join("/chat/names");
    await a.expect("user_joined");
    const guest = a.welcome.username;

    a.send({ type: "username", username: "  Ada Lovelace " });
    for (const client of [a, b]) {
      const changed = await client.expect("username_changed");
      assert.deepEqual(Object.keys(changed).sort(), ["connectionId", "oldUsername", "timestamp", "type", "userId", "username"]);
      assert.equal(changed.connectionId, a.id);
      assert.equal(changed.userId, a.welcome.userId);
      assert.equal(changed.oldUsername, guest);
      assert.equal(changed.username, "Ada Lovelace");
      assertIso(changed.timestamp);
    }
    a.say("hi");
    assert.equal((await b.expect("message")).username, "Ada Lovelace");
    await a.expect("message");

    for (const name of ["José", "x", "a".repeat(32), "R2-D2", "dot.name_1", "Ελένη", "٣"]) {
      a.send({ type: "username", username: name });
      assert.equal((await b.expect("username_changed")).username, name);
      await a.expect("username_changed");
    }
    const c = await chat.join("/chat/names");
    assert.ok(c.welcome.users.some((u: Json) => u.userId === a.welcome.userId && u.username === "٣"), "newcomers see the new name");
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test("bad usernames are refused and change nothing", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/badnames");
    const b = await chat.join("/chat/badnames");
    await a.expect("user_joined");
    const bad: unknown[] = ["", "   ", "a".repeat(33), "<b>x</b>", "a\nb", "tab\there", "emoji😀", "semi;colon", "quote\"", "@x", 42, null, undefined, ["x"]];
    for (const username of bad) {
      a.send({ type: "username", username });
      await a.error("invalid_username");
    }
    a.say("same name");
    const message = await b.expect("message");
    assert.equal(message.username, a.welcome.username, "b got no username_changed, and the name is unchanged");
    await Promise.all([a.close(), b.close()]);
  });

  test("a name taken in the room (ignoring case) is refused; in another room, or once freed, it is fine", async (t) => {
    const chat = await start(t, MANY); // more renames than the default limit allows
    const a = await chat.join("/chat/unique");
    const b = await chat.join("/chat/unique");
    const elsewhere = await chat.join("/chat/elsewhere");
    await a.expect("user_joined");
    a.send({ type: "username", username: "Grace" });
    await a.expect("username_changed");
    await b.expect("username_changed");

    for (const name of ["Grace", "grace", "GRACE", " Grace "]) {
      b.send({ type: "username", username: name });
      await b.error("username_taken");
    }
    b.send({ type: "username", username: a.welcome.username });
    assert.equal((await b.expect("username_changed")).username, a.welcome.username, "a's old guest name is free again");
    await a.expect("username_changed");
    a.send({ type: "username", username: "GRACE" });
    assert.equal((await a.expect("username_changed")).username, "GRACE", "changing the case of one's own name is fine");
    await b.expect("username_changed");

    elsewhere.send({ type: "username", username: "grace" });
    assert.equal((await elsewhere.expect("username_changed")).username, "grace", "other rooms are independent");

    await a.close();
    await b.expect("user_left");
    b.send({ type: "username", username: "Grace" });
    assert.equal((await b.expect("username_changed")).username, "Grace", "a name is free once its user left");
    await Promise.all([b.close(), elsewhere.close()]);
  });
});

describe("chat example: limits", () => {
  test("by default 20 chat messages per connection in 10 s: the rest of a burst gets errors", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/burst");
    const b = await chat.join("/chat/burst");
    await a.expect("user_joined");
    for (let i = 0; i < 25; i++) a.say(`burst ${i}`);
    for (let i = 0; i < 20; i++) assert.equal((await a.expect("message")).text, `burst ${i}`);
    for (let i = 0; i < 5; i++) await a.error("rate_limited");
    for (let i = 0; i < 20; i++) assert.equal((await b.expect("message")).text, `burst ${i}`);
    assert.equal(await chat.chat.history.count("burst"), 20);

    // The limit is per connection: b may still talk, and a's other messages still work.
    b.say("b is fine");
    assert.equal((await a.expect("message")).text, "b is fine");
    await b.expect("message");
    a.send({ type: "typing" });
    assert.equal((await b.expect("typing")).connectionId, a.id);
    a.say("still limited");
    await a.error("rate_limited");
    await Promise.all([a.close(), b.close()]);
  });

  test("the rate limit is a sliding window", async (t) => {
    const chat = await start(t, { rateLimit: { messages: 2, windowMs: 1_000 } });
    const a = await chat.join("/chat/slide");
    const started = Date.now();
    a.say("m1");
    await a.expect("message");
    await delay(600);
    a.say("m2");
    await a.expect("message");
    a.say("m3");
    await a.error("rate_limited"); // two in the last second
    await delay(Math.max(0, started + 1_100 - Date.now()));
    // m1 has left the window, m2 has not: one more fits, a second does not
    // (a fixed window starting at m1 would have allowed both).
    a.say("m4");
    assert.equal((await a.expect("message")).text, "m4");
    a.say("m5");
    await a.error("rate_limited");
    await a.close();
  });

  test("a message of 10,240 bytes is read; one of 10,241 bytes closes the connection with 1009", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/size");
    const frame = (bytes: number) => {
      const head = '{"type":"chat","text":"';
      const tail = '"}';
      return head + "a".repeat(bytes - head.length - tail.length) + tail;
    };
    assert.equal(new TextEncoder().encode(frame(10_240)).byteLength, 10_240);
    a.send(frame(10_240));
    await a.error("text_too_long"); // read and answered: not closed
    a.send(frame(10_241));
    const closed = await within(a.ws.closed, 5_000, "the close");
    assert.equal(closed.code, 1009);
    await waitFor(() => chat.chat.connections.size === 0, 5_000, "the connection to go");
  });
});

describe("chat example: catch-up", () => {
  test("welcome.rooms[room].messages holds the room's last 100 messages, oldest first, as objects", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/history");
    const sent = await fill(a, 130);
    const b = await chat.join("/chat/history");
    assert.equal(b.catchUp.resumed, false);
    assert.equal(b.catchUp.messages.length, 100);
    assert.deepEqual(b.catchUp.messages, sent.slice(30), "the very message objects that were broadcast, ids 31 to 130");
    assert.deepEqual(b.catchUp.messages.map((m: Json) => m.id), Array.from({ length: 100 }, (_, i) => i + 31));
    assert.deepEqual([b.catchUp.epoch, b.catchUp.id], [sent[0]!.epoch, 130], "the room's position after them");
    const other = await chat.join("/chat/history-2");
    assert.deepEqual(other.catchUp.messages, [], "history is per room");
    await Promise.all([a.close(), b.close(), other.close()]);
  });

  test("?since=<id> without an epoch (as older pages send) gets exactly the missed messages with resumed: true", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/resume");
    const sent = await fill(a, 10);
    for (const since of [0, 1, 7, 9]) {
      const b = await chat.join(`/chat/resume?since=${since}`);
      assert.equal(b.catchUp.resumed, true, `since=${since}`);
      assert.deepEqual(b.catchUp.messages, sent.slice(since), `since=${since}`);
      await b.close();
    }
    const upToDate = await chat.join("/chat/resume?since=10");
    assert.equal(upToDate.catchUp.resumed, true);
    assert.deepEqual(upToDate.catchUp.messages, [], "nothing missed: an empty list");
    const empty = await chat.join("/chat/empty-room?since=0");
    assert.equal(empty.catchUp.resumed, true);
    assert.deepEqual(empty.catchUp.messages, []);
    await Promise.all([a.close(), upToDate.close(), empty.close()]);
  });

  test("?since=<id>&epoch=<epoch> resumes within that epoch; a stale epoch gets the latest history with resumed: false", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/epochs");
    const old = await fill(a, 5, "old");
    const oldEpoch: string = old[0]!.epoch;
    assert.ok(old.every((m) => m.epoch === oldEpoch), "one epoch for the room's messages");
    const same = await chat.join(`/chat/epochs?since=3&epoch=${oldEpoch}`);
    assert.deepEqual([same.catchUp.resumed, same.catchUp.epoch, same.catchUp.id, same.catchUp.messages], [true, oldEpoch, 5, old.slice(3)]);
    await same.close();

    // The room's log starts over, as after a restart, an eviction or a failover: a new epoch,
    // whose ids start at 1 again.
    await chat.chat.history.clear("epochs");
    const fresh = await fill(a, 3, "new");
    const newEpoch: string = fresh[0]!.epoch;
    assert.notEqual(newEpoch, oldEpoch);
    assert.deepEqual(fresh.map((m) => [m.id, m.epoch]), [[1, newEpoch], [2, newEpoch], [3, newEpoch]]);
    // since=2 names a message of each epoch: only the epoch tells that "new2" is not what the
    // client saw as 2, so it must get the latest, not "new3" as a resume.
    for (const query of [`since=5&epoch=${oldEpoch}`, `since=2&epoch=${oldEpoch}`, `since=0&epoch=${oldEpoch}`, "since=1&epoch=never-issued"]) {
      const stale = await chat.join(`/chat/epochs?${query}`);
      assert.equal(stale.catchUp.resumed, false, query);
      assert.equal(stale.catchUp.epoch, newEpoch, query);
      assert.equal(stale.catchUp.id, 3, query);
      assert.deepEqual(stale.catchUp.messages, fresh, `${query}: the latest history`);
      await stale.close();
    }
    const resumed = await chat.join(`/chat/epochs?since=1&epoch=${newEpoch}`);
    assert.deepEqual([resumed.catchUp.resumed, resumed.catchUp.messages], [true, fresh.slice(1)]);
    const bare = await chat.join("/chat/epochs?since=2");
    assert.deepEqual([bare.catchUp.resumed, bare.catchUp.messages], [true, fresh.slice(2)], "a bare id is read in the current epoch");
    await Promise.all([a.close(), resumed.close(), bare.close()]);
  });

  test("when the gap can no longer be filled: the last 100 with resumed: false", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/gap");
    const sent = await fill(a, 105);
    const latest = sent.slice(5);
    const fillable = await chat.join("/chat/gap?since=5");
    assert.equal(fillable.catchUp.resumed, true, "100 missed: still in the history");
    assert.deepEqual(fillable.catchUp.messages, latest);
    for (const since of ["4", "0", "106", "999999", "-1", "abc", "1.5", "", "1e3"]) {
      const b = await chat.join(`/chat/gap?since=${since}`);
      assert.equal(b.catchUp.resumed, false, `since=${since}`);
      assert.deepEqual(b.catchUp.messages, latest, `since=${since}`);
      await b.close();
    }
    await Promise.all([a.close(), fillable.close()]);
  });

  test("a client that drops and reconnects with since misses no message and gets none twice", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/race");
    const b = await chat.join("/chat/race");
    await a.expect("user_joined");
    const seen = await fill(b, 5, "before");
    for (const message of seen) assert.deepEqual(await a.expect("message"), message);
    const lastSeen = seen.at(-1)!.id;

    a.ws.destroy(); // the network went away
    await b.expect("user_left");
    // b keeps talking while a reconnects: some messages land before a's catch-up is read,
    // some while it is, some after a joined.
    for (let i = 0; i < 20; i++) b.say(`during ${i}`);
    const rejoin = chat.join(`/chat/race?since=${lastSeen}`);
    for (let i = 20; i < 40; i++) b.say(`during ${i}`);
    const again = await rejoin;
    assert.equal(again.catchUp.resumed, true);
    const ids: number[] = again.catchUp.messages.map((m: Json) => m.id);
    while (ids.at(-1) !== lastSeen + 40) {
      const message = await again.next();
      if (message.type === "message") ids.push(message.id);
    }
    assert.deepEqual(ids, Array.from({ length: 40 }, (_, i) => lastSeen + 1 + i), "every missed id once, in order");
    b.say("after");
    assert.equal((await again.nextOf("message")).text, "after", "no message came twice after the catch-up");
    await Promise.all([again.close(), b.close()]);
  });

  test("with a slow history, messages recorded while a client's catch-up is read still reach it exactly once", async (t) => {
    // A store whose reads answer late, like a remote one: a read reflects the moment it was
    // made, and messages recorded before it resolves are not in it.
    class SlowHistory extends MemoryHistory {
      override async since(room: string, since: Position | number) {
        const result = await super.since(room, since);
        await delay(40);
        return result;
      }
      override async recent(room: string, limit?: number) {
        const result = await super.recent(room, limit);
        await delay(40);
        return result;
      }
    }
    const chat = await start(t, { ...MANY, history: new SlowHistory({ size: 100 }) });
    const b = await chat.join("/chat/slow");
    let seen = (await fill(b, 3, "before")).at(-1)!; // what b saw last
    for (const resume of ["since and epoch", "since alone", "no since"]) {
      // Each resume starts one message back, so that its catch-up has one message in it.
      const since = `since=${seen.id - 1}`;
      const path = resume === "since and epoch" ? `/chat/slow?${since}&epoch=${seen.epoch}` : resume === "since alone" ? `/chat/slow?${since}` : "/chat/slow";
      const joining = chat.join(path);
      await delay(10); // the catch-up read is under way
      b.say(`during ${path}`);
      const a = await joining;
      const texts: string[] = a.catchUp.messages.map((m: Json) => m.text);
      while (!texts.includes(`during ${path}`)) texts.push((await a.nextOf("message")).text);
      b.say(`after ${path}`);
      texts.push((await a.nextOf("message")).text);
      assert.equal(new Set(texts).size, texts.length, `no duplicates: ${texts}`);
      assert.deepEqual(texts.slice(-2), [`during ${path}`, `after ${path}`]);
      if (resume !== "no since") assert.deepEqual(texts, [seen.text, `during ${path}`, `after ${path}`], resume);
      await a.close();
      for (let message = await b.next(); message.type !== "user_left"; message = await b.next()) {
        if (message.type === "message") seen = message;
      }
    }
    await b.close();
  });

  test("onResync starts the room again in-band: a joined frame with resumed: false and the latest history, the same user, nobody told", async (t) => {
    const chat = await start(t, { ...MANY, presenceGrace: 5_000 });
    const a = await chat.join("/chat/resync?session=ada-0123456789abcdef&username=Ada");
    const b = await chat.join("/chat/resync");
    await a.expect("user_joined");
    const sent = await fill(b, 3);
    for (const message of sent) assert.deepEqual(await a.expect("message"), message);
    const conn = chat.chat.connections.get(a.id)!;
    await chat.chat.onResync(conn, "resync", { epoch: sent[0]!.epoch, id: 3 });
    const again = await a.expect("joined");
    assert.deepEqual(Object.keys(again).sort(), ["epoch", "id", "messages", "resumed", "room", "type"]);
    assert.deepEqual([again.room, again.resumed, again.epoch, again.id], ["resync", false, sent[0]!.epoch, 3]);
    assert.deepEqual(again.messages, sent, "the room's latest, to show instead");
    b.say("after");
    const after = await a.expect("message");
    assert.deepEqual([after.text, after.id, after.username], ["after", 4, b.welcome.username], "live messages go on from the joined position, once");
    a.say("still Ada");
    const own = await a.expect("message");
    assert.deepEqual([own.connectionId, own.userId, own.username], [a.id, a.welcome.userId, "Ada"], "the same connection and user");
    assert.deepEqual((await b.until((m) => m.type === "message")).map((m) => m.type), ["message"], "b heard no leave or join");
    await Promise.all([a.close(), b.close()]);
  });

  test("when the history fails, the joining client is closed with 1011 (so that the page retries) and nobody is told it joined", async (t) => {
    const history = new MemoryHistory();
    const failure = new Error("store down");
    history.position = () => Promise.reject(failure);
    const chat = await start(t, { history });
    const errors: Error[] = [];
    chat.chat.onError = (_conn, error) => void errors.push(error); // instead of logging
    const lobby = await chat.watchLobby();
    const ws = await connectOrThrow(`ws://127.0.0.1:${chat.server.port}/chat/down`);
    const closed = await within(ws.closed, 5_000, "the close");
    assert.deepEqual([closed.code, closed.reason], [1011, "History unavailable"]);
    await waitFor(() => errors.length > 0, 5_000, "onError");
    assert.equal((errors[0] as Error & { code?: string }).code, "HISTORY_FAILED");
    assert.equal(errors[0]!.cause, failure);
    await assert.rejects(lobby.ws.nextMessage(100), /no message within/, "the lobby heard of nobody");
    await lobby.close();
  });

  test("under a History with random latency, clients that keep dropping and resuming with since and epoch miss nothing and get nothing twice", async (t) => {
    // Appends and reads answer after 0-8 ms each, out of order, like a remote store.
    const history = new LatentHistory({ size: 1_000, maxLatency: 8, random: seededRandom(20_251) });
    const chat = await start(t, { ...MANY, history });
    const talkers = [await chat.join("/chat/latent"), await chat.join("/chat/latent")];
    const total = 80;
    const talking = (async () => {
      for (let i = 0; i < total; i++) {
        talkers[i % 2]!.say(`m${i}`);
        await delay(2);
      }
    })();
    const pick = seededRandom(7);
    const readers = await within(
      Promise.all([0, 1, 2].map(() => readWhileReconnecting(chat, "/chat/latent", total, () => 1 + Math.floor(pick() * 8)))),
      20_000,
      "the readers to see every message",
    );
    await talking;
    const everyId = Array.from({ length: total }, (_, i) => i + 1);
    for (const [i, reader] of readers.entries()) {
      assert.deepEqual(reader.ids, everyId, `reader ${i}: every id once, in order`);
      assert.ok(reader.sessions >= 5, `reader ${i} reconnected often enough to matter: ${reader.sessions} connections`);
      assert.equal(reader.resumes, reader.sessions - 1, `reader ${i}: every reconnect was a resume (nothing fell out of 1,000)`);
    }
    await Promise.all(talkers.map((talker) => talker.close()));
  });
});

/**
 * One client that connects, reads a few messages (`take()` of them), drops its
 * connection without a close frame and resumes from the last message it
 * read, until it has read message `total`. What was still unread when it
 * dropped is what the resume must bring. Returns every id it read, in order.
 */
async function readWhileReconnecting(
  chat: Chat,
  path: string,
  total: number,
  take: () => number,
): Promise<{ ids: number[]; sessions: number; resumes: number }> {
  const ids: number[] = [];
  let last: { id: number; epoch: string } | undefined;
  let sessions = 0;
  let resumes = 0;
  const read = (message: Json) => {
    ids.push(message.id);
    last = { id: message.id, epoch: message.epoch };
  };
  while (last?.id !== total && sessions < 200) {
    const client: ChatClient = await chat.join(last ? `${path}?since=${last.id}&epoch=${last.epoch}` : path);
    sessions++;
    if (last && client.catchUp.resumed) resumes++;
    for (const message of client.catchUp.messages) read(message);
    for (let wanted = take(); wanted > 0 && last?.id !== total;) {
      const message = await client.next();
      if (message.type !== "message") continue;
      read(message);
      wanted--;
    }
    client.ws.destroy();
    await client.ws.closed;
  }
  return { ids, sessions, resumes };
}

describe("chat example: lobby", () => {
  test("/lobby gets rooms_update on connect and after each join, leave and rename", async (t) => {
    // A short interval: the updates are coalesced (tests/chat-limits.test.ts), and here each
    // change waits for its update before the next, so each one still gets its own.
    const chat = await start(t, { lobbyInterval: 20 });
    const lobby = await chat.watchLobby();
    assert.deepEqual(Object.keys(lobby.welcome).sort(), ["rooms", "timestamp", "type"]);
    assert.deepEqual(lobby.welcome.rooms, {});
    assertIso(lobby.welcome.timestamp);

    const a = await chat.join("/chat/red");
    let update = await lobby.expect("rooms_update");
    assert.deepEqual(update.rooms, { red: { users: 1, usernames: [a.welcome.username] } });
    assertIso(update.timestamp);

    const b = await chat.join("/chat");
    update = await lobby.expect("rooms_update");
    assert.deepEqual(update.rooms, {
      red: { users: 1, usernames: [a.welcome.username] },
      general: { users: 1, usernames: [b.welcome.username] },
    });

    a.send({ type: "username", username: "Ada" });
    update = await lobby.expect("rooms_update");
    assert.deepEqual(update.rooms.red, { users: 1, usernames: ["Ada"] });

    const c = await chat.join("/chat/red");
    update = await lobby.expect("rooms_update");
    assert.deepEqual(update.rooms.red, { users: 2, usernames: ["Ada", c.welcome.username] });

    const second = await chat.watchLobby();
    assert.deepEqual(second.welcome.rooms, update.rooms, "a new lobby client gets the current rooms");

    a.say("chat messages do not update the lobby");
    await a.nextOf("message");
    await a.close();
    for (const watcher of [lobby, second]) {
      update = await watcher.expect("rooms_update");
      assert.deepEqual(update.rooms, { red: { users: 1, usernames: [c.welcome.username] }, general: { users: 1, usernames: [b.welcome.username] } });
    }
    await b.close();
    update = await lobby.expect("rooms_update");
    assert.deepEqual(update.rooms, { red: { users: 1, usernames: [c.welcome.username] } }, "an empty room leaves the list");
    await Promise.all([c.close(), lobby.close(), second.close()]);
  });
});

describe("chat example: running it", () => {
  test("listenConfig reads --port, PORT and HOST, defaulting to 127.0.0.1:8080", () => {
    assert.deepEqual(listenConfig([], {}), { port: 8080, hostname: "127.0.0.1" });
    assert.deepEqual(listenConfig([], { PORT: "9000", HOST: "0.0.0.0" }), { port: 9000, hostname: "0.0.0.0" });
    assert.deepEqual(listenConfig(["--port", "9001"], { PORT: "9000" }), { port: 9001, hostname: "127.0.0.1" });
    assert.deepEqual(listenConfig(["--port=0"], {}), { port: 0, hostname: "127.0.0.1" });
    assert.deepEqual(listenConfig([], { PORT: "" }), { port: 8080, hostname: "127.0.0.1" });
    for (const args of [["--port"], ["--port", "x"], ["--port=70000"], ["--port", "-1"], ["--port", "80.5"]]) {
      assert.throws(() => listenConfig(args, {}), RangeError, args.join(" "));
    }
    assert.throws(() => listenConfig([], { PORT: "eighty" }), /port must be a number from 0 to 65535: current value is 'eighty'/);
  });

  test("the file runs as a program on the runtime running the tests, prints the page URL and stops on SIGTERM", async () => {
    const chat = await startChatProcess();
    try {
      const lines = chat.stdout().trim().split("\n");
      assert.equal(lines.length, 1, `one line on start: ${chat.stdout()}`);
      assert.ok(chat.url, `the line ends with the page URL: ${lines[0]}`);
      assert.match(lines[0]!, new RegExp(`\\(${runtime}\\)`), "it names the runtime, and no Redis");
      const page = await fetch(chat.url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /switchboard chat/);
      assert.deepEqual((await (await fetch(`${chat.url}health`)).json()).status, "ok");
      const client = await connectOrThrow(chat.url.replace("http:", "ws:") + "chat");
      assert.equal(JSON.parse((await client.nextMessage()).text()).type, "welcome");
      const exiting = chat.stop();
      const closed = await within(client.closed, 10_000, "the server to close the client");
      assert.equal(closed.code, 1001, "clients are told the server is going away");
      assertCleanExit(await exiting);
    } finally {
      await chat.stop();
    }
  });

  test("plain `deno run` without permissions exits with one line naming the flags", async () => {
    const deno = fileURLToPath(new URL("../node_modules/.bin/deno", import.meta.url));
    const child = spawn(deno, ["run", CHAT_FILE], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"], // no terminal: Deno cannot ask, so it refuses
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const code = await within(new Promise<number | null>((resolve) => child.on("exit", resolve)), 30_000, "deno to exit")
      .finally(() => {
        if (child.exitCode === null) child.kill("SIGKILL");
      });
    assert.equal(code, 1);
    assert.equal(stdout, "");
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line: ${stderr}`);
    for (const flag of ["--allow-net", "--allow-read", "--allow-env", "-A"]) assert.ok(lines[0]!.includes(flag), `${flag} in: ${lines[0]}`);
  });
});
