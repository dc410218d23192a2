/**
 * The parts of `ws` this adapter uses, typed structurally (no `ws` types in
 * the module graph), and `ws` itself loaded through a name rather than a
 * literal import: a Deno app that imports the root entry or
 * `switchboard/hono`, whose module graph reaches this adapter, then never
 * resolves `ws` and gets no `npm:ws` in its lock file, even from
 * `deno check`. Node, bundlers and JSR's npm builds resolve the bare name at
 * run time like any other import.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";

/** A server-side socket of `ws`, as far as the adapter uses it. */
export interface WsSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes queued and not yet written. */
  readonly bufferedAmount: number;
  /** Sends a message; a Buffer with `binary: false` goes out as text without being encoded again. */
  send(data: string | Uint8Array, options?: { binary?: boolean }): void;
  /** Sends a ping frame. */
  ping(data?: Uint8Array): void;
  /** Sends a pong frame. */
  pong(data?: Uint8Array): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Cuts the TCP connection. */
  terminate(): void;
  /** Listens for `message`, `ping`, `pong`, `error` and `close`. */
  on(event: string, listener: (this: WsSocket, ...args: never[]) => void): unknown;
}

/** The options of a `ws` server this adapter sets. */
export interface WsServerOptions {
  readonly noServer: true;
  readonly clientTracking: boolean;
  readonly perMessageDeflate: boolean;
  readonly maxPayload: number;
  readonly maxFragments: number;
  readonly handleProtocols: (offered: Set<string>, request: IncomingMessage) => string | false;
}

/** A `ws` server in `noServer` mode. */
export interface WsServer {
  /** Completes an upgrade on a socket the HTTP server handed over. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, callback: (ws: WsSocket) => void): void;
  /** `headers`: the 101 response's header lines, before they are written. */
  on(event: "headers", listener: (headers: string[], request: IncomingMessage) => void): unknown;
}

/** The `ws` module, as far as the adapter uses it. */
interface WsModule {
  WebSocketServer: new (options: WsServerOptions) => WsServer;
}

const WS: string = "ws";
let loaded: Promise<WsModule> | undefined;

/** `ws`, loaded once. */
export function loadWs(): Promise<WsModule> {
  return (loaded ??= import(WS) as Promise<WsModule>);
}
