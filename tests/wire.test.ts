/**
 * The wire protocol's server side: the frames the helpers build, the client
 * frames they read, the `resume` parameter, the close classes, the dedupe
 * helper, and `shutdown({ reconnectWithin })` through a real server.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ackFrame,
  type CatchUp,
  closeClass,
  type Connection,
  decodeResume,
  encodeResume,
  errorFrame,
  type ErrorFrame,
  isMessageFrame,
  joinedFrame,
  leftFrame,
  MemoryDedupe,
  MemoryHistory,
  messageFrame,
  parseClientFrame,
  PONG_FRAME,
  readResume,
  reconnectFrame,
  WebSocketController,
  welcomeFrame,
} from "../mod.ts";
import { dedupeContract } from "./helpers/dedupe-contract.ts";
import { delay, startServer, waitFor } from "./helpers/server.ts";

/** A real catch-up: `count` messages recorded as message frames in `room` of a fresh history. */
async function recorded(room: string, count: number): Promise<{ history: MemoryHistory; catchUp: CatchUp }> {
  const history = new MemoryHistory();
  for (let i = 1; i <= count; i++) await history.append(room, (meta) => messageFrame(meta, { text: `m${i}` }));
  const position = await history.position(room);
  return { history, catchUp: { complete: false, entries: await history.recent(room), position } };
}

describe("wire protocol: server frames", () => {
  test("messageFrame puts the protocol's fields first and refuses to let the application's shadow them", () => {
    const meta = { room: "general", epoch: "E1", id: 7, timestamp: 0 };
    assert.equal(messageFrame(meta, { text: "hi", n: 1 }), '{"type":"message","room":"general","epoch":"E1","id":7,"text":"hi","n":1}');
    assert.ok(isMessageFrame(JSON.parse(messageFrame(meta, {}))));
    for (const key of ["type", "room", "epoch", "id"]) {
      assert.throws(() => messageFrame(meta, { [key]: "x" }), { name: "TypeError", message: new RegExp(`'${key}' is the protocol's field`) });
    }
    assert.throws(() => messageFrame(meta, null as never), TypeError);
    // A "__proto__" field is data, not a prototype.
    assert.equal(JSON.parse(messageFrame(meta, JSON.parse('{"__proto__":{"x":1}}'))).__proto__.x, 1);
  });

  test("welcomeFrame carries each room's state: the catch-up parsed, its resumed flag and the position after it", async () => {
    const { catchUp } = await recorded("general", 3);
    const frame = JSON.parse(welcomeFrame({ general: catchUp }, { you: "c1" }));
    assert.deepEqual(Object.keys(frame), ["type", "rooms", "you"]);
    const state = frame.rooms.general;
    assert.deepEqual([state.epoch, state.id, state.resumed], [catchUp.position.epoch, 3, false]);
    assert.deepEqual(state.messages.map((m: { text: string; id: number }) => [m.id, m.text]), [[1, "m1"], [2, "m2"], [3, "m3"]]);
    assert.deepEqual(JSON.parse(welcomeFrame({})), { type: "welcome", rooms: {} });
    assert.throws(() => welcomeFrame({ general: catchUp }, { rooms: 1 }), /'rooms' is the protocol's field/);
    assert.throws(() => welcomeFrame({ general: { complete: true } as never }), /catch-up must be what conn.join/);
  });

  test("a catch-up entry that is not the room's message frame is refused by name, not sent broken", async () => {
    const history = new MemoryHistory();
    await history.append("general", "plain text");
    const catchUp: CatchUp = { complete: false, entries: await history.recent("general"), position: await history.position("general") };
    assert.throws(() => welcomeFrame({ general: catchUp }), /entry 1 of room 'general'.*messageFrame/);
    const { catchUp: other } = await recorded("elsewhere", 1);
    assert.throws(() => joinedFrame("general", other), /entry 1 of room 'general'/, "a frame of another room");
  });

  test("joined, left, ack, pong and reconnect frames", async () => {
    const { catchUp } = await recorded("r", 2);
    const joined = JSON.parse(joinedFrame("r", { ...catchUp, complete: true }));
    assert.deepEqual([joined.type, joined.room, joined.id, joined.resumed, joined.messages.length], ["joined", "r", 2, true, 2]);
    assert.deepEqual(JSON.parse(leftFrame("r")), { type: "left", room: "r" });
    assert.deepEqual(JSON.parse(leftFrame("r", "not allowed")), { type: "left", room: "r", reason: "not allowed" });
    assert.deepEqual(JSON.parse(ackFrame("k-1", { ok: true })), { type: "ack", key: "k-1", ok: true });
    assert.deepEqual(JSON.parse(ackFrame("k", { ok: false, error: { code: "rate_limited", message: "wait" } })), {
      type: "ack",
      key: "k",
      ok: false,
      error: { code: "rate_limited", message: "wait" },
    });
    assert.throws(() => ackFrame("bad key", { ok: true }), TypeError);
    assert.throws(() => ackFrame("k", { ok: false } as never), TypeError);
    assert.deepEqual(JSON.parse(PONG_FRAME), { type: "pong" });
    assert.deepEqual(JSON.parse(reconnectFrame(1234.6)), { type: "reconnect", delay: 1235 });
    assert.throws(() => reconnectFrame(-1), TypeError);
    assert.throws(() => reconnectFrame(Number.NaN), TypeError);
  });

  test("error frames: code and message, then messageType and issues only when given; bad arguments are TypeErrors", () => {
    assert.equal(errorFrame("rate_limited", "wait"), '{"type":"error","code":"rate_limited","message":"wait"}');
    const issues = [{ path: "items.0.name", message: "Required", extra: 1 }];
    const frame: ErrorFrame = JSON.parse(errorFrame("invalid_message", "Cannot handle message", { messageType: "order", issues }));
    assert.deepEqual(frame, { type: "error", code: "invalid_message", message: "Cannot handle message", messageType: "order", issues: [{ path: "items.0.name", message: "Required" }] });
    assert.deepEqual(Object.keys(JSON.parse(errorFrame("x", "y", {}))), ["type", "code", "message"]);
    assert.throws(() => errorFrame("", "y"), /'code' must be a non-empty string/);
    assert.throws(() => errorFrame("x", 1 as never), /'message' must be a string: current value is number 1/);
    assert.throws(() => errorFrame("x", "y", { messageType: 2 as never }), TypeError);
    assert.throws(() => errorFrame("x", "y", { issues: [{ path: 1 }] as never }), /'issues\[0\]' must be/);
    assert.throws(() => errorFrame("x", "y", { issues: "no" as never }), TypeError);
  });
});

describe("wire protocol: client frames", () => {
  test("ping, join (with and without since) and leave", () => {
    assert.deepEqual(parseClientFrame('{"type":"ping"}'), { kind: "ping" });
    assert.deepEqual(parseClientFrame('{"type":"join","room":"a"}'), { kind: "join", room: "a", since: undefined });
    assert.deepEqual(parseClientFrame('{"type":"join","room":"a","since":{"epoch":"E","id":4}}'), { kind: "join", room: "a", since: { epoch: "E", id: 4 } });
    assert.deepEqual(parseClientFrame('{"type":"leave","room":"a"}'), { kind: "leave", room: "a" });
  });

  test("malformed protocol frames are 'invalid' with a reason, never thrown", () => {
    for (const text of ['{"type":"join"}', '{"type":"join","room":1}', '{"type":"join","room":"a","since":{"epoch":"E","id":-1}}', '{"type":"leave"}', '{"ack":"has space"}', '{"ack":7}']) {
      const frame = parseClientFrame(text);
      assert.equal(frame.kind, "invalid", text);
      assert.match((frame as { reason: string }).reason, /^Cannot /, text);
    }
  });

  test("application frames keep their data; the ack key is split off", () => {
    assert.deepEqual(parseClientFrame('{"type":"chat","text":"hi","ack":"key_1"}'), {
      kind: "message",
      text: '{"type":"chat","text":"hi","ack":"key_1"}',
      data: { type: "chat", text: "hi" },
      ack: "key_1",
    });
    assert.deepEqual(parseClientFrame("not json"), { kind: "message", text: "not json", data: undefined, ack: undefined });
    assert.deepEqual(parseClientFrame("[1,2]"), { kind: "message", text: "[1,2]", data: [1, 2], ack: undefined });
    assert.throws(() => parseClientFrame(42 as never), TypeError);
  });
});

describe("wire protocol: resume parameter and close classes", () => {
  test("positions round-trip through encodeResume / readResume, odd room names included", () => {
    const positions = new Map([["general", { epoch: "E1", id: 41 }], ["a,b:c", { epoch: "", id: 0 }], ["__proto__", { epoch: "x", id: 1 }]]);
    const query = new URLSearchParams({ resume: encodeResume(positions) });
    assert.deepEqual([...readResume(new URLSearchParams(query.toString()))], [...positions]);
  });

  test("malformed resume values give no position rather than an error", () => {
    for (const value of [null, "", "nope", "[]", "3", '{"a":["E"]}', '{"a":["E",-1]}', '{"a":["E",1.5]}', '{"a":[1,2]}', '{"a":{"epoch":"E","id":1}}']) {
      assert.equal(decodeResume(value).size, 0, String(value));
    }
    assert.deepEqual([...decodeResume('{"ok":["E",2],"bad":["E","2"]}')], [["ok", { epoch: "E", id: 2 }]]);
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`r${i}`, ["E", i]]));
    assert.equal(decodeResume(JSON.stringify(many)).size, 64, "at most 64 rooms");
    assert.equal(decodeResume(JSON.stringify({ r: ["x".repeat(20_000), 1] })).size, 0, "a value past 16 KiB is ignored whole");
  });

  test("close classes: retry for a broken link, a restart or overload; stop for a refusal", () => {
    for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 1014, 1015, 3000, 4000, 4499]) assert.equal(closeClass(code), "retry", String(code));
    for (const code of [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4500, 4999]) assert.equal(closeClass(code), "stop", String(code));
  });
});

dedupeContract("MemoryDedupe", { make: (options) => new MemoryDedupe(options) });

describe("wire protocol: MemoryDedupe", () => {
  test("bounded by ttl and maxKeys", async () => {
    const short = new MemoryDedupe({ ttl: 30 });
    await short.run("u", "k", () => ({ ok: true }));
    assert.equal(short.size, 1);
    await delay(60);
    assert.equal(short.size, 0);
    const small = new MemoryDedupe({ maxKeys: 10 });
    for (let i = 0; i < 1000; i++) await small.run("u", `k${i}`, () => ({ ok: true }));
    assert.equal(small.size, 10);
    assert.equal((await small.run("u", "k999", () => ({ ok: true }))).duplicate, true, "the newest are kept");
    assert.throws(() => new MemoryDedupe({ ttl: 0 }), RangeError);
    assert.throws(() => new MemoryDedupe({ tll: 5 } as never), TypeError);
  });
});

describe("wire protocol: shutdown({ reconnectWithin })", () => {
  class Quiet extends WebSocketController {
    readonly conns: Connection[] = [];
    override onConnect(conn: Connection) {
      this.conns.push(conn);
    }
  }

  test("each connection is told its own delay, spread over the window, then closed with the code", async (t) => {
    const controller = new Quiet();
    const server = await startServer({ "/q": controller });
    t.after(() => server.stop());
    const clients = await Promise.all(Array.from({ length: 20 }, () => server.connect("/q")));
    await waitFor(() => controller.conns.length === 20);
    await controller.shutdown({ reconnectWithin: 10_000, code: 1012, reason: "Deploy" });
    const delays: number[] = [];
    for (const client of clients) {
      const frame = JSON.parse((await client.nextMessage()).text());
      assert.equal(frame.type, "reconnect");
      delays.push(frame.delay);
      assert.deepEqual(await client.closed.then(({ code, reason }) => [code, reason]), [1012, "Deploy"]);
    }
    assert.ok(delays.every((d) => Number.isInteger(d) && d >= 0 && d <= 10_000), String(delays));
    assert.ok(new Set(delays).size >= 18, `spread, not one delay for all: ${delays}`);
    assert.ok(Math.max(...delays) - Math.min(...delays) > 5_000, `over the window: ${delays}`);
    await assert.rejects(new Quiet().shutdown({ reconnectWithin: -1 }), RangeError);
  });
});
