/**
 * Conformance: text and binary messages, every size class and UTF-8 width,
 * reach the hooks as `string` / plain `Uint8Array` with exact content and
 * come back byte for byte; `sendJson`; the traffic counters of `stats()`.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Connection, WebSocketController } from "../mod.ts";
import type { RawMessage } from "./helpers/raw-client.ts";
import { deferred, standardWebSocket, startServer, waitFor, within } from "./helpers/server.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const encoder = new TextEncoder();

/** Deterministic pseudo-random bytes (xorshift32): a shifted or truncated copy cannot match by accident. */
function patternBytes(length: number, seed = 0x9e3779b9): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Printable ASCII text of exactly `length` bytes, not periodic. */
function patternText(length: number): string {
  const bytes = patternBytes(length, 0x1234567);
  let text = "";
  const chunk: number[] = [];
  for (let i = 0; i < length; i++) {
    chunk.push(0x21 + (bytes[i]! % 94));
    if (chunk.length === 8192 || i === length - 1) {
      text += String.fromCharCode(...chunk);
      chunk.length = 0;
    }
  }
  return text;
}

/** Repeats `unit` until the text is at least `minBytes` of UTF-8, tagging each repeat so the text is not periodic. */
function repeatUtf8(unit: string, minBytes: number): string {
  const parts: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < minBytes; i++) {
    const part = `${i}${unit}`;
    parts.push(part);
    bytes += encoder.encode(part).byteLength;
  }
  return parts.join("");
}

/** Fails with the first differing index, without dumping megabytes into the report. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  let firstDiff = -1;
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      firstDiff = i;
      break;
    }
  }
  assert.equal(firstDiff, -1, `${what}: first differing byte index`);
}

/** Echoes every message with the same kind and keeps what the hooks were given. */
class Echo extends WebSocketController {
  readonly texts: { value: unknown; type: string }[] = [];
  readonly binaries: { value: Uint8Array; plain: boolean; constructorIsUint8Array: boolean }[] = [];

  constructor() {
    // 2 MiB so that a 1 MiB message is well inside the limit on every runtime.
    super({ maxMessageSize: 2 * MiB });
  }
  override onTextMessage(conn: Connection, text: string) {
    this.texts.push({ value: text, type: typeof text });
    conn.sendText(text);
  }
  override onBinaryMessage(conn: Connection, data: Uint8Array) {
    this.binaries.push({
      value: data,
      plain: Object.getPrototypeOf(data) === Uint8Array.prototype,
      constructorIsUint8Array: data.constructor === Uint8Array,
    });
    conn.sendBinary(data);
  }
}

const textCases: [string, string][] = [
  ["empty", ""],
  ["1 byte", "x"],
  ["64 KiB", patternText(64 * KiB)],
  ["1 MiB", patternText(MiB)],
  ["2-byte UTF-8", "é"],
  ["3-byte UTF-8", "€"],
  ["4-byte UTF-8", "𝄞"],
  ["emoji with modifiers and ZWJ sequences", "😀👍🏽👨‍👩‍👧‍👦🇩🇪"],
  ["mixed widths", "aé€𝄞😀 Grüße, 你好, Привет, مرحبا"],
  // Crosses TCP chunk and frame-length boundaries in the middle of multi-byte sequences.
  ["64 KiB of mixed widths", repeatUtf8("aé€𝄞😀", 64 * KiB)],
];

const binaryCases: [string, Uint8Array][] = [
  ["empty", new Uint8Array(0)],
  ["1 byte", new Uint8Array([0xff])],
  ["125 bytes (largest 7-bit length)", patternBytes(125)],
  ["126 bytes (smallest 16-bit length)", patternBytes(126)],
  ["64 KiB", patternBytes(64 * KiB)],
  ["64 KiB + 1 (smallest 64-bit length)", patternBytes(64 * KiB + 1)],
  ["1 MiB", patternBytes(MiB)],
];

describe("messages", () => {
  for (const [name, text] of textCases) {
    test(`text round trip: ${name} (${encoder.encode(text).byteLength} bytes)`, async (t) => {
      const controller = new Echo();
      const server = await startServer({ "/echo": controller });
      t.after(() => server.stop());
      const client = await server.connect("/echo", { timeoutMs: 15_000 });
      client.sendText(text);
      const echoed = await client.nextMessage();
      assert.equal(controller.texts.length, 1);
      const seen = controller.texts[0]!;
      assert.equal(seen.type, "string", "onTextMessage gets a string");
      assert.ok(seen.value === text, "onTextMessage gets exactly the text sent");
      assert.equal(echoed.kind, "text", "echoed as a text frame");
      assertSameBytes(echoed.data, encoder.encode(text), "echoed bytes");
      client.close();
      await client.closed;
    });
  }

  for (const [name, bytes] of binaryCases) {
    test(`binary round trip: ${name} arrives as a plain Uint8Array`, async (t) => {
      const controller = new Echo();
      const server = await startServer({ "/echo": controller });
      t.after(() => server.stop());
      const client = await server.connect("/echo", { timeoutMs: 15_000 });
      client.sendBinary(bytes);
      const echoed = await client.nextMessage();
      assert.equal(controller.binaries.length, 1);
      const seen = controller.binaries[0]!;
      assert.ok(seen.plain, `onBinaryMessage gets a plain Uint8Array, not ${seen.value.constructor.name}`);
      assert.ok(seen.constructorIsUint8Array);
      assertSameBytes(seen.value, bytes, "bytes seen by the hook");
      assert.equal(echoed.kind, "binary", "echoed as a binary frame");
      assertSameBytes(echoed.data, bytes, "echoed bytes");
      client.close();
      await client.closed;
    });
  }

  test("binary data kept from a hook is not overwritten by later messages", async (t) => {
    // A runtime that hands out views into a reused receive buffer would corrupt data kept by the application.
    const controller = new Echo();
    const server = await startServer({ "/echo": controller });
    t.after(() => server.stop());
    const client = await server.connect("/echo");
    const sent = Array.from({ length: 20 }, (_, i) => patternBytes(1 + i * 997, 0x1000 + i));
    for (const bytes of sent) client.sendBinary(bytes);
    const echoed = await client.messages(sent.length);
    assert.equal(controller.binaries.length, sent.length);
    for (let i = 0; i < sent.length; i++) {
      assertSameBytes(controller.binaries[i]!.value, sent[i]!, `kept message ${i}`);
      assertSameBytes(echoed[i]!.data, sent[i]!, `echoed message ${i}`);
    }
    client.close();
    await client.closed;
  });

  test("a binary message's Uint8Array owns exactly its bytes (its .buffer holds nothing else)", async (t) => {
    // Code such as `new DataView(data.buffer)` or `crypto.subtle.digest("SHA-256", data.buffer)` must see
    // only this message on every runtime, never neighbouring frames or another connection's pooled bytes.
    const controller = new Echo();
    const server = await startServer({ "/echo": controller });
    t.after(() => server.stop());
    const client = await server.connect("/echo");
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      const bytes = patternBytes(3 + i * 300, 0x2000 + i);
      sent.push(bytes);
      client.sendBinary(bytes); // back to back: several frames tend to share one TCP read
    }
    // A fragmented message is reassembled by the runtime (in Node's shared Buffer pool when small).
    const fragmented = patternBytes(40, 0x3000);
    sent.push(fragmented);
    client.sendFrame(0x2, fragmented.subarray(0, 10), { fin: false });
    client.sendFrame(0x0, fragmented.subarray(10, 25), { fin: false });
    client.sendFrame(0x0, fragmented.subarray(25), { fin: true });
    await client.messages(sent.length);
    assert.equal(controller.binaries.length, sent.length);
    controller.binaries.forEach(({ value }, i) => {
      assert.equal(value.byteOffset, 0, `message ${i}: byteOffset`);
      assert.equal(value.buffer.byteLength, value.byteLength, `message ${i}: the ArrayBuffer is exactly the message`);
      assertSameBytes(new Uint8Array(value.buffer), sent[i]!, `message ${i} via .buffer`);
    });
    client.close();
    await client.closed;
  });

  test("text and binary interleaved keep their kinds and order", async (t) => {
    const controller = new Echo();
    const server = await startServer({ "/echo": controller });
    t.after(() => server.stop());
    const client = await server.connect("/echo");
    const plan: (string | Uint8Array)[] = [];
    for (let i = 0; i < 30; i++) plan.push(i % 3 === 0 ? patternBytes(i * 50, i + 1) : `${i}:${"é€😀".repeat(i)}`);
    for (const item of plan) typeof item === "string" ? client.sendText(item) : client.sendBinary(item);
    const echoed: RawMessage[] = await client.messages(plan.length);
    plan.forEach((item, i) => {
      const message = echoed[i]!;
      if (typeof item === "string") {
        assert.equal(message.kind, "text", `message ${i} kind`);
        assert.equal(message.text(), item, `message ${i}`);
      } else {
        assert.equal(message.kind, "binary", `message ${i} kind`);
        assertSameBytes(message.data, item, `message ${i}`);
      }
    });
    client.close();
    await client.closed;
  });

  test("the runtime's standard WebSocket client: text, multi-byte text and binary round trips", async (t) => {
    const controller = new Echo();
    const server = await startServer({ "/echo": controller });
    t.after(() => server.stop());
    const WebSocketClass = await standardWebSocket();
    const socket = new WebSocketClass(server.ws("/echo"));
    socket.binaryType = "arraybuffer";
    const inbox: (string | Uint8Array)[] = [];
    socket.addEventListener("message", (event: MessageEvent) => {
      const data: unknown = event.data;
      inbox.push(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
    });
    const opened = deferred();
    socket.addEventListener("open", () => opened.resolve());
    const closed = deferred<number>();
    socket.addEventListener("close", (event: CloseEvent) => closed.resolve(event.code));
    await within(opened.promise, 5_000, "the standard client to open");

    const large = patternBytes(64 * KiB + 3, 77);
    const plan: (string | Uint8Array<ArrayBuffer>)[] = ["hello", "aé€𝄞😀👨‍👩‍👧", "", new Uint8Array([0, 1, 2, 253, 254, 255]), large, new Uint8Array(0)];
    for (const item of plan) socket.send(item);
    await waitFor(() => inbox.length === plan.length, 5_000, "every echo");

    plan.forEach((item, i) => {
      const got = inbox[i]!;
      if (typeof item === "string") {
        assert.equal(typeof got, "string", `message ${i} arrives as text`);
        assert.equal(got, item, `message ${i}`);
      } else {
        assert.ok(got instanceof Uint8Array, `message ${i} arrives as binary`);
        assertSameBytes(got, item, `message ${i}`);
      }
    });
    assert.deepEqual(controller.texts.map((x) => x.value), plan.filter((x) => typeof x === "string"));
    assert.ok(controller.binaries.every((x) => x.plain), "the hooks got plain Uint8Arrays");
    assert.equal(controller.binaries.length, 3);
    socket.close(1000, "done");
    assert.equal(await within(closed.promise, 5_000, "the standard client to close"), 1000);
  });

  test("sendJson sends JSON.stringify(value) as one text frame", async (t) => {
    const value = { n: 1, s: "aé€𝄞😀", list: [true, null, 2.5], nested: { empty: {} } };
    const results: boolean[] = [];
    class Json extends WebSocketController {
      override onTextMessage(conn: Connection) {
        results.push(conn.sendJson(value), conn.sendJson("just a string"), conn.sendJson([1, 2, 3]));
      }
    }
    const server = await startServer({ "/json": new Json() });
    t.after(() => server.stop());
    const client = await server.connect("/json");
    client.sendText("go");
    const [first, second, third] = await client.messages(3);
    for (const message of [first!, second!, third!]) assert.equal(message.kind, "text");
    assertSameBytes(first!.data, encoder.encode(JSON.stringify(value)), "exact serialization");
    assert.deepEqual(JSON.parse(first!.text()), value);
    assert.equal(second!.text(), '"just a string"');
    assert.equal(third!.text(), "[1,2,3]");
    assert.deepEqual(results, [true, true, true], "sendJson reports that it sent");
    client.close();
    await client.closed;
  });

  test("stats() counts messages and payload bytes in and out exactly", async (t) => {
    const reply = { ok: true, "ü": "€" };
    class Counted extends WebSocketController {
      override onTextMessage(conn: Connection, text: string) {
        if (text === "json") conn.sendJson(reply);
        else conn.sendText(text);
      }
      override onBinaryMessage(conn: Connection, data: Uint8Array) {
        conn.sendBinary(data);
      }
    }
    const controller = new Counted();
    const server = await startServer({ "/count": controller });
    t.after(() => server.stop());
    const before = await controller.stats();
    assert.deepEqual(
      [before.messagesIn, before.bytesIn, before.messagesOut, before.bytesOut],
      [0, 0, 0, 0],
      "a fresh controller counts nothing",
    );
    const client = await server.connect("/count");
    client.sendText("héllo😀"); // 1 + 2 + 3 + 4 = 10 bytes
    client.sendBinary(new Uint8Array([1, 2, 3]));
    client.sendText("json");
    client.sendText(""); // an empty message still counts as a message
    // Long texts take other measuring paths: natively from 128 UTF-16 units, and on Node
    // an uncached encoding past 64K units.
    const medium = "é".repeat(200); // 400 bytes
    const long = "😀".repeat(33_000); // 66,000 units, 132,000 bytes
    client.sendText(medium);
    client.sendText(long);
    const echoed = await client.messages(6);
    assert.equal(echoed[4]!.text(), medium);
    assert.equal(echoed[5]!.text(), long);
    const jsonBytes = encoder.encode(JSON.stringify(reply)).byteLength;
    const stats = await controller.stats();
    assert.equal(stats.messagesIn, 6);
    assert.equal(stats.bytesIn, 10 + 3 + 4 + 0 + 400 + 132_000);
    assert.equal(stats.messagesOut, 6);
    assert.equal(stats.bytesOut, 10 + 3 + jsonBytes + 0 + 400 + 132_000);
    assert.equal(stats.connections, 1);
    client.close();
    await client.closed;
  });
  test("sendJson and broadcastJson refuse values that serialize to nothing, with a TypeError", async (t) => {
    const errors: string[] = [];
    class Json extends WebSocketController {
      override onTextMessage(conn: Connection) {
        for (const value of [undefined, () => 1, Symbol("s")]) {
          try {
            conn.sendJson(value);
          } catch (error) {
            errors.push(`${(error as Error).name}: ${(error as Error).message}`);
          }
          try {
            this.broadcastJson(value);
          } catch (error) {
            errors.push((error as Error).name);
          }
        }
        conn.sendJson(null);
      }
    }
    const server = await startServer({ "/json": new Json() });
    t.after(() => server.stop());
    const client = await server.connect("/json");
    client.sendText("go");
    assert.equal((await client.nextMessage()).text(), "null");
    assert.equal(errors.length, 6);
    assert.match(errors[0]!, /^TypeError: Cannot send JSON as the value serializes to nothing/);
    assert.ok(errors.every((e) => e.startsWith("TypeError")));
    client.close();
    await client.closed;
  });
});
