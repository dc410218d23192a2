import { Buffer } from "node:buffer";

/**
 * The messages on an endpoint's channels, as bytes:
 * - recorded, published by the append script: `T|B<epoch> <id> <timestamp> <except>\n<data>`;
 * - unrecorded, published by a process: `t|b<origin> <except>\n<data>`,
 * where T/t is text and B/b binary, `except` the comma-separated ids of the
 * connections left out, and `origin` the publishing process (which has
 * delivered to its own sockets already).
 */
export type Envelope =
  | { readonly recorded: true; readonly epoch: string; readonly id: number; readonly timestamp: number; readonly except: readonly string[]; readonly data: string | Uint8Array }
  | { readonly recorded: false; readonly origin: string; readonly except: readonly string[]; readonly data: string | Uint8Array };

const NEWLINE = 10;
const T = 84; // "T"
const B = 66; // "B"
const t = 116; // "t"
const b = 98; // "b"

/** A space, a comma or a newline: what separates the envelope's fields, and is in no connection id (base64url). */
const SEPARATOR = /[ ,\n]/;

/**
 * The except list as the envelope carries it. An id with a separator in it
 * names no connection, and would break the envelope (a space makes too many
 * fields, a newline ends the header inside it): it is left out.
 */
export function exceptField(except: readonly string[]): string {
  if (except.length === 0) return "";
  if (except.length === 1) return SEPARATOR.test(except[0]!) ? "" : except[0]!;
  return except.filter((id) => !SEPARATOR.test(id)).join(",");
}

/** The bytes of an unrecorded message from this process. */
export function encodeUnrecorded(origin: string, data: string | Uint8Array, except: readonly string[]): string | Buffer {
  const header = `${typeof data === "string" ? "t" : "b"}${origin} ${exceptField(except)}\n`;
  if (typeof data === "string") return header + data;
  return Buffer.concat([Buffer.from(header, "latin1"), data]);
}

/** An id or a timestamp as the append script writes them: decimal digits, no sign, no leading zero. */
const DECIMAL = /^[1-9][0-9]*$/;

/**
 * Reads an envelope; undefined for anything that is not one (another
 * program on the channel, a client that gives no bytes), never a throw.
 */
export function decodeEnvelope(message: Uint8Array): Envelope | undefined {
  if (!(message instanceof Uint8Array)) return undefined;
  const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const kind = bytes[0];
  const end = bytes.indexOf(NEWLINE);
  if (end < 0) return undefined;
  const fields = bytes.toString("latin1", 1, end).split(" ");
  const body = bytes.subarray(end + 1);
  if (kind === T || kind === B) {
    if (fields.length !== 4 || fields[0] === "" || !DECIMAL.test(fields[1]!) || !DECIMAL.test(fields[2]!)) return undefined;
    const id = Number(fields[1]);
    if (!Number.isSafeInteger(id)) return undefined;
    return { recorded: true, epoch: fields[0]!, id, timestamp: Number(fields[2]), except: splitExcept(fields[3]!), data: kind === T ? body.toString("utf8") : body };
  }
  if (kind === t || kind === b) {
    if (fields.length !== 2 || fields[0] === "") return undefined;
    return { recorded: false, origin: fields[0]!, except: splitExcept(fields[1]!), data: kind === t ? body.toString("utf8") : body };
  }
  return undefined;
}

/** An except field as ids. */
export function splitExcept(field: string): readonly string[] {
  return field === "" ? [] : field.split(",");
}
