/**
 * The contract between the core and a runtime adapter, socket side. An
 * adapter wraps each runtime socket in a {@linkcode Transport} and reports
 * the socket's events to the {@linkcode TransportEvents} the core gives it
 * when the socket opens; the core decides everything else (limits, ordering,
 * close codes, heartbeat, flow control). Exported, with the upgrade side, from
 * `switchboard/adapter`.
 *
 * @module
 */

/** What a runtime's WebSocket server can do natively; see the README's capability table. */
export interface Capabilities {
  /** The runtime this adapter serves, such as "bun", "deno" or "node". */
  readonly runtime: string;
  /** RFC 6455 ping and pong frames can be sent and observed (`onPing`, `onPong`, `conn.ping()`). */
  readonly pingPong: boolean;
  /** Broadcasts and rooms use the runtime's own publish/subscribe (Bun). */
  readonly nativePubSub: boolean;
  /** The runtime refuses oversized messages before reading them whole; elsewhere the core checks after receipt. */
  readonly runtimeMaxMessageSize: boolean;
  /** The peer receives a 1007 close frame for invalid UTF-8 (Deno drops the TCP connection instead: 1006). */
  readonly invalidUtf8CloseFrame: boolean;
  /** `onUpgrade` may add headers to the 101 response. */
  readonly upgradeHeaders: boolean;
  /** The TCP connection can be cut at once (`terminate()`); elsewhere the core forgets the socket and the runtime ends it later. */
  readonly terminate: boolean;
  /** `serve()` enforces `headersTimeout` (Bun has its own fixed bound, Deno none). */
  readonly headersTimeout: boolean;
  /** `serve()` enforces `idleTimeout` on HTTP connections (Deno cannot). */
  readonly httpIdleTimeout: boolean;
}

/** A runtime socket as the core sees it. Implemented by each adapter. */
export interface Transport {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes queued by the runtime and not yet written to the network. */
  readonly bufferedAmount: number;
  /**
   * The UTF-8 length of a text about to go to `sendText`, where the adapter
   * can give it for free: Node encodes the text here and the `sendText` that
   * follows sends those bytes. Absent elsewhere, and the core measures.
   */
  textByteLength?(text: string): number;
  /** Sends a text frame; `false` if the runtime dropped it (Bun past its backpressure limit). */
  sendText(text: string): boolean;
  /** Sends a binary frame; `false` if the runtime dropped it. */
  sendBinary(data: Uint8Array): boolean;
  /** Sends a ping frame; absent where the runtime cannot (Deno). */
  ping?(data: Uint8Array | undefined): void;
  /** Sends a pong frame; absent where the runtime cannot (Deno). */
  pong?(data: Uint8Array | undefined): void;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /** Cuts the TCP connection; absent where the runtime cannot (Deno). */
  terminate?(): void;
  /** Native publish/subscribe for this socket, where the runtime has it (Bun). */
  readonly pubsub?: NativeSubscriber;
}

/** The per-socket half of a runtime's native publish/subscribe. */
export interface NativeSubscriber {
  /** The server-wide publisher this socket belongs to. */
  readonly publisher: NativePublisher;
  /** Subscribes this socket to a topic. */
  subscribe(topic: string): void;
  /** Unsubscribes this socket from a topic. */
  unsubscribe(topic: string): void;
  /** Publishes to every subscriber of `topic` but this socket. */
  publishExceptSelf(topic: string, data: string | Uint8Array): PublishResult;
}

/**
 * How a native publish went: `"sent"`, `"backpressure"` (queued for some
 * subscriber whose buffer is filling), or `"dropped"` (some subscriber past
 * the runtime's limit did not get it).
 */
export type PublishResult = "sent" | "backpressure" | "dropped";

/** The server-wide half of a runtime's native publish/subscribe. */
export interface NativePublisher {
  /** Publishes to every subscriber of `topic`. */
  publish(topic: string, data: string | Uint8Array): PublishResult;
}

/** The events an adapter reports for one socket, in the order the runtime delivers them. */
export interface TransportEvents {
  /** A text message, decoded; `bytes` is its UTF-8 length where the runtime reports it (Node), else it is measured. */
  receiveText(data: string, bytes?: number): void;
  /** A binary message, as a `Uint8Array` view of exactly the message. */
  receiveBinary(data: Uint8Array): void;
  /** A ping frame arrived (the runtime has already answered it). */
  receivePing(data: Uint8Array): void;
  /** A pong frame arrived. */
  receivePong(data: Uint8Array): void;
  /**
   * The runtime's own heartbeat gave up on the peer (Deno's idle timeout):
   * the connection ends as one that stopped answering the core's pings would.
   */
  heartbeatTimedOut(): void;
  /**
   * The socket closed. `code` is normalised by the adapter to what the peer
   * was sent: 1006 for an end without a close frame, 1009/1007/1002/1008 when
   * the runtime closed for size, UTF-8, a protocol error or a policy limit.
   */
  transportClosed(code: number, reason: string): void;
}
