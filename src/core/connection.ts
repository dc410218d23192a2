import type { HistoryEntry, Position } from "./history.ts";
import type { UpgradeRequest } from "./upgrade.ts";

/** Options of {@linkcode Connection.join} with catch-up. */
export interface JoinOptions {
  /**
   * The position the client last saw, as it sent it back (a bare id means the
   * room's current epoch). Without it, or when the history can no longer
   * give everything after it, the catch-up is the room's latest messages.
   */
  since?: Position | number;
  /** At most this many latest messages when the catch-up is not a resume (default: all the history keeps). */
  limit?: number;
}

/** Options of {@linkcode Connection.setPresence}. */
export interface PresenceOptions {
  /**
   * Who the presence is: connections with one key (a user's tabs, a client
   * that reconnects with its session id) are one presence. Default: the
   * connection's id.
   */
  key?: string;
}

/** What {@linkcode Connection.join} with catch-up resolves with. */
export interface CatchUp {
  /**
   * `true` when `entries` are exactly the messages after `since`; `false`
   * when there was no `since`, or it is from another epoch, or some
   * messages after it are gone: `entries` are then the latest messages.
   */
  readonly complete: boolean;
  /** Recorded messages to show before the live ones, oldest first. */
  readonly entries: HistoryEntry[];
  /** The room's position after `entries`: live messages continue from here. */
  readonly position: Position;
}

/**
 * One client connection, the same object for every hook of its life.
 *
 * @example
 * ```ts
 * import { type Connection, WebSocketController } from "switchboard";
 *
 * class Chat extends WebSocketController<{ name: string }> {
 *   override onUpgrade() {
 *     return { userData: { name: "guest" } };
 *   }
 *   override onTextMessage(conn: Connection<{ name: string }>, text: string) {
 *     conn.customData.set("last", text);
 *     conn.sendJson({ from: conn.userData.name, text });
 *   }
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
   * A value that is not a string is a TypeError, and nothing is sent.
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
  /**
   * Drops the connection at once, without a closing handshake. `onDisconnect`
   * gets 1006, or the server's code if it had started closing. Deno cannot cut
   * a socket: there the connection is forgotten and Deno ends it later.
   */
  terminate(): void;
  /** Joins a room; broadcasts to the room reach this connection from now on. */
  join(room: string): void;
  /**
   * Joins a room and catches up in one step: every recorded message of the
   * room is either in what this resolves with or delivered live after it,
   * never both, never neither, whatever the history's latency. Live messages
   * of the room start once the hook that joined has finished, so what the
   * hook sends (the catch-up, say) comes first. Rejects with a
   * `SwitchboardError` (`"ALREADY_JOINED"`, or `"HISTORY_FAILED"` with the
   * history's error as `cause`).
   *
   * @example
   * ```ts
   * import { type Connection, parsePosition, WebSocketController } from "switchboard";
   *
   * class Chat extends WebSocketController {
   *   override async onConnect(conn: Connection) {
   *     const since = parsePosition(conn.request.query.get("since"), conn.request.query.get("epoch"));
   *     const { complete, entries, position } = await conn.join("general", { since });
   *     conn.sendJson({ type: "welcome", resumed: complete, position, history: entries.map((e) => e.data) });
   *   }
   * }
   * ```
   */
  join(room: string, options: JoinOptions): Promise<CatchUp>;
  /** Leaves a room; its presence there goes too (after `presenceGrace`). */
  leave(room: string): void;
  /**
   * Sets this connection's presence in a room it is in: `data` (JSON) under
   * `key`, listed by `controller.presence(room)` on every process. The
   * controller's `onPresence` runs once, on one process, for each join,
   * update and leave of a key. It goes when the connection leaves the room
   * or closes, after `presenceGrace`: a client back within it (on any
   * process, with the same key) is neither announced as gone nor as back.
   * Rejects with a TypeError for a room it is not in, or data JSON cannot hold.
   *
   * @example
   * ```ts
   * import { type Connection, type PresenceChange, WebSocketController } from "switchboard";
   *
   * class Chat extends WebSocketController<{ name: string; session: string }> {
   *   override async onConnect(conn: Connection<{ name: string; session: string }>) {
   *     conn.join("general");
   *     await conn.setPresence("general", { name: conn.userData.name }, { key: conn.userData.session });
   *   }
   *   override onPresence(change: PresenceChange) {
   *     // Runs on one process per change: a broadcast from here reaches the room once.
   *     this.broadcastJson({ type: change.type, who: change.data }, { room: change.room });
   *   }
   * }
   * ```
   */
  setPresence(room: string, data: unknown, options?: PresenceOptions): Promise<void>;
}
