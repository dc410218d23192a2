/**
 * The chat example speaking the switchboard wire protocol (v1): resuming
 * with `?resume=`, ping and pong, in-band join and leave (refused: one room
 * per connection), malformed protocol frames, and acknowledged sends: acked
 * once, recorded once per key and user, also across a reconnect of the same
 * session, and refusals as `ack` frames instead of `error` frames. A real
 * server through this runtime's adapter, real RFC 6455 clients.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type HistoryData, type HistoryEntry, type HistoryMeta, MemoryHistory } from "../mod.ts";
import { type ChatClient, fill, type Json, MANY, start } from "./helpers/chat-client.ts";
import { delay } from "./helpers/server.ts";

/** The `?resume=` parameter for `positions` (room -> [epoch, id]), URL-encoded JSON as the client sends it. */
function resume(positions: Record<string, [string, number]>): string {
  return `resume=${encodeURIComponent(JSON.stringify(positions))}`;
}

/** Reads `client`'s messages up to the one with `text`; the texts of the chat messages among them. */
async function textsUntil(client: ChatClient, text: string): Promise<string[]> {
  return (await client.until((m) => m.type === "message" && m.text === text)).filter((m) => m.type === "message").map((m) => m.text);
}

const ADA = "ada-0123456789abcdef";

describe("chat example: resuming with ?resume=", () => {
  test("?resume= gets exactly the missed messages with resumed: true and the room's position after them", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/res");
    const sent = await fill(a, 10);
    const epoch: string = sent[0]!.epoch;
    for (const since of [0, 1, 4, 9]) {
      const b = await chat.join(`/chat/res?${resume({ res: [epoch, since] })}`);
      assert.deepEqual(Object.keys(b.welcome.rooms), ["res"]);
      assert.deepEqual(
        [b.catchUp.resumed, b.catchUp.epoch, b.catchUp.id, b.catchUp.messages],
        [true, epoch, 10, sent.slice(since)],
        `resume at ${since}`,
      );
      await b.close();
    }
    const upToDate = await chat.join(`/chat/res?${resume({ res: [epoch, 10] })}`);
    assert.deepEqual([upToDate.catchUp.resumed, upToDate.catchUp.id, upToDate.catchUp.messages], [true, 10, []], "nothing missed");
    a.say("live");
    const live = await upToDate.nextOf("message");
    assert.deepEqual([live.text, live.id, live.epoch], ["live", 11, epoch], "live messages continue from the position");
    await Promise.all([a.close(), upToDate.close()]);
  });

  test("a position in no epoch (a room that had no log when the client came) gets the latest with resumed: false; ?since=0 reads the current epoch", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/was-empty");
    assert.deepEqual([a.catchUp.epoch, a.catchUp.id, a.catchUp.messages], ["", 0, []], "the position a client keeps for an empty room");
    const sent = await fill(a, 3);
    // The room's log may have started and been lost since the client saw it empty: not a resume
    // (the client takes the latest without a resync, having nothing to replace).
    const strict = await chat.join(`/chat/was-empty?${resume({ "was-empty": ["", 0] })}`);
    assert.deepEqual([strict.catchUp.resumed, strict.catchUp.epoch, strict.catchUp.id, strict.catchUp.messages], [false, sent[0]!.epoch, 3, sent]);
    await strict.close();
    // An older page's bare id means the current epoch, as documented.
    for (const query of ["since=0", "since=0&epoch="]) {
      const b = await chat.join(`/chat/was-empty?${query}`);
      assert.deepEqual(
        [b.catchUp.resumed, b.catchUp.epoch, b.catchUp.id, b.catchUp.messages],
        [true, sent[0]!.epoch, 3, sent],
        `${query}: every message, as a resume`,
      );
      await b.close();
    }
    const empty = await chat.join(`/chat/still-empty?${resume({ "still-empty": ["", 0] })}`);
    assert.deepEqual([empty.catchUp.resumed, empty.catchUp.epoch, empty.catchUp.id, empty.catchUp.messages], [true, "", 0, []]);
    await Promise.all([a.close(), empty.close()]);
  });

  test("a stale epoch, another room's position or a malformed ?resume= gets the latest with resumed: false; ?resume= wins over ?since=", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/stale");
    const old = await fill(a, 5, "old");
    const oldEpoch: string = old[0]!.epoch;
    await chat.chat.history.clear("stale"); // the room's log starts over: a new epoch, ids from 1 again
    const fresh = await fill(a, 3, "new");
    const newEpoch: string = fresh[0]!.epoch;
    assert.notEqual(newEpoch, oldEpoch);

    const latest = [false, newEpoch, 3, fresh];
    for (const query of [resume({ stale: [oldEpoch, 2] }), resume({ stale: [oldEpoch, 5] }), resume({ stale: ["never-issued", 1] })]) {
      const b = await chat.join(`/chat/stale?${query}`);
      assert.deepEqual([b.catchUp.resumed, b.catchUp.epoch, b.catchUp.id, b.catchUp.messages], latest, `stale: ${decodeURIComponent(query)}`);
      await b.close();
    }
    const malformed = [resume({ other: [newEpoch, 1] }), "resume=not-json", "resume=%5B1%5D", resume({ stale: [newEpoch] as unknown as [string, number] }),
      resume({ stale: [newEpoch, -1] }), resume({ stale: [newEpoch, 1.5] }), resume({ stale: [1, 1] as unknown as [string, number] })];
    for (const query of malformed) {
      const b = await chat.join(`/chat/stale?${query}`);
      assert.deepEqual(Object.keys(b.welcome.rooms), ["stale"]);
      assert.deepEqual([b.catchUp.resumed, b.catchUp.epoch, b.catchUp.id, b.catchUp.messages], latest, `no position: ${decodeURIComponent(query)}`);
      await b.close();
    }
    const both = await chat.join(`/chat/stale?${resume({ stale: [newEpoch, 1] })}&since=2&epoch=${newEpoch}`);
    assert.deepEqual([both.catchUp.resumed, both.catchUp.messages], [true, fresh.slice(1)], "the resume position, not since's");
    const resumed = await chat.join(`/chat/stale?${resume({ other: ["x", 9], stale: [newEpoch, 2] })}`);
    assert.deepEqual([resumed.catchUp.resumed, resumed.catchUp.messages], [true, fresh.slice(2)], "the entry of the connection's room");
    await Promise.all([a.close(), both.close(), resumed.close()]);
  });
});

describe("chat example: protocol frames", () => {
  test("a ping is answered with a pong, and nothing else happens", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/ping");
    const b = await chat.join("/chat/ping");
    await a.expect("user_joined");
    for (const ping of ['{"type":"ping"}', '{"type":"ping","extra":1}', '{ "type" : "ping" }']) {
      a.send(ping);
      assert.deepEqual(await a.next(), { type: "pong" }, ping);
    }
    a.say("after the pings");
    assert.deepEqual(await textsUntil(b, "after the pings"), ["after the pings"], "b heard nothing of them");
    assert.equal(await chat.chat.history.count(), 1);
    await Promise.all([a.close(), b.close()]);
  });

  test("the lobby answers a ping with a pong, and ignores anything else", async (t) => {
    const chat = await start(t);
    const lobby = await chat.watchLobby();
    assert.equal(lobby.welcome.type, "rooms_update");
    lobby.send({ type: "chat", text: "ignored" });
    lobby.send('{"type":"ping"}');
    assert.deepEqual(await lobby.next(), { type: "pong" }, "the chat frame got no answer, the ping its pong");
    await lobby.close();
  });

  test("join and leave of another room are answered with left, of its own with invalid_frame (one room per connection); it stays in its room", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/inband");
    const b = await chat.join("/chat/inband");
    await a.expect("user_joined");
    for (const frame of [{ type: "join", room: "other" }, { type: "leave", room: "nowhere" }]) {
      a.send(frame);
      const left = await a.expect("left");
      assert.deepEqual(Object.keys(left).sort(), ["reason", "room", "type"], JSON.stringify(frame));
      assert.equal(left.room, frame.room);
      assert.match(left.reason, /\/chat\/<room>/, "the reason says how to change rooms");
    }
    // `left` for its own room would be false: the client would forget its position there.
    for (const frame of [{ type: "join", room: "inband", since: { epoch: "e", id: 3 } }, { type: "leave", room: "inband" }]) {
      a.send(frame);
      const error = await a.expect("error");
      assert.equal(error.code, "invalid_frame", JSON.stringify(frame));
      assert.match(error.message, /own room.*\/chat\/<room>/);
    }
    a.say("still in inband");
    assert.deepEqual(await textsUntil(b, "still in inband"), ["still in inband"], "b heard no leave or join");
    assert.equal((await a.expect("message")).room, "inband");
    assert.equal(chat.chat.connections.size, 2);
    await Promise.all([a.close(), b.close()]);
  });

  test("malformed protocol frames and bad ack keys get an invalid_frame error and change nothing", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/malformed");
    const b = await chat.join("/chat/malformed");
    await a.expect("user_joined");
    const frames: Json[] = [
      { type: "join" },
      { type: "join", room: 42 },
      { type: "join", room: "x", since: { epoch: 1, id: 1 } },
      { type: "join", room: "x", since: { epoch: "e", id: -1 } },
      { type: "leave" },
      { type: "leave", room: null },
    ];
    for (const ack of ["", "has space", "dot.ted", "x".repeat(65), "é", 42, null, true, ["k"], { key: "k" }]) {
      frames.push({ type: "chat", text: "never recorded", ack });
    }
    frames.push({ type: "username", username: "Never", ack: "" }, { type: "typing", ack: "no/slash" });
    for (const frame of frames) {
      a.send(frame);
      await a.error("invalid_frame");
    }
    await a.flush();
    a.say("after");
    assert.deepEqual(await textsUntil(b, "after"), ["after"], "b heard nothing before this: no message, rename or typing");
    assert.equal(await chat.chat.history.count("malformed"), 1);
    await Promise.all([a.close(), b.close()]);
  });
});

describe("chat example: acknowledged sends", () => {
  test("an acked chat message is recorded and broadcast once, then acked ok; the ack key is not in the message", async (t) => {
    const chat = await start(t);
    const a = await chat.join("/chat/acked");
    const b = await chat.join("/chat/acked");
    await a.expect("user_joined");
    const key = "K".repeat(64); // the longest key
    a.send({ type: "chat", text: " acked ", ack: key });
    const atA = await a.expect("message");
    await a.ack(key);
    const atB = await b.expect("message");
    assert.deepEqual(atA, atB);
    assert.deepEqual(Object.keys(atA).sort(), ["connectionId", "epoch", "id", "room", "text", "timestamp", "type", "userId", "username"]);
    assert.deepEqual([atA.text, atA.id, atA.connectionId], ["acked", 1, a.id]);
    assert.equal(await chat.chat.history.count("acked"), 1);
    const recorded = (await chat.chat.history.recent("acked")).map((entry) => JSON.parse(entry.data as string));
    assert.deepEqual(recorded, [atA], "the history holds the message, without the key");
    await a.flush();
    await Promise.all([a.close(), b.close()]);
  });

  test("the same key again, on the same connection and after reconnecting with the same session, is acked ok but recorded and broadcast once", async (t) => {
    const chat = await start(t);
    const path = `/chat/dedupe?session=${ADA}`;
    const a = await chat.join(path);
    const b = await chat.join("/chat/dedupe");
    await a.expect("user_joined");
    a.send({ type: "chat", text: "once", ack: "key-1" });
    assert.equal((await a.expect("message")).text, "once");
    await a.ack("key-1");
    a.send({ type: "chat", text: "once", ack: "key-1" });
    await a.ack("key-1");
    a.send({ type: "chat", text: "the text is not what counts", ack: "key-1" });
    await a.ack("key-1");
    await a.flush(); // no message came with the repeats
    assert.equal(await chat.chat.history.count("dedupe"), 1);

    a.ws.destroy(); // the network went away before the page saw an ack, say: it re-sends on its new connection
    await a.ws.closed;
    const again = await chat.join(path);
    assert.equal(again.welcome.userId, a.welcome.userId, "the same user");
    again.send({ type: "chat", text: "once", ack: "key-1" });
    await again.ack("key-1");
    await again.flush();
    assert.equal(await chat.chat.history.count("dedupe"), 1, "recorded once across the reconnect");

    // A new key is a new message; another user's same key is its own.
    again.send({ type: "chat", text: "twice", ack: "key-2" });
    assert.equal((await again.expect("message")).text, "twice");
    await again.ack("key-2");
    b.send({ type: "chat", text: "b's own", ack: "key-1" });
    const atB = await b.until((m) => m.type === "ack");
    assert.deepEqual(atB.at(-1), { type: "ack", key: "key-1", ok: true });
    assert.deepEqual(atB.filter((m) => m.type === "message").map((m) => m.text), ["once", "twice", "b's own"], "b saw each message once");
    again.say("marker");
    assert.deepEqual(await textsUntil(b, "marker"), ["marker"], "and nothing more");
    assert.equal(await chat.chat.history.count("dedupe"), 4);
    await Promise.all([again.close(), b.close()]);
  });

  test("two tabs of one session sending the same key at once, under a slow history: recorded once, both acked ok", async (t) => {
    class SlowHistory extends MemoryHistory {
      // Recorded at once, answered late: the first tab's effect is still running when the second's frame is read.
      override async append<Data extends HistoryData>(room: string, data: Data | ((meta: HistoryMeta) => Data)): Promise<HistoryEntry<Data>> {
        const entry = await super.append(room, data);
        await delay(50);
        return entry;
      }
    }
    const chat = await start(t, { ...MANY, history: new SlowHistory({ size: 100 }) });
    const path = `/chat/tabs?session=${ADA}`;
    const tab1 = await chat.join(path);
    const tab2 = await chat.join(path);
    const frame = { type: "chat", text: "from both tabs", ack: "same-key" };
    tab1.send(frame);
    tab2.send(frame);
    for (const tab of [tab1, tab2]) {
      const seen = await tab.until((m) => m.type === "ack");
      assert.deepEqual(seen.map((m) => m.type), ["message", "ack"], "its one message, then the ack");
      assert.deepEqual(seen.at(-1), { type: "ack", key: "same-key", ok: true });
      await tab.flush();
    }
    assert.equal(await chat.chat.history.count("tabs"), 1);
    await Promise.all([tab1.close(), tab2.close()]);
  });

  test("an acked message refused by the rate limit gets ok: false with code rate_limited and no error frame; a plain one still gets the error", async (t) => {
    const chat = await start(t, { rateLimit: { messages: 1, windowMs: 10_000 } });
    const a = await chat.join("/chat/limited");
    const b = await chat.join("/chat/limited");
    await a.expect("user_joined");
    a.send({ type: "chat", text: "first", ack: "first" });
    assert.equal((await a.expect("message")).text, "first");
    await a.ack("first");
    a.send({ type: "chat", text: "second", ack: "second" });
    const refused = await a.ack("second", "rate_limited");
    assert.match(refused.error.message, /1 messages? in 10 s/);
    await a.flush(); // no error frame, no message
    a.say("third");
    assert.match((await a.error("rate_limited")).message, /1 messages? in 10 s/, "without an ack key: the error frame, as before");
    await a.flush();
    assert.equal(await chat.chat.history.count("limited"), 1);
    b.say("from b");
    assert.deepEqual(await textsUntil(b, "from b"), ["first", "from b"], "b heard only the accepted one");
    await Promise.all([a.close(), b.close()]);
  });

  test("a refused key is not remembered: the same key sent again once the limit allows it is recorded, once", async (t) => {
    const chat = await start(t, { rateLimit: { messages: 1, windowMs: 300 } });
    const a = await chat.join(`/chat/retry?session=${ADA}`);
    a.say("fills the window");
    await a.expect("message");
    a.send({ type: "chat", text: "retried", ack: "retry-1" });
    await a.ack("retry-1", "rate_limited");
    a.send({ type: "chat", text: "", ack: "retry-2" });
    await a.ack("retry-2", "empty_text");
    await delay(400); // the window is free again
    a.send({ type: "chat", text: "retried", ack: "retry-1" });
    assert.equal((await a.expect("message")).text, "retried", "what was refused is done now");
    await a.ack("retry-1");
    a.send({ type: "chat", text: "retried", ack: "retry-1" });
    await a.ack("retry-1");
    a.send({ type: "chat", text: "now with text", ack: "retry-2" });
    await a.ack("retry-2", "rate_limited"); // refused for what it is now, not for what it was
    await a.flush();
    assert.equal(await chat.chat.history.count("retry"), 2, "recorded once");
    await a.close();
  });

  test("acked messages the chat refuses get ok: false with the error frame's code; without a key they get the error frames", async (t) => {
    const chat = await start(t, MANY);
    const a = await chat.join("/chat/refused");
    const b = await chat.join("/chat/refused");
    await a.expect("user_joined");
    b.send({ type: "username", username: "Grace" });
    await b.expect("username_changed");
    await a.expect("username_changed");
    const refusals: [Json, string][] = [
      [{ type: "chat", text: "" }, "empty_text"],
      [{ type: "chat", text: "  \n\t " }, "empty_text"],
      [{ type: "chat" }, "empty_text"],
      [{ type: "chat", text: 42 }, "empty_text"],
      [{ type: "chat", text: "x".repeat(2001) }, "text_too_long"],
      [{ type: "shout", text: "x" }, "unknown_type"],
      [{ text: "no type" }, "unknown_type"],
      [{ type: "username", username: "<b>" }, "invalid_username"],
      [{ type: "username", username: "grace" }, "username_taken"],
    ];
    for (const [i, [frame, code]] of refusals.entries()) {
      a.send({ ...frame, ack: `refused-${i}` });
      await a.ack(`refused-${i}`, code);
    }
    await a.flush(); // acks only: no error frame
    for (const [frame, code] of refusals) {
      a.send(frame);
      await a.error(code);
    }
    await a.flush();
    // An acked rename and typing are acked ok, and do what they do.
    a.send({ type: "username", username: "Ada", ack: "rename" });
    assert.equal((await a.expect("username_changed")).username, "Ada");
    await a.ack("rename");
    a.send({ type: "typing", ack: "typing" });
    await a.ack("typing");
    assert.equal(await chat.chat.history.count("refused"), 0);
    a.say("after");
    assert.deepEqual((await b.until((m) => m.type === "message")).map((m) => m.type), ["username_changed", "typing", "message"], "b heard the rename and the typing, nothing refused");
    await Promise.all([a.close(), b.close()]);
  });
});
