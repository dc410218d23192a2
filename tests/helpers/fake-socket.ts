/**
 * An in-memory transport for fast unit tests of the core: a controller is
 * driven through the adapter contract (`prepareUpgrade`, `open`, the
 * transport events) with no server and no network. It runs the same on
 * Node, Bun and Deno. The conformance suite covers the real adapters; this
 * covers the core's rules (ordering, catch-up, flow control, close codes)
 * many times over in milliseconds.
 */
import { type AnyController, prepareUpgrade, type Transport, type TransportEvents } from "../../src/adapter/mod.ts";

/** A frame the server sent to the fake client. */
export type SentFrame = { kind: "text"; data: string } | { kind: "binary"; data: Uint8Array };

/** A valid RFC 6455 opening handshake, as a client sends it. */
export const HANDSHAKE: Readonly<Record<string, string>> = {
  host: "test.local",
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
};

/**
 * One fake socket: records what the server sends, and lets a test play the
 * client (`text`, `binary`, `clientClose`) and the network (`bufferedAmount`).
 */
export class FakeSocket implements Transport {
  readyState = 1;
  /** Set by a test to simulate a client that does not read. */
  bufferedAmount = 0;
  readonly sent: SentFrame[] = [];
  /** The close frame the server sent, if any. */
  closeFrame: { code: number; reason: string } | undefined;
  terminated = false;
  events!: TransportEvents;
  #waiters: (() => void)[] = [];

  sendText(text: string): boolean {
    this.sent.push({ kind: "text", data: text });
    this.#wake();
    return true;
  }
  sendBinary(data: Uint8Array): boolean {
    this.sent.push({ kind: "binary", data });
    this.#wake();
    return true;
  }
  ping(): void {}
  pong(): void {}
  close(code: number, reason: string): void {
    this.closeFrame = { code, reason };
    this.readyState = 2;
    this.#wake();
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }

  // --- The client's side -------------------------------------------------------

  text(data: string): void {
    this.events.receiveText(data);
  }
  binary(data: Uint8Array): void {
    this.events.receiveBinary(data);
  }
  /** The client closes (or answers the server's close frame). */
  clientClose(code = 1000, reason = ""): void {
    this.readyState = 3;
    this.events.transportClosed(code, reason);
  }
  /** The texts the server sent, in order. */
  get texts(): string[] {
    return this.sent.flatMap((frame) => (frame.kind === "text" ? [frame.data] : []));
  }
  /** The server's JSON messages, parsed. */
  json<T = unknown>(): T[] {
    return this.texts.map((text) => JSON.parse(text) as T);
  }
  /** Resolves once `check()` holds, re-checked after each frame the server sends; rejects after `ms`. */
  async until(check: () => boolean, ms = 2_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 20));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Upgrades and opens a fake connection to `controller`: the `FakeSocket`, or
 * the `Response` of a refusal. `url` may carry a query; `headers` add to or
 * replace the valid handshake's.
 */
export async function fakeConnect(
  controller: AnyController,
  url = "http://test.local/",
  headers: Record<string, string | undefined> = {},
  make: () => FakeSocket = () => new FakeSocket(),
): Promise<FakeSocket | Response> {
  const all: Record<string, string> = { ...HANDSHAKE };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) delete all[name];
    else all[name] = value;
  }
  const decision = await prepareUpgrade(controller, { url, headers: all, remoteAddress: "127.0.0.1" });
  if (!decision.accept) return decision.response;
  const socket = make();
  decision.open(socket, (events) => (socket.events = events));
  return socket;
}

/** Like {@linkcode fakeConnect}, failing unless the upgrade is accepted. */
export async function fakeOpen(
  controller: AnyController,
  url?: string,
  headers?: Record<string, string | undefined>,
  make?: () => FakeSocket,
): Promise<FakeSocket> {
  const socket = await fakeConnect(controller, url, headers, make);
  if (socket instanceof Response) throw new Error(`upgrade refused with ${socket.status}: ${await socket.text()}`);
  return socket;
}
