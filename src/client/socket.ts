/**
 * The WebSocket the client drives: the least of the standard API it uses, so
 * that the browser's, Bun's, Deno's, `ws`'s and a test's fake all fit.
 *
 * @module
 */
import type { Outgoing } from "./send-queue.ts";

/** The part of a standard `WebSocket` the client uses. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Set to "arraybuffer" by the client, so binary messages arrive as `ArrayBuffer` everywhere. */
  binaryType: string;
  /** Sends a frame. */
  send(data: Outgoing): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /**
   * Cuts the connection without a closing handshake, where the socket has it
   * (`ws`, Bun; not the standard API): used for a link given up for dead.
   */
  terminate?(): void;
  /** Called when the socket opens. */
  onopen: ((event: unknown) => void) | null;
  /** Called for each message. */
  onmessage: ((event: { readonly data: unknown }) => void) | null;
  /** Called once, when the socket is closed. */
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null;
  /** Called on an error (a close always follows). */
  onerror: ((event: unknown) => void) | null;
}

/** A constructor of standard WebSockets, such as `globalThis.WebSocket` or `ws`'s `WebSocket`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * The WebSocket constructor to use: `given`, else the global one (browsers,
 * Bun, Deno, Node 22+), else `ws`'s (Node 20 has no global WebSocket). `ws`
 * is imported only then, so no other runtime ever loads it.
 */
export async function webSocketConstructor(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return given;
  const global = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof global === "function") return global as WebSocketConstructor;
  const ws = (await import("ws")) as unknown as { WebSocket?: unknown; default?: unknown };
  return (ws.WebSocket ?? ws.default) as WebSocketConstructor;
}
