/**
 * An in-memory WebSocket constructor for the unit tests of
 * `switchboard/client`, injected through its `WebSocket` option. Each
 * `fakeWebSockets()` is one fake server: it records every socket the client
 * opens, and lets a test play the server (`open`, `receive`, `serverClose`).
 */
import type { WebSocketConstructor, WebSocketLike } from "../../src/client/mod.ts";

/** One socket the client made. */
export class FakeWebSocket implements WebSocketLike {
  readyState = 0;
  binaryType = "blob";
  readonly url: string;
  readonly protocols: string | string[] | undefined;
  /** Every frame the client sent, as given. */
  readonly sent: unknown[] = [];
  /** The client's `close()` call, if any. */
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { readonly data: unknown }) => void) | null = null;
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(url: string, protocols?: string | string[]) {
    this.url = url;
    this.protocols = protocols;
  }

  send(data: unknown): void {
    if (this.readyState !== 1) throw new Error(`send on a socket in state ${this.readyState}`);
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    if (this.readyState === 3) return;
    this.readyState = 3;
    // As a real socket: the close event comes later (after the closing handshake).
    queueMicrotask(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? "" }));
  }

  // --- The server's side -------------------------------------------------------

  /** The upgrade succeeds. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** The server sends a frame: an object goes as JSON text, a string or an ArrayBuffer as is. */
  receive(frame: unknown): void {
    const data = typeof frame === "string" || frame instanceof ArrayBuffer ? frame : JSON.stringify(frame);
    this.onmessage?.({ data });
  }

  /** The server closes (or, with 1006, the link breaks). */
  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** What the client sent, parsed as JSON where it is text. */
  get frames(): unknown[] {
    return this.sent.map((d) => (typeof d === "string" ? safeParse(d) : d));
  }

  /** The `resume` parameter of this socket's URL, parsed. */
  get resume(): unknown {
    const value = new URL(this.url).searchParams.get("resume");
    return value === null ? undefined : JSON.parse(value);
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A fake server: the constructor to inject, and the sockets made through it, oldest first. */
export interface FakeServer {
  readonly WebSocket: WebSocketConstructor;
  readonly sockets: FakeWebSocket[];
  /** The newest socket (fails if there is none). */
  last(): FakeWebSocket;
  /** Resolves when the client has made its `n`th socket (1 first); fails after `timeoutMs`. */
  socket(n: number, timeoutMs?: number): Promise<FakeWebSocket>;
}

/** A new fake server. */
export function fakeWebSockets(): FakeServer {
  const sockets: FakeWebSocket[] = [];
  class Socket extends FakeWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return {
    WebSocket: Socket,
    sockets,
    last() {
      const socket = sockets.at(-1);
      if (!socket) throw new Error("no socket yet");
      return socket;
    },
    async socket(n, timeoutMs = 2_000) {
      const deadline = Date.now() + timeoutMs;
      while (sockets.length < n) {
        if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for socket ${n} (have ${sockets.length})`);
        await new Promise((r) => setTimeout(r, 1));
      }
      return sockets[n - 1]!;
    },
  };
}
