/**
 * The parts of Bun's API this adapter uses, typed structurally so that no
 * `bun-types` leak into the public types.
 *
 * @module
 */

/** Bun's `ServerWebSocket`, as far as switchboard uses it. */
export interface BunServerWebSocket<Data> {
  data: Data;
  readonly readyState: number;
  binaryType?: string;
  sendText(data: string): number;
  sendBinary(data: Uint8Array): number;
  ping(data?: Uint8Array): number;
  pong(data?: Uint8Array): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  getBufferedAmount(): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  publishText(topic: string, data: string): number;
  publishBinary(topic: string, data: Uint8Array): number;
}

/** Bun's `Server`, as far as switchboard uses it. */
export interface BunServer {
  readonly port?: number;
  readonly hostname?: string;
  upgrade(request: Request, options?: { headers?: HeadersInit; data?: unknown }): boolean;
  publish(topic: string, data: string | Uint8Array): number;
  requestIP(request: Request): { address: string; port: number } | null;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

/** The `websocket` object `Bun.serve` takes. */
export interface BunWebSocketHandler<Data> {
  open(ws: BunServerWebSocket<Data>): void;
  message(ws: BunServerWebSocket<Data>, message: string | Uint8Array): void;
  ping(ws: BunServerWebSocket<Data>, data: Uint8Array): void;
  pong(ws: BunServerWebSocket<Data>, data: Uint8Array): void;
  close(ws: BunServerWebSocket<Data>, code: number, reason: string): void;
  maxPayloadLength: number;
  backpressureLimit: number;
  closeOnBackpressureLimit: boolean;
  idleTimeout: number;
  sendPings: boolean;
  publishToSelf: boolean;
  perMessageDeflate: boolean;
}

/** The global `Bun`, as far as switchboard uses it. */
export interface BunGlobal {
  serve(options: {
    port?: number;
    hostname?: string;
    fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
    websocket: BunWebSocketHandler<unknown>;
  }): BunServer;
}
