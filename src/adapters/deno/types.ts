/**
 * The parts of Deno's API this adapter uses, typed structurally so that no
 * Deno types leak into the public types.
 *
 * @module
 */

/** The second argument of a `Deno.serve` handler. */
export interface DenoServeInfo {
  /** The client's address. */
  readonly remoteAddr?: { readonly hostname: string; readonly port: number };
}

/** A server-side WebSocket as `Deno.upgradeWebSocket` returns it. */
export interface DenoWebSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes queued but not yet sent. */
  readonly bufferedAmount: number;
  /** How binary messages arrive; switchboard sets `"arraybuffer"`. */
  binaryType: string;
  /** Sends a text or binary message. */
  send(data: string | Uint8Array): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Listens for `open`, `message`, `error` and `close`. */
  addEventListener(type: string, listener: { handleEvent(event: Event): void }): void;
  /** Stops listening for one of them (the adapter drops `open` once it has fired). */
  removeEventListener(type: string, listener: { handleEvent(event: Event): void }): void;
}

/** The global `Deno`, as far as switchboard uses it. */
export interface DenoGlobal {
  upgradeWebSocket(
    request: Request,
    options?: { protocol?: string; idleTimeout?: number },
  ): { socket: DenoWebSocket; response: Response };
  serve(
    options: { port?: number; hostname?: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): { readonly addr: { readonly port: number; readonly hostname: string }; shutdown(): Promise<void> };
}

/** The global `Deno`, or undefined on other runtimes. */
export function denoGlobal(): DenoGlobal | undefined {
  return (globalThis as { Deno?: DenoGlobal }).Deno;
}
