/**
 * The parts of Deno's API this adapter uses, typed structurally so that no
 * Deno types leak into the public types.
 *
 * @module
 */

/** The second argument of a `Deno.serve` handler. */
export interface DenoServeInfo {
  readonly remoteAddr?: { readonly hostname: string; readonly port: number };
}

/** A server-side WebSocket as `Deno.upgradeWebSocket` returns it. */
export interface DenoWebSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: { handleEvent(event: Event): void }): void;
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
