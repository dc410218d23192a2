/**
 * The pub/sub wire format of the Redis engine, on its own (no Redis): what a
 * process publishes comes back as it was sent, what the append script
 * publishes reads as a recorded message, and bytes that are not an envelope
 * (another program on the channel) read as nothing, never a throw.
 */
import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeEnvelope, encodeUnrecorded, type Envelope, exceptField } from "../src/redis/envelope.ts";
import { seededRandom } from "./helpers/latent-history.ts";

const encoder = new TextEncoder();

/** What Redis carries for a published value: a string as UTF-8 (ioredis sends it so), bytes as they are. */
function wire(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/** The envelope the append script publishes: `<kind><epoch> <id> <timestamp> <except>\n<data>`, concatenated as its Lua does. */
function recorded(kind: "T" | "B", epoch: string, id: number | string, timestamp: number | string, except: string, data: string | Uint8Array): Uint8Array {
  const header = encoder.encode(`${kind}${epoch} ${id} ${timestamp} ${except}\n`);
  return Buffer.concat([header, wire(data)]);
}

function bytesOf(data: string | Uint8Array | undefined): number[] {
  assert.ok(data instanceof Uint8Array, `binary data, not ${typeof data}`);
  return [...data];
}

const TEXTS = ["", "hello", "two\nlines\n\nand a blank one\n", "é ü ß 漢字 🎉 \u0000 \r\n", " leading and trailing spaces ", "T1 2 3 \n looks like a header"];

describe("envelope", () => {
  test("an unrecorded text message comes back as it was sent: origin, except, text with newlines and non-ASCII", () => {
    for (const text of TEXTS) {
      for (const except of [[], ["AAAAAAAAAAAAAAAAAAAAAA"], ["a", "b-c", "d_e"]]) {
        const envelope = decodeEnvelope(wire(encodeUnrecorded("proc123", text, except)));
        assert.deepEqual(envelope, { recorded: false, origin: "proc123", except, data: text }, JSON.stringify(text));
      }
    }
  });

  test("an unrecorded binary message comes back as the same bytes, every byte value included", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const data of [new Uint8Array(0), all, new Uint8Array([10, 10, 32, 44]), new Uint8Array(all.buffer, 5, 20)]) {
      const envelope = decodeEnvelope(wire(encodeUnrecorded("p", data, ["x"])));
      assert.ok(envelope && !envelope.recorded);
      assert.equal(envelope.origin, "p");
      assert.deepEqual(envelope.except, ["x"]);
      assert.deepEqual(bytesOf(envelope.data), [...data]);
    }
  });

  test("a recorded message as the append script publishes it reads with its epoch, id, timestamp and except", () => {
    for (const text of TEXTS) {
      assert.deepEqual(decodeEnvelope(recorded("T", "AbCdEf012345", 42, 1_700_000_000_123, "", text)), {
        recorded: true,
        epoch: "AbCdEf012345",
        id: 42,
        timestamp: 1_700_000_000_123,
        except: [],
        data: text,
      } satisfies Envelope);
    }
    const binary = decodeEnvelope(recorded("B", "e-_", 1, 5, "a,b", new Uint8Array([0, 10, 255])));
    assert.ok(binary && binary.recorded);
    assert.deepEqual(binary.except, ["a", "b"]);
    assert.deepEqual(bytesOf(binary.data), [0, 10, 255]);
  });

  test("bytes that are not an envelope read as undefined, never a throw", () => {
    const garbage: Uint8Array[] = [
      new Uint8Array(0),
      wire("\n"),
      wire("hello"), // no newline
      wire("X1 2 3 \nhi"), // unknown kind
      wire("T1 2 3\nhi"), // 3 fields
      wire("T1 2 3 4 5\nhi"), // 5 fields
      wire("t1\nhi"), // 1 field
      wire("t1 2 3\nhi"), // 3 fields
      wire("T1 x 3 \nhi"), // id not a number
      wire("T1 99999999999999999999 3 \nhi"), // id past 2^53
    ];
    for (const bytes of garbage) assert.equal(decodeEnvelope(bytes), undefined, JSON.stringify(Buffer.from(bytes).toString("latin1")));
    const random = seededRandom(7);
    for (let i = 0; i < 2_000; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      if (i % 3 === 0 && bytes.length > 0) bytes[0] = "TBtb".charCodeAt(i % 4); // a known kind, garbage after it
      assert.doesNotThrow(() => decodeEnvelope(bytes));
    }
  });

  test("an envelope whose fields are not what the script writes reads as undefined: ids and timestamps in decimal digits, a non-empty epoch and origin", () => {
    const bad = [
      "T1 0x10 3 \nhi", // Number() reads hex
      "T1 1e3 3 \nhi", // and exponents
      "T1 1.0 3 \nhi",
      "T1 -1 3 \nhi",
      "T1  3 \nhi", // an empty id: Number("") is 0
      "T1 0 3 \nhi", // ids start at 1
      "T1 5 abc \nhi",
      "T1 5  \nhi",
      "T 5 3 \nhi", // no epoch
      "t 1\nhi", // no origin
      "b \n\u0001",
    ];
    for (const text of bad) assert.equal(decodeEnvelope(wire(text)), undefined, JSON.stringify(text));
  });

  test("a value that is not bytes (from a client that is not ioredis) reads as undefined, never a throw", () => {
    for (const value of ["t1 \nhi", null, undefined, 42, {}, [116, 49, 32, 10]]) {
      assert.equal(decodeEnvelope(value as unknown as Uint8Array), undefined, String(value));
    }
  });

  test("the except field is the ids joined by commas, empty for none", () => {
    assert.equal(exceptField([]), "");
    assert.equal(exceptField(["a"]), "a");
    assert.equal(exceptField(["a", "b"]), "a,b");
  });

  test("an except id with a space, a comma or a newline (it names no connection) cannot break the envelope: the message reads, with the other ids", () => {
    // `except` takes any string from the caller; connection ids are base64url.
    const except = ["a b", "c,d", "e\nf", "ok", "g\r"];
    assert.equal(exceptField(except), "ok,g\r");
    assert.deepEqual(decodeEnvelope(wire(encodeUnrecorded("p", "data", except))), { recorded: false, origin: "p", except: ["ok", "g\r"], data: "data" });
    const binary = decodeEnvelope(wire(encodeUnrecorded("p", new Uint8Array([1]), except)));
    assert.ok(binary && !binary.recorded);
    assert.deepEqual(binary.except, ["ok", "g\r"]);
    const stored = decodeEnvelope(recorded("T", "E", 1, 5, exceptField(except), "x"));
    assert.ok(stored && stored.recorded);
    assert.deepEqual(stored.except, ["ok", "g\r"]);
    assert.equal(exceptField(["a b"]), "");
  });
});
