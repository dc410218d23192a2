/**
 * The chat example on two processes sharing one Redis (issue 11): each
 * "process" is a chat with its own ioredis client, RedisEngine and server in
 * this one (helpers/chat-client.ts `startShared`), and once as real
 * processes started the way the README says, with REDIS_URL. Messages,
 * resumes, user lists, renames, the lobby and /chat/stats are the same on
 * both; a page that moves to the other process within the grace is not
 * announced as gone and back, and an acknowledged message it re-sends there
 * is recorded once.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { RedisDedupe } from "../src/redis/mod.ts";
import { type Chat, type ChatClient, fill, type Json, MANY, startShared } from "./helpers/chat-client.ts";
import { assertCleanExit, startChatProcess } from "./helpers/chat-process.ts";
import { connectOrThrow } from "./helpers/raw-client.ts";
import { fastClient } from "./helpers/redis-engine.ts";
import { type RedisProcess, redisServerPath, startRedis } from "./helpers/redis-server.ts";
import { delay, within } from "./helpers/server.ts";

// CI installs redis-server (.ci/run); a machine without it skips, saying why.
const noRedis = !redisServerPath && "redis-server is not installed (not on PATH nor in /usr/bin)";

/** A Redis of its own for one test: every test starts with no rooms, presences or history. */
async function redis(t: TestContext): Promise<RedisProcess> {
  const server = await startRedis();
  t.after(() => server.stop());
  return server;
}

/** Two chat processes on one fresh Redis, which stops after them (the `after` hooks run in the order they were added). */
async function twoProcesses(t: TestContext, options: Parameters<typeof startShared>[2] = {}): Promise<[Chat, Chat]> {
  const server = await startRedis();
  try {
    return [await startShared(t, server.port, { ...MANY, ...options }), await startShared(t, server.port, { ...MANY, ...options })];
  } finally {
    t.after(() => server.stop());
  }
}

const session = (name: string): string => `${name}-session-0123456789`;
const sortedNames = (users: readonly Json[]): string[] => users.map((u) => u.username).sort();

/** `/chat/stats` of a process without its timestamp. */
async function stats(chat: Chat): Promise<Json> {
  const { timestamp: _, ...rest } = await (await chat.get("/chat/stats")).json();
  return rest;
}

/** Reads a lobby client's updates (after its first) until `done` holds for the rooms; returns those rooms. */
async function lobbyUntil(lobby: ChatClient, done: (rooms: Json) => boolean): Promise<Json> {
  const updates = await within(lobby.until((m) => m.type === "rooms_update" && done(m.rooms)), 5_000, "the lobby update");
  return updates.at(-1)!.rooms;
}

describe("chat example on two processes sharing one Redis", { skip: noRedis }, () => {
  test("a message sent on A reaches B's clients with the same id and epoch; user lists, names and /chat/stats agree on both", async (t) => {
    const [a, b] = await twoProcesses(t);
    const ada = await a.join(`/chat/talk?session=${session("ada")}&username=Ada`);
    const grace = await b.join(`/chat/talk?session=${session("grace")}&username=Grace`);
    assert.deepEqual(sortedNames(grace.welcome.users), ["Ada", "Grace"], "B lists A's user");
    const joined = await ada.expect("user_joined");
    assert.deepEqual([joined.userId, joined.username, joined.userCount], [grace.welcome.userId, "Grace", 2], "A hears of B's join, once");

    ada.say("hello from A");
    const atA = await ada.expect("message");
    const atB = await grace.expect("message");
    assert.deepEqual(atB, atA, "the very message, with its id and epoch");
    assert.equal(atA.id, 1);
    assert.equal(atA.epoch, (await b.chat.history.position("talk")).epoch, "the shared history's epoch");
    grace.say("hello from B");
    const reply = await ada.expect("message");
    assert.deepEqual(await grace.expect("message"), reply);
    assert.deepEqual([reply.id, reply.epoch, reply.username], [2, atA.epoch, "Grace"], "one sequence of ids across processes");

    // Names are unique in the room across processes, and a rename reaches both.
    grace.send({ type: "username", username: "ADA" });
    await grace.error("username_taken");
    ada.send({ type: "username", username: "Ada Lovelace" });
    for (const client of [ada, grace]) {
      const changed = await client.expect("username_changed");
      assert.deepEqual([changed.userId, changed.oldUsername, changed.username], [ada.welcome.userId, "Ada", "Ada Lovelace"]);
    }

    // A room with a user on B and no message yet is in A's stats too.
    const lone = await b.join("/chat/quiet");
    const expected = {
      users: 3,
      messagesInHistory: 2,
      rooms: { talk: { users: 2, messagesInHistory: 2 }, quiet: { users: 1, messagesInHistory: 0 } },
    };
    assert.deepEqual(await stats(a), expected);
    assert.deepEqual(await stats(b), expected);
    const newcomer = await a.join("/chat/talk");
    assert.deepEqual(sortedNames(newcomer.welcome.users), ["Ada Lovelace", "Grace", newcomer.welcome.username].sort());
    await Promise.all([ada, grace, lone, newcomer].map((client) => client.close()));
  });

  test("a client that reconnects to the other process with its position gets exactly what it missed; with its session within the grace nobody is told", async (t) => {
    const presenceGrace = 600;
    const [a, b] = await twoProcesses(t, { presenceGrace });
    const path = `/chat/move?session=${session("ada")}`;
    const ada = await a.join(`${path}&username=Ada`);
    const grace = await b.join("/chat/move");
    await ada.expect("user_joined");
    const seen = await fill(grace, 3, "seen");
    for (const message of seen) assert.deepEqual(await ada.expect("message"), message);
    const last = seen.at(-1)!;

    ada.ws.destroy(); // A's connection is gone, without a close frame
    const missed = await fill(grace, 4, "missed");
    const back = await b.join(`${path}&since=${last.id}&epoch=${last.epoch}`);
    assert.equal(back.catchUp.resumed, true);
    assert.deepEqual(back.catchUp.messages, missed, "exactly the missed messages, as B's clients got them");
    assert.deepEqual([back.welcome.userId, back.welcome.username], [ada.welcome.userId, "Ada"], "the same user, with its name");
    assert.deepEqual(sortedNames(back.welcome.users), ["Ada", grace.welcome.username].sort());
    grace.say("after");
    assert.equal((await back.expect("message")).text, "after", "live messages follow, none twice");

    // Past A's grace: A forgets its holding, but B holds the key, so it is no leave.
    await delay(presenceGrace * 2);
    grace.say("still here?");
    assert.deepEqual((await grace.until((m) => m.text === "still here?")).map((m) => m.type), ["message", "message"], "no user_left nor user_joined");
    await back.nextOf("message");

    await back.close();
    const left = await within(grace.expect("user_left"), presenceGrace * 5, "the leave after B's grace");
    assert.deepEqual([left.userId, left.username, left.userCount], [ada.welcome.userId, "Ada", 1]);
    await assert.rejects(grace.ws.nextMessage(presenceGrace), /no message within/, "announced once, by one process");
    await grace.close();
  });

  test("an acknowledged message re-sent to the other process after a cut is recorded once, with a RedisDedupe (as REDIS_URL gives)", async (t) => {
    const server = await startRedis();
    const dedupeClient = fastClient(server.port);
    let chats: Chat[];
    try {
      // One Redis client for both dedupes is enough: the keys are in Redis, not in the client.
      const dedupe = () => new RedisDedupe({ client: dedupeClient, prefix: "chat:sent:" });
      chats = [await startShared(t, server.port, { ...MANY, dedupe: dedupe() }), await startShared(t, server.port, { ...MANY, dedupe: dedupe() })];
    } finally {
      t.after(() => {
        dedupeClient.disconnect();
        return server.stop();
      });
    }
    const [a, b] = chats as [Chat, Chat];
    const path = `/chat/once?session=${session("ada")}`;
    const ada = await a.join(path);
    const grace = await b.join("/chat/once");
    await ada.expect("user_joined");
    ada.send({ type: "chat", text: "only once", ack: "key-1" });
    assert.equal((await ada.expect("message")).text, "only once");
    await ada.ack("key-1");
    ada.ws.destroy(); // the ack may as well have been lost: the page re-sends on the other process
    const back = await b.join(path);
    back.send({ type: "chat", text: "only once", ack: "key-1" });
    // Presence news may come first (the grace is 0 here): the ack is what matters.
    assert.deepEqual(await back.nextOf("ack"), { type: "ack", key: "key-1", ok: true });
    back.say("after");
    assert.deepEqual((await grace.until((m) => m.text === "after")).filter((m) => m.type === "message").map((m) => m.text), ["only once", "after"]);
    assert.equal(await a.chat.history.count("once"), 2, "recorded once, then 'after'");
    await Promise.all([back.close(), grace.close()]);
  });

  test("the lobby of each process shows the rooms of both, and follows renames and leaves on either", async (t) => {
    const [a, b] = await twoProcesses(t, { lobbyInterval: 20 });
    const lobbyA = await a.watchLobby();
    const lobbyB = await b.watchLobby();
    const red = await a.join("/chat/red");
    const blue = await b.join("/chat/blue?username=Blue");
    const both = { red: { users: 1, usernames: [red.welcome.username] }, blue: { users: 1, usernames: ["Blue"] } };
    for (const lobby of [lobbyA, lobbyB]) assert.deepEqual(await lobbyUntil(lobby, (rooms) => rooms.red && rooms.blue), both);

    blue.send({ type: "username", username: "Navy" });
    for (const lobby of [lobbyA, lobbyB]) await lobbyUntil(lobby, (rooms) => rooms.blue?.usernames[0] === "Navy");
    await red.close();
    for (const lobby of [lobbyA, lobbyB]) {
      assert.deepEqual(await lobbyUntil(lobby, (rooms) => !rooms.red), { blue: { users: 1, usernames: ["Navy"] } });
    }
    const late = await a.watchLobby();
    assert.deepEqual(late.welcome.rooms, { blue: { users: 1, usernames: ["Navy"] } }, "a new lobby client on A gets B's room");
    await Promise.all([blue, lobbyA, lobbyB, late].map((client) => client.close()));
  });

  test("while Redis is unreachable /chat/stats answers 503, and the numbers again once it is back", async (t) => {
    const server = await startRedis();
    const chat = await startShared(t, server.port);
    t.after(() => server.stop());
    assert.equal((await chat.get("/chat/stats")).status, 200);
    server.kill();
    await server.exited();
    const down = await within(chat.get("/chat/stats"), 5_000, "the answer while down");
    assert.deepEqual([down.status, await down.json()], [503, { error: "Cannot read the stats now: retry" }]);
    await server.restart();
    for (let i = 0; ; i++) {
      const response = await chat.get("/chat/stats");
      if (response.status === 200) {
        assert.deepEqual((await response.json()).rooms, {});
        break;
      }
      await response.body?.cancel();
      assert.ok(i < 100, "the stats come back within 5 s");
      await delay(50);
    }
  });

  test("examples/chat.ts as two real processes with REDIS_URL, on the runtime running the tests: one chat", { timeout: 60_000 }, async (t) => {
    const { url } = await redis(t);
    const processes = await Promise.all([startChatProcess({ REDIS_URL: url }), startChatProcess({ REDIS_URL: url })]);
    try {
      for (const chat of processes) {
        assert.ok(chat.url, `the start line ends with the page URL: ${chat.startLine}`);
        assert.match(chat.startLine, /shared through Redis/);
        assert.ok(!chat.startLine.includes(url), "the Redis URL is not printed (it may hold a password)");
      }
      const [first, second] = processes.map((chat) => chat.url.replace("http:", "ws:"));
      const join = async (base: string, path: string) => {
        const ws = await connectOrThrow(base + path);
        const welcome = JSON.parse((await ws.nextMessage()).text());
        assert.equal(welcome.type, "welcome");
        return { ws, welcome, next: async () => JSON.parse((await ws.nextMessage()).text()) };
      };
      const ada = await join(first!, `chat/real?session=${session("ada")}&username=Ada`);
      const grace = await join(second!, `chat/real?session=${session("grace")}&username=Grace`);
      assert.deepEqual(sortedNames(grace.welcome.users), ["Ada", "Grace"]);
      assert.equal((await ada.next()).type, "user_joined");
      ada.ws.sendText(JSON.stringify({ type: "chat", text: "across processes" }));
      const atAda = await ada.next();
      const atGrace = await grace.next();
      assert.deepEqual(atGrace, atAda);
      assert.deepEqual([atGrace.type, atGrace.id, atGrace.text], ["message", 1, "across processes"]);
      const [statsA, statsB] = await Promise.all(processes.map(async (chat) => (await fetch(`${chat.url}chat/stats`)).json()));
      assert.deepEqual({ ...statsA, timestamp: "" }, { ...statsB, timestamp: "" });
      assert.deepEqual(statsA.rooms, { real: { users: 2, messagesInHistory: 1 } });

      // Stopping one process closes its clients with 1001 and leaves its users to the presence
      // lease (a rolling deploy): nobody on the other process is told they left meanwhile.
      const exiting = processes[0]!.stop();
      assert.equal((await within(ada.ws.closed, 10_000, "the close")).code, 1001);
      assertCleanExit(await exiting);
      const moved = await join(second!, `chat/real?session=${session("ada")}&since=${atAda.id}&epoch=${atAda.epoch}`);
      assert.deepEqual([moved.welcome.rooms.real.resumed, moved.welcome.username, moved.welcome.rooms.real.messages], [true, "Ada", []]);
      await assert.rejects(grace.ws.nextMessage(300), /no message within/, "no user_left, no user_joined");
      assertCleanExit(await processes[1]!.stop());
    } finally {
      await Promise.all(processes.map((chat) => chat.stop()));
    }
  });
});
