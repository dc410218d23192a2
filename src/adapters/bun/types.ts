/**
 * The parts of Bun's API this adapter uses, typed structurally so that no
 * `bun-types` leak into the public types.
 *
 * @module
 */

/** Bun's `ServerWebSocket`, as far as switchboard uses it. */
export interface BunServerWebSocket<Data> {
  /** The data attached at upgrade. */
  data: Data;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** How binary messages arrive; switchboard sets `"uint8array"`. */
  binaryType?: string;
  /** Sends a text message; bytes sent, -1 when queued under backpressure, 0 when dropped. */
  sendText(data: string): number;
  /** Sends a binary message; same return values as `sendText`. */
  sendBinary(data: Uint8Array): number;
  /** Sends a ping frame. */
  ping(data?: Uint8Array): number;
  /** Sends a pong frame. */
  pong(data?: Uint8Array): number;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection without a close frame. */
  terminate(): void;
  /** Bytes queued but not yet sent. */
  getBufferedAmount(): number;
  /** Joins a pub/sub topic. */
  subscribe(topic: string): void;
  /** Leaves a pub/sub topic. */
  unsubscribe(topic: string): void;
  /** Sends text to a topic's subscribers, except this socket. */
  publishText(topic: string, data: string): number;
  /** Sends binary data to a topic's subscribers, except this socket. */
  publishBinary(topic: string, data: Uint8Array): number;
}

/** Bun's `Server`, as far as switchboard uses it. */
export interface BunServer {
  /** The port it listens on. */
  readonly port?: number;
  /** The interface it listens on. */
  readonly hostname?: string;
  /** Upgrades a request to a WebSocket; false when it is not a valid upgrade. */
  upgrade(request: Request, options?: { headers?: HeadersInit; data?: unknown }): boolean;
  /** Sends to every subscriber of a topic. */
  publish(topic: string, data: string | Uint8Array): number;
  /** The client address of a request. */
  requestIP(request: Request): { address: string; port: number } | null;
  /** Stops listening, and closes open connections when asked. */
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

/** The `websocket` object `Bun.serve` takes. */
export interface BunWebSocketHandler<Data> {
  /** A socket opened. */
  open(ws: BunServerWebSocket<Data>): void;
  /** A message arrived. */
  message(ws: BunServerWebSocket<Data>, message: string | Uint8Array): void;
  /** A ping arrived (Bun has answered it). */
  ping(ws: BunServerWebSocket<Data>, data: Uint8Array): void;
  /** A pong arrived. */
  pong(ws: BunServerWebSocket<Data>, data: Uint8Array): void;
  /** The socket closed. */
  close(ws: BunServerWebSocket<Data>, code: number, reason: string): void;
  /** Largest message Bun reads, in bytes. */
  maxPayloadLength: number;
  /** Send-buffer bytes past which Bun drops messages. */
  backpressureLimit: number;
  /** Whether Bun closes a socket past `backpressureLimit`. */
  closeOnBackpressureLimit: boolean;
  /** Seconds of silence before Bun closes a socket; 0 disables. */
  idleTimeout: number;
  /** Whether Bun sends its own pings. */
  sendPings: boolean;
  /** Whether `publish` from a socket reaches that socket too. */
  publishToSelf: boolean;
  /** Whether to negotiate compression. */
  perMessageDeflate: boolean;
}

/** The global `Bun`, as far as switchboard uses it. */
export interface BunGlobal {
  serve(options: {
    port?: number;
    hostname?: string;
    /** Seconds an HTTP connection may be idle; 0 keeps it. */
    idleTimeout?: number;
    fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
    websocket: BunWebSocketHandler<unknown>;
  }): BunServer;
}
