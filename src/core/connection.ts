import type { UpgradeRequest } from "./upgrade.ts";

/**
 * One client connection, the same object for every hook of its life.
 *
 * @example
 * ```ts
 * override onTextMessage(conn: Connection<{ name: string }>, text: string) {
 *   conn.customData.set("last", text);
 *   conn.sendJson({ from: conn.userData.name, text });
 * }
 * ```
 */
export interface Connection<UserData = undefined> {
  /** Unique, URL-safe id. */
  readonly id: string;
  /** When the connection opened, in milliseconds since the epoch. */
  readonly connectedAt: number;
  /** When the last message arrived (or the connection opened), in milliseconds since the epoch. */
  readonly lastActivity: number;
  /** Typed application data: set by `onUpgrade`, free to change later. */
  userData: UserData;
  /** Free-form string data for the application. */
  readonly customData: Map<string, string>;
  /** The upgrade request, copied at upgrade time (URL, headers, params, cookies). */
  readonly request: UpgradeRequest;
  /** The client's IP address ("" when unknown). */
  readonly remoteAddress: string;
  /** The negotiated subprotocol ("" when none). */
  readonly protocol: string;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes waiting in this connection's send buffer. */
  readonly bufferedAmount: number;
  /** The rooms this connection is in. */
  readonly rooms: ReadonlySet<string>;
  /**
   * Sends a text message. Returns `false` when it was not sent: the connection
   * is not open, or its buffer is past `maxBufferedAmount` (see `slowConsumerPolicy`).
   */
  sendText(text: string): boolean;
  /**
   * Sends a binary message; returns `false` when it was not sent. The bytes
   * are not copied on every runtime: do not change them after sending.
   */
  sendBinary(data: Uint8Array): boolean;
  /** Sends `JSON.stringify(value)` as text; returns `false` when it was not sent. */
  sendJson(value: unknown): boolean;
  /** Sends a ping frame; returns `false` where the runtime cannot (Deno) or the connection is not open. */
  ping(data?: Uint8Array): boolean;
  /** Sends a pong frame; returns `false` where the runtime cannot (Deno) or the connection is not open. */
  pong(data?: Uint8Array): boolean;
  /**
   * Starts the closing handshake with `code` (default 1000) and `reason` (at
   * most 123 bytes). Terminates the connection if the client has not answered
   * within `closeTimeout`.
   */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once, without a closing handshake (reported as 1006). */
  terminate(): void;
  /** Joins a room; broadcasts to the room reach this connection from now on. */
  join(room: string): void;
  /** Leaves a room. */
  leave(room: string): void;
}
