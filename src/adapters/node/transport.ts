import type { WsSocket } from "./ws.ts";
import { CloseCode, type Transport, type TransportEvents } from "../../adapter/mod.ts";
import { Buffer } from "node:buffer";
import { setImmediate } from "node:timers";

/**
 * The last text measured or sent, encoded once: `ws` encodes a string on every
 * `send`, so a broadcast (the same string to many sockets) would encode it once
 * per recipient, and a `sendText` would encode it once to measure and again to send.
 */
let lastText = "";
let lastEncoded: Buffer = Buffer.alloc(0);
const MAX_CACHED_TEXT = 64 * 1024;

/** `text` as UTF-8, reusing the last encoding when it is the same text (measured, then sent). */
function encodeOnce(text: string): Buffer {
  if (text !== lastText) {
    lastText = text;
    lastEncoded = Buffer.from(text, "utf8");
  }
  return lastEncoded;
}

/** The TCP socket under a `ws` socket (`ws` keeps it as `_socket`). */
type CorkableSocket = { cork(): void; uncork(): void; destroyed: boolean };
/** Sockets corked since the last flush, uncorked together by the next `setImmediate`. */
let corked: CorkableSocket[] = [];

function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const socket of sockets) {
    try {
      if (!socket.destroyed) socket.uncork();
    } catch {
      // One failing socket must not leave the others corked; its own error event reports it.
    }
  }
}

/**
 * Holds a socket's writes until this pass of the event loop has run its I/O
 * callbacks (a `setImmediate`), so that the frames sent to one client while
 * handling every message that arrived together (many clients' broadcasts,
 * say) leave in one `writev` instead of one system call each, which is most
 * of a fan-out's CPU. Uncorking after each callback instead (`nextTick`)
 * only merged the frames of one incoming message, which at 256 chatters is a
 * single frame per client. Nothing waits for new I/O: a pending immediate
 * keeps the loop from blocking in its poll phase.
 */
function corkForThisPass(ws: WsSocket & { _socket?: CorkableSocket; [kCorked]?: number }): void {
  const socket = ws._socket;
  if (!socket || ws[kCorked] === pass) return;
  ws[kCorked] = pass;
  socket.cork();
  if (corked.push(socket) === 1) setImmediate(endPass);
}
function endPass(): void {
  pass++;
  uncorkAll();
}
const kCorked: unique symbol = Symbol("switchboard.corkedPass");
let pass = 0;

/** Where a `ws` socket keeps its transport, so the event listeners below can be shared by all sockets. */
const kTransport: unique symbol = Symbol("switchboard.transport");
type BoundSocket = WsSocket & { [kTransport]: NodeTransport };

// One set of listeners for every socket (`this` is the socket): no closures per connection.
function transportOf(ws: WsSocket): NodeTransport {
  return (ws as BoundSocket)[kTransport];
}
function onMessage(this: WsSocket, data: Buffer, isBinary: boolean): void {
  const events = transportOf(this).events!;
  if (isBinary) events.receiveBinary(ownBytes(data));
  else events.receiveText(data.toString("utf8"), data.byteLength);
}
function onPing(this: WsSocket, data: Buffer): void {
  transportOf(this).events!.receivePing(ownBytes(data));
}
function onPong(this: WsSocket, data: Buffer): void {
  transportOf(this).events!.receivePong(ownBytes(data));
}
function onError(this: WsSocket, error: Error & { code?: string }): void {
  transportOf(this).errorCode = errorCloseCode(error.code);
}
function onClose(this: WsSocket, code: number, reason: Buffer): void {
  const transport = transportOf(this);
  transport.events!.transportClosed(code === CloseCode.Abnormal ? transport.errorCode : code, reason.toString("utf8"));
}

/** A `ws` socket as the core sees it; wires the socket's events to the connection's. */
export class NodeTransport implements Transport {
  readonly #ws: WsSocket;
  /** Where the socket's events go, once bound. */
  events: TransportEvents | undefined;
  /** `ws` reports protocol errors as an error, then a close with 1006. */
  errorCode: number = CloseCode.Abnormal;

  constructor(ws: WsSocket) {
    this.#ws = ws;
  }

  /** Routes the socket's events to the connection; call once, right after the upgrade. */
  bind(events: TransportEvents): void {
    this.events = events;
    const ws = this.#ws as BoundSocket;
    ws[kTransport] = this;
    ws.on("message", onMessage);
    ws.on("ping", onPing);
    ws.on("pong", onPong);
    ws.on("error", onError);
    ws.on("close", onClose);
  }

  get readyState(): number {
    return this.#ws.readyState;
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  textByteLength(text: string): number {
    return text.length > MAX_CACHED_TEXT ? Buffer.byteLength(text, "utf8") : encodeOnce(text).byteLength;
  }

  sendText(text: string): boolean {
    if (text.length > MAX_CACHED_TEXT) {
      this.#ws.send(text);
      return true;
    }
    encodeOnce(text);
    corkForThisPass(this.#ws);
    this.#ws.send(lastEncoded, { binary: false });
    return true;
  }

  sendBinary(data: Uint8Array): boolean {
    corkForThisPass(this.#ws);
    this.#ws.send(data, { binary: true });
    return true;
  }

  ping(data: Uint8Array | undefined): void {
    this.#ws.ping(data);
  }

  pong(data: Uint8Array | undefined): void {
    this.#ws.pong(data);
  }

  close(code: number, reason: string): void {
    this.#ws.close(code, reason);
  }

  terminate(): void {
    // Flush what this pass already sent (it sits corked), as an uncorked socket would have.
    const socket = (this.#ws as { _socket?: CorkableSocket })._socket;
    if (socket && !socket.destroyed) socket.uncork();
    this.#ws.terminate();
  }
}

/**
 * A plain Uint8Array whose ArrayBuffer holds exactly this payload, as on Bun
 * and Deno. A `ws` Buffer is often a view into the whole TCP chunk or into
 * Node's process-wide Buffer pool, so its `.buffer` would expose other frames,
 * even other connections' data: copy unless the Buffer owns its memory.
 */
function ownBytes(data: Buffer): Uint8Array {
  if (data.byteOffset === 0 && data.buffer.byteLength === data.byteLength) {
    return new Uint8Array(data.buffer, 0, data.byteLength);
  }
  return new Uint8Array(data);
}

/** The RFC close code for a `ws` protocol error. */
function errorCloseCode(code: string | undefined): number {
  switch (code) {
    case "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH":
    case "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH":
      return CloseCode.MessageTooBig;
    case "WS_ERR_INVALID_UTF8":
      return CloseCode.InvalidPayload;
    case "WS_ERR_TOO_MANY_BUFFERED_PARTS":
      return CloseCode.PolicyViolation;
    case undefined:
      return CloseCode.Abnormal;
    default:
      return CloseCode.ProtocolError;
  }
}
