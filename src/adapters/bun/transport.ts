import type { NativePublisher, NativeSubscriber, PublishResult, Transport } from "../../adapter/mod.ts";

/** Bun's publish status: bytes sent, -1 queued under backpressure, 0 dropped for some subscriber past its limit. */
function publishResult(status: number): PublishResult {
  return status > 0 ? "sent" : status < 0 ? "backpressure" : "dropped";
}
import type { BunServer, BunServerWebSocket } from "./types.ts";

/** One publisher per Bun server, so the core can tell whether all its connections share one. */
const publishers = new WeakMap<BunServer, NativePublisher>();

/** The native publisher of a Bun server. */
export function publisherOf(server: BunServer): NativePublisher {
  let publisher = publishers.get(server);
  if (!publisher) {
    publisher = { publish: (topic, data) => publishResult(server.publish(topic, data)) };
    publishers.set(server, publisher);
  }
  return publisher;
}

/** A Bun `ServerWebSocket` as the core sees it, with Bun's publish/subscribe. */
export class BunTransport implements Transport, NativeSubscriber {
  readonly #ws: BunServerWebSocket<unknown>;
  readonly publisher: NativePublisher;

  constructor(ws: BunServerWebSocket<unknown>, publisher: NativePublisher) {
    this.#ws = ws;
    this.publisher = publisher;
  }

  get pubsub(): NativeSubscriber {
    return this;
  }

  get readyState(): number {
    return this.#ws.readyState;
  }

  get bufferedAmount(): number {
    return this.#ws.getBufferedAmount();
  }

  // Bun returns 0 when it dropped a message past backpressureLimit, but also
  // for any empty payload, which it does deliver.
  sendText(text: string): boolean {
    return this.#ws.sendText(text) !== 0 || text.length === 0;
  }

  sendBinary(data: Uint8Array): boolean {
    return this.#ws.sendBinary(data) !== 0 || data.byteLength === 0;
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
    this.#ws.terminate();
  }

  subscribe(topic: string): void {
    this.#ws.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.#ws.unsubscribe(topic);
  }

  publishExceptSelf(topic: string, data: string | Uint8Array): PublishResult {
    return publishResult(typeof data === "string" ? this.#ws.publishText(topic, data) : this.#ws.publishBinary(topic, data));
  }
}
