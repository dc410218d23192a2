/**
 * A small RFC 6455 WebSocket client over `node:net`, for conformance tests.
 *
 * Unlike a browser `WebSocket` it can send malformed or unmasked frames, withhold pongs,
 * stop reading the TCP socket (slow consumer) and inspect HTTP rejections. It only uses
 * `node:net`, `node:crypto` and `node:buffer`, so it runs unchanged on Node, Bun and Deno.
 * ws:// only, no extensions.
 */
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const decoder = new TextDecoder("utf-8", { fatal: false });
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Options for {@link rawConnect}. */
export interface RawConnectOptions {
  /** Offered in Sec-WebSocket-Protocol. */
  protocols?: string[];
  /** Extra request headers; they replace handshake headers of the same name, so a test can send a bad key or version. */
  headers?: Record<string, string>;
  /** Handshake timeout, and the default for nextMessage, messages and close. Default 5000. */
  timeoutMs?: number;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean;
}

/** Any non-101 answer to the upgrade request. */
export interface HttpRejection {
  status: number;
  /** Lowercase names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/** One complete, reassembled data message. */
export interface RawMessage {
  kind: "text" | "binary";
  data: Uint8Array;
  /** `data` decoded as UTF-8; invalid sequences become U+FFFD. */
  text(): string;
}

/** How the connection ended. */
export interface CloseInfo {
  /** Code of the server's close frame; 1005 if it had none, 1006 if TCP ended without one. */
  code: number;
  /** Reason of the close frame; for 1006, the protocol or socket error that ended TCP, if any. */
  reason: string;
  /** A close frame was both received and sent before TCP ended. */
  clean: boolean;
}

/** Copies into one exact-size Uint8Array that owns its ArrayBuffer (a Buffer may be a view into a shared pool). */
function concatBytes(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** FIFO of received chunks. Taking n bytes copies only those, so a frame split over many chunks costs O(n). */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  /** Peeks one byte (only used for the few header bytes). */
  at(index: number): number {
    for (const chunk of this.chunks) {
      if (index < chunk.length) return chunk[index]!;
      index -= chunk.length;
    }
    throw new RangeError("ByteQueue underflow");
  }
  take(count: number): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let need = count; need > 0; ) {
      const head = this.chunks[0]!;
      const part = head.length <= need ? head : head.subarray(0, need);
      parts.push(part);
      need -= part.length;
      if (part === head) this.chunks.shift();
      else this.chunks[0] = head.subarray(part.length);
    }
    this.length -= count;
    return concatBytes(parts, count);
  }
}

interface Waiter {
  resolve: (message: RawMessage) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** An open WebSocket connection; create it with {@link rawConnect} or {@link connectOrThrow}. */
export class RawWebSocket {
  /** Sec-WebSocket-Protocol of the 101 response, "" if none. Not checked against the offer, so tests can assert on it. */
  readonly protocol: string;
  /** Headers of the 101 response, lowercase names. */
  readonly responseHeaders: Record<string, string>;
  /** Answer pings with a pong carrying the same payload; may be changed at any time. */
  autoPong: boolean;
  /** Resolves once, when the TCP socket has closed; never rejects. */
  readonly closed: Promise<CloseInfo>;
  /** Ping frames received. */
  pings: number = 0;
  /** Pong frames received. */
  pongs: number = 0;
  /** If set, every data message goes here instead of the queue (so a flood does not pile up); nextMessage then waits in vain. */
  onMessage?: (message: RawMessage) => void;

  private readonly socket: Socket;
  private readonly timeoutMs: number;
  private readonly inbox = new ByteQueue();
  private readonly queue: RawMessage[] = [];
  private readonly waiters: Waiter[] = [];
  private fragments: Uint8Array[] | undefined;
  private fragmentKind: "text" | "binary" = "text";
  private count = 0;
  private closeSent = false;
  private closeReceived: { code: number; reason: string } | undefined;
  private failure = "";
  private stopped = false; // close frame received or protocol error: ignore any further bytes
  private ended = false;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal Takes over a socket after a verified 101; `head` holds whatever followed the response headers. */
  constructor(socket: Socket, headers: Record<string, string>, head: Uint8Array, options: RawConnectOptions) {
    this.socket = socket;
    this.responseHeaders = headers;
    this.protocol = headers["sec-websocket-protocol"] ?? "";
    this.autoPong = options.autoPong ?? true;
    this.timeoutMs = options.timeoutMs ?? 5000;
    let settle!: (info: CloseInfo) => void;
    this.closed = new Promise<CloseInfo>((resolve) => (settle = resolve));
    // ECONNRESET after the server closed, EPIPE on a late write: they only matter as "TCP ended".
    socket.on("error", (error: Error) => (this.failure ||= error.message));
    socket.on("close", () => {
      this.ended = true;
      clearTimeout(this.closeTimer);
      const got = this.closeReceived;
      const info: CloseInfo = got ? { ...got, clean: this.closeSent } : { code: 1006, reason: this.failure, clean: false };
      for (const waiter of this.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`connection closed (${info.code} ${info.reason}) before a message arrived`));
      }
      settle(info);
    });
    socket.on("data", (chunk: Uint8Array) => this.onData(chunk));
    if (head.length > 0) this.onData(head); // frames can share the TCP chunk of the 101 response
  }

  /** Data messages received so far, whether queued, taken or passed to onMessage. */
  get received(): number {
    return this.count;
  }

  /** Sends a masked text message. */
  sendText(text: string): void {
    this.sendFrame(0x1, encoder.encode(text));
  }

  /** Sends many masked text messages in one TCP write, as a burst arrives in one read. */
  sendTexts(texts: readonly string[]): void {
    this.socket.cork();
    for (const text of texts) this.sendText(text);
    this.socket.uncork();
  }

  /** Sends one message in fragments of `size` bytes, in one TCP write (`opcode` 0x1 text, 0x2 binary). */
  sendFragmented(opcode: number, payload: Uint8Array, size: number): void {
    this.socket.cork();
    for (let offset = 0; offset < payload.length; offset += size) {
      const end = Math.min(offset + size, payload.length);
      this.sendFrame(offset === 0 ? opcode : 0x0, payload.subarray(offset, end), { fin: end === payload.length });
    }
    this.socket.uncork();
  }

  /** Sends a masked binary message. */
  sendBinary(data: Uint8Array): void {
    this.sendFrame(0x2, data);
  }

  /**
   * Sends one frame, valid or not: fragments (`fin: false`, then opcode 0), unmasked, invalid UTF-8...
   * Bits 0x70 of `opcode` go out as RSV1-3. Dropped silently once TCP is no longer writable.
   */
  sendFrame(opcode: number, payload: Uint8Array, options: { fin?: boolean; mask?: boolean } = {}): void {
    const mask = options.mask ?? true;
    const length = payload.length;
    const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
    const offset = 2 + extra + (mask ? 4 : 0);
    const frame = Buffer.allocUnsafe(offset + length);
    frame[0] = ((options.fin ?? true) ? 0x80 : 0) | (opcode & 0x7f);
    frame[1] = (mask ? 0x80 : 0) | (extra === 0 ? length : extra === 2 ? 126 : 127);
    if (extra === 2) frame.writeUInt16BE(length, 2);
    else if (extra === 8) frame.writeBigUInt64BE(BigInt(length), 2);
    if (mask) {
      const key = randomBytes(4);
      frame.set(key, 2 + extra);
      for (let i = 0; i < length; i++) frame[offset + i] = payload[i]! ^ key[i & 3]!;
    } else frame.set(payload, offset);
    if (this.socket.writable) this.socket.write(frame);
  }

  /** Sends a ping frame. */
  ping(data: Uint8Array = EMPTY): void {
    this.sendFrame(0x9, data);
  }

  /** Sends a pong frame (manual answer, or unsolicited). */
  pong(data: Uint8Array = EMPTY): void {
    this.sendFrame(0xa, data);
  }

  /** Starts the closing handshake (no code: empty payload). Drops TCP if the server has not ended it within timeoutMs. */
  close(code?: number, reason: string = ""): void {
    if (this.closeSent || this.ended) return;
    this.closeSent = true;
    const text = encoder.encode(reason);
    const payload = code === undefined ? EMPTY : new Uint8Array([code >> 8, code & 0xff, ...text]);
    this.sendFrame(0x8, payload);
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.timeoutMs);
  }

  /** Closes TCP abruptly, without a close frame. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Stops reading the TCP socket, so unread data backs up into the server (slow consumer). */
  pause(): void {
    this.socket.pause();
  }

  /** Reads the TCP socket again. */
  resume(): void {
    this.socket.resume();
  }

  /** The next data message in arrival order; rejects on timeout or if the connection closes first. */
  nextMessage(timeoutMs: number = this.timeoutMs): Promise<RawMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(new Error("connection already closed"));
    return new Promise<RawMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no message within ${timeoutMs} ms (${this.count} received so far)`));
      }, timeoutMs);
      const waiter: Waiter = { resolve, reject, timer };
      this.waiters.push(waiter);
    });
  }

  /** The next `count` messages, within one overall timeout. */
  async messages(count: number, timeoutMs: number = this.timeoutMs): Promise<RawMessage[]> {
    const deadline = Date.now() + timeoutMs;
    const out: RawMessage[] = [];
    try {
      while (out.length < count) out.push(await this.nextMessage(Math.max(0, deadline - Date.now())));
    } catch (error) {
      throw new Error(`got ${out.length} of ${count} messages: ${(error as Error).message}`);
    }
    return out;
  }

  private onData(chunk: Uint8Array): void {
    this.inbox.push(chunk);
    while (!this.stopped && this.readFrame());
  }

  /** Handles one frame if it is complete; false when more bytes are needed. */
  private readFrame(): boolean {
    const inbox = this.inbox;
    if (inbox.length < 2) return false;
    const b0 = inbox.at(0);
    const b1 = inbox.at(1);
    let length = b1 & 0x7f;
    let headerLength = 2;
    if (length === 126) {
      if (inbox.length < 4) return false;
      length = (inbox.at(2) << 8) | inbox.at(3);
      headerLength = 4;
    } else if (length === 127) {
      if (inbox.length < 10) return false;
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + inbox.at(i);
      headerLength = 10;
    }
    // A client must fail on a masked frame (RFC 6455 5.1): tests should see a server that masks.
    if (b1 & 0x80) return this.fail("masked frame from the server");
    if (b0 & 0x70) return this.fail("reserved bits set without a negotiated extension");
    if (inbox.length < headerLength + length) return false;
    inbox.take(headerLength);
    this.onFrame((b0 & 0x80) !== 0, b0 & 0x0f, length > 0 ? inbox.take(length) : EMPTY);
    return true;
  }

  private onFrame(fin: boolean, opcode: number, payload: Uint8Array): void {
    if (opcode >= 0x8) {
      if (!fin || payload.length > 125) this.fail("fragmented or oversized control frame");
      else if (opcode === 0x8) this.onClose(payload);
      else if (opcode === 0x9) {
        this.pings++;
        if (this.autoPong && !this.closeSent) this.pong(payload);
      } else if (opcode === 0xa) this.pongs++;
      else this.fail(`unknown control opcode ${opcode}`);
      return;
    }
    if (opcode === 0x0) {
      if (!this.fragments) return void this.fail("continuation frame without a message to continue");
      this.fragments.push(payload);
    } else if (opcode === 0x1 || opcode === 0x2) {
      if (this.fragments) return void this.fail("new data frame inside a fragmented message");
      this.fragments = [payload];
      this.fragmentKind = opcode === 0x1 ? "text" : "binary";
    } else return void this.fail(`unknown data opcode ${opcode}`);
    if (!fin) return;
    const parts = this.fragments;
    this.fragments = undefined;
    const data = parts.length === 1 ? parts[0]! : concatBytes(parts, parts.reduce((n, part) => n + part.length, 0));
    this.deliver({ kind: this.fragmentKind, data, text: () => decoder.decode(data) });
  }

  private deliver(message: RawMessage): void {
    this.count++;
    if (this.onMessage) return this.onMessage(message);
    const waiter = this.waiters.shift();
    if (!waiter) return void this.queue.push(message);
    clearTimeout(waiter.timer);
    waiter.resolve(message);
  }

  private onClose(payload: Uint8Array): void {
    if (payload.length === 1) return void this.fail("close frame with a 1-byte payload");
    const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
    this.closeReceived = { code, reason: decoder.decode(payload.subarray(2)) };
    this.stopped = true;
    // Echo the code (RFC 6455 5.5.1) unless we started the handshake; either way the exchange is over.
    if (!this.closeSent) {
      this.closeSent = true;
      this.sendFrame(0x8, payload.subarray(0, 2));
    }
    this.socket.end();
  }

  /** Fails the connection as a browser would: drop TCP, report 1006 with the reason. */
  private fail(reason: string): false {
    this.failure = `protocol error: ${reason}`;
    this.stopped = true;
    this.socket.destroy();
    return false;
  }
}

/** Parses a status line and headers. */
function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(statusLine.split(" ")[1]), headers };
}

/** Decodes a chunked body, or returns undefined until the last chunk has arrived. */
function dechunk(raw: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  for (let pos = 0; ; ) {
    const lineEnd = raw.indexOf("\r\n", pos);
    if (lineEnd < 0) return undefined;
    const size = parseInt(raw.toString("latin1", pos, lineEnd), 16);
    if (size === 0) return Buffer.concat(parts);
    if (!(size > 0) || raw.length < lineEnd + 4 + size) return undefined;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    pos = lineEnd + 4 + size;
  }
}

/** Opens a WebSocket to ws://host:port/path?query. Resolves with the socket after a 101, or with an HttpRejection for any other status. */
export function rawConnect(url: string, options: RawConnectOptions = {}): Promise<RawWebSocket | HttpRejection> {
  const target = new URL(url);
  if (target.protocol !== "ws:") return Promise.reject(new Error(`rawConnect supports ws:// only, got ${url}`));
  const timeoutMs = options.timeoutMs ?? 5000;
  const request: Record<string, string> = {
    host: target.host,
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": randomBytes(16).toString("base64"),
    "sec-websocket-version": "13",
  };
  if (options.protocols?.length) request["sec-websocket-protocol"] = options.protocols.join(", ");
  for (const [name, value] of Object.entries(options.headers ?? {})) request[name.toLowerCase()] = value;
  const expectedAccept = createHash("sha1").update(`${request["sec-websocket-key"]}${GUID}`).digest("base64");
  let text = `GET ${target.pathname}${target.search} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(request)) text += `${name}: ${value}\r\n`;

  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.hostname.replace(/^\[|\]$/g, ""), port: Number(target.port || 80) });
    socket.setNoDelay(true); // tests send many small frames and expect them promptly
    let head = Buffer.alloc(0);
    let body = Buffer.alloc(0);
    let response: { status: number; headers: Record<string, string> } | undefined;
    let settled = false;
    const finish = (result: RawWebSocket | HttpRejection | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off("data", onData).off("error", onError).off("close", onEnd);
      if (result instanceof RawWebSocket) return resolve(result);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const rejection = (raw: Buffer): void => finish({ ...response!, body: raw.toString("utf8") });
    const onData = (chunk: Buffer): void => {
      if (!response) {
        head = Buffer.concat([head, chunk]); // response heads are small: re-concatenating is fine
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        response = parseHead(head.toString("latin1", 0, end));
        chunk = head.subarray(end + 4);
        if (response.status === 101) {
          const accept = response.headers["sec-websocket-accept"];
          if (accept !== expectedAccept) return finish(new Error(`bad Sec-WebSocket-Accept ${accept}, expected ${expectedAccept}`));
          return finish(new RawWebSocket(socket, response.headers, chunk, options));
        }
      }
      body = Buffer.concat([body, chunk]);
      const length = response.headers["content-length"];
      if (length !== undefined && body.length >= Number(length)) return rejection(body.subarray(0, Number(length)));
      const decoded = /chunked/i.test(response.headers["transfer-encoding"] ?? "") ? dechunk(body) : undefined;
      if (decoded) rejection(decoded);
    };
    // Otherwise the body runs until the server ends TCP.
    const onEnd = (): void =>
      response ? rejection(body) : finish(new Error(`connection to ${url} closed before a handshake response`));
    // A rejecting server often resets TCP right after its response: keep what arrived.
    const onError = (error: Error): void => (response ? onEnd() : finish(new Error(`connecting to ${url}: ${error.message}`)));
    const timer = setTimeout(() => finish(new Error(`handshake with ${url} timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", onData).on("error", onError).on("close", onEnd);
    socket.write(`${text}\r\n`);
  });
}

/** Like rawConnect but throws (with the status and body in the message) unless the upgrade succeeded. */
export async function connectOrThrow(url: string, options?: RawConnectOptions): Promise<RawWebSocket> {
  const result = await rawConnect(url, options);
  if (result instanceof RawWebSocket) return result;
  throw new Error(`upgrade to ${url} rejected: HTTP ${result.status} ${result.body}`);
}
