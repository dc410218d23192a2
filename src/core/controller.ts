import { registerHub } from "./_access.ts";
import { checkCloseFrame, checkKnownKeys, checkNumber, checkOptionsObject, describe } from "./_check.ts";
import { type Except, Hub } from "./_hub.ts";
import { toJson } from "./_session.ts";
import { CloseCode } from "./close-codes.ts";
import type { Connection } from "./connection.ts";
import type { History, HistoryEntry, HistoryMeta, Position } from "./history.ts";
import type { PresenceChange, PresenceEntry } from "./presence.ts";
import { type ControllerOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import type { ControllerStats } from "./stats.ts";
import type { UpgradeRequest, UpgradeResult } from "./upgrade.ts";

/** Who a broadcast reaches. */
export interface BroadcastOptions<UserData> {
  /** Only the members of this room (default: every connection of the controller). */
  room?: string;
  /** Leave out this connection or these connections (or their ids), typically the sender. */
  except?: Connection<UserData> | string | Iterable<Connection<UserData> | string>;
  /** Recording needs a room: see {@linkcode RecordedBroadcastOptions}. */
  record?: false;
}

/**
 * {@linkcode BroadcastOptions} of a broadcast that is also recorded in the
 * room's history: stored first, then sent, in the order of the calls per room.
 */
export interface RecordedBroadcastOptions<UserData> extends Omit<BroadcastOptions<UserData>, "record"> {
  /** The room whose history records the message. */
  room: string;
  /** Record the message. */
  record: true;
}

/** Options of `shutdown()`. */
export interface ShutdownOptions {
  /** Close code sent to every client (default 1001, going away). */
  code?: number;
  /** Close reason (default "Server shutting down"). */
  reason?: string;
  /** Milliseconds to wait for clients to answer before terminating them (default: the controller's `closeTimeout`). */
  timeout?: number;
  /**
   * Spreads the reconnects after a restart or deploy: each connection is
   * first sent a `reconnect` frame of the wire protocol with its own delay,
   * drawn uniformly from 0 to this many milliseconds, which
   * `switchboard/client` waits exactly. Default: none sent (clients use their
   * own backoff).
   */
  reconnectWithin?: number;
}

const BROADCAST_KEYS: ReadonlySet<string> = new Set(["room", "except", "record"]);
const SHUTDOWN_KEYS: ReadonlySet<string> = new Set(["code", "reason", "timeout", "reconnectWithin"]);

/**
 * One WebSocket endpoint: extend it, override the hooks you need, and hand an
 * instance to an adapter. One instance serves every connection of its
 * endpoint for the life of the server.
 *
 * Hooks may be sync or async. For one connection they run in order: a
 * message's hook finishes before the next message's hook starts, and
 * `onDisconnect` comes last, exactly once. A hook that throws or rejects
 * reaches `onError`; the connection, the others and the process carry on.
 *
 * @example
 * ```ts
 * import { type Connection, serve, WebSocketController } from "switchboard";
 *
 * class Echo extends WebSocketController {
 *   override onTextMessage(conn: Connection, text: string) {
 *     conn.sendText(text);
 *   }
 * }
 * const server = await serve({ port: 8080, routes: { "/echo": new Echo() } });
 * ```
 */
export class WebSocketController<UserData = undefined> {
  readonly #hub: Hub<UserData>;

  /** Creates the controller; see {@linkcode ControllerOptions} for the defaults. */
  constructor(options: ControllerOptions = {}) {
    const resolved = resolveOptions(options);
    this.#hub = new Hub<UserData>(this, resolved, options.history, options.name, options.engine);
    registerHub(this, this.#hub as Hub<unknown>);
  }

  /** The options in force, defaults filled in. */
  get options(): ResolvedOptions {
    return this.#hub.options;
  }

  /**
   * The endpoint's name, the same on every process that serves it: the
   * `name` option, else the first route the controller is served on, else
   * its class name.
   */
  get name(): string {
    return this.#hub.name;
  }

  // --- Hooks ----------------------------------------------------------------

  /**
   * Runs before the 101 response, once the request is a valid WebSocket
   * handshake. Return `{ userData, protocol, headers }` to accept (or
   * nothing, when `UserData` may be undefined), or a `Response` to refuse
   * with its status, headers and body. A throw refuses with 500 and reaches
   * `onError`; so does any other return value.
   */
  onUpgrade(_request: UpgradeRequest): UpgradeResult<UserData> | Promise<UpgradeResult<UserData>> {
    return undefined as unknown as UpgradeResult<UserData>;
  }

  /** A connection opened; it is already in `connections`. */
  onConnect(_connection: Connection<UserData>): void | Promise<void> {}

  /** A text message arrived, decoded from UTF-8. */
  onTextMessage(_connection: Connection<UserData>, _text: string): void | Promise<void> {}

  /** A binary message arrived. */
  onBinaryMessage(_connection: Connection<UserData>, _data: Uint8Array): void | Promise<void> {}

  /** A ping frame arrived (already answered). Not on Deno, which hides pings. */
  onPing(_connection: Connection<UserData>, _data: Uint8Array): void | Promise<void> {}

  /** A pong frame arrived. Not on Deno, which hides pongs. */
  onPong(_connection: Connection<UserData>, _data: Uint8Array): void | Promise<void> {}

  /**
   * The connection closed, with the client's code and reason, or the server's
   * when the server closed it (1006 for an end without a close frame). Runs
   * exactly once, after every other hook of the connection (see `hookTimeout`
   * for a hook that never settles); the connection has already left
   * `connections` and every room.
   */
  onDisconnect(_connection: Connection<UserData>, _code: number, _reason: string): void | Promise<void> {}

  /**
   * With an engine: the room's recorded messages could not reach this
   * connection without a gap (Redis lost them, or failed over to a replica
   * that had not got them all), so what the client holds of the room may be
   * wrong. Live messages go on from `position`. By default the connection is
   * closed with 1012 ("Resync"), so that the client reconnects and joins
   * with its position, which then answers `complete: false` with the latest
   * messages. Override it to start again in-band, for example with
   * `conn.leave(room)` and `await conn.join(room, {})`.
   */
  onResync(connection: Connection<UserData>, _room: string, _position: Position): void | Promise<void> {
    connection.close(CloseCode.ServiceRestart, "Resync");
  }

  /**
   * A presence joined a room, changed its data, or left it (see
   * `conn.setPresence`). Runs once per change, on the one process that made
   * it (or, for a crashed process's presences, on the process that found
   * their lease expired), so a broadcast from here reaches the room once.
   */
  onPresence(_change: PresenceChange): void | Promise<void> {}

  /**
   * A hook threw or rejected, or the library met a condition about a hook
   * (a `SwitchboardError` with its `code`); `connection` is undefined for
   * `onUpgrade`. Logs to `console.error` unless overridden.
   */
  onError(connection: Connection<UserData> | undefined, error: Error): void | Promise<void> {
    console.error(`switchboard: hook failed${connection ? ` for connection ${connection.id}` : ""}:`, error);
  }

  // --- Helpers ----------------------------------------------------------------

  /**
   * Connections by id, from `onConnect` until their close completes; one the
   * server is closing is still here with `readyState` 2 until the client
   * answers or `closeTimeout` passes. Broadcasts skip those.
   */
  get connections(): ReadonlyMap<string, Connection<UserData>> {
    return this.#hub.connections;
  }

  /** Rooms with at least one member, by name (a connection joining with catch-up counts once it has joined). */
  get rooms(): ReadonlyMap<string, ReadonlySet<Connection<UserData>>> {
    return this.#hub.rooms;
  }

  /** The members of a room (empty when nobody is in it). */
  room(name: string): ReadonlySet<Connection<UserData>> {
    return this.#hub.rooms.get(name) ?? new Set();
  }

  /** Who is in a room, across every process of the endpoint: one entry per presence key. */
  presence(room: string): Promise<PresenceEntry[]> {
    return this.#hub.listPresence(room);
  }

  /** The message history, per room. */
  get history(): History {
    return this.#hub.history;
  }

  /**
   * Sends a text message to every connection, or to a room, minus `except`;
   * returns the number of recipients. With `record: true` the message is
   * stored in the room's history first, and this resolves with its entry once
   * stored and sent; pass a function to build the message from its position,
   * so that it carries its own id and epoch.
   */
  broadcastText(text: string | ((meta: HistoryMeta) => string), options: RecordedBroadcastOptions<UserData>): Promise<HistoryEntry<string>>;
  /** Sends without recording; returns the number of recipients. */
  broadcastText(text: string, options?: BroadcastOptions<UserData>): number;
  broadcastText(
    text: string | ((meta: HistoryMeta) => string),
    options?: BroadcastOptions<UserData> | RecordedBroadcastOptions<UserData>,
  ): number | Promise<HistoryEntry<string>> {
    if (options?.record === true) return this.#record("broadcastText", text, options, isText);
    if (typeof text !== "string") {
      throw new TypeError(`Cannot broadcastText() as 'text' must be a string: current value is ${describe(text)}`);
    }
    return this.#hub.publish(checkBroadcastOptions(options)?.room, text, options?.except as Except<UserData>);
  }

  /** Like {@linkcode broadcastText} for a binary message; do not change the bytes after sending. */
  broadcastBinary(
    data: Uint8Array | ((meta: HistoryMeta) => Uint8Array),
    options: RecordedBroadcastOptions<UserData>,
  ): Promise<HistoryEntry<Uint8Array>>;
  /** Sends without recording; returns the number of recipients. */
  broadcastBinary(data: Uint8Array, options?: BroadcastOptions<UserData>): number;
  broadcastBinary(
    data: Uint8Array | ((meta: HistoryMeta) => Uint8Array),
    options?: BroadcastOptions<UserData> | RecordedBroadcastOptions<UserData>,
  ): number | Promise<HistoryEntry<Uint8Array>> {
    if (options?.record === true) return this.#record("broadcastBinary", data, options, isBinary);
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(`Cannot broadcastBinary() as 'data' must be a Uint8Array: current value is ${describe(data)}`);
    }
    return this.#hub.publish(checkBroadcastOptions(options)?.room, data, options?.except as Except<UserData>);
  }

  /**
   * Like {@linkcode broadcastText} with `JSON.stringify(value)`, serialized
   * once. Recorded, `value` may be a function of the message's position.
   *
   * @example
   * ```ts
   * import { type Connection, WebSocketController } from "switchboard";
   *
   * class Chat extends WebSocketController {
   *   override async onTextMessage(_conn: Connection, text: string) {
   *     // The message carries its own position, for clients that resume.
   *     await this.broadcastJson(({ id, epoch }) => ({ type: "message", id, epoch, text }), { room: "general", record: true });
   *   }
   * }
   * ```
   */
  broadcastJson(build: (meta: HistoryMeta) => unknown, options: RecordedBroadcastOptions<UserData>): Promise<HistoryEntry<string>>;
  /** Records and sends `value` as JSON. */
  broadcastJson(value: unknown, options: RecordedBroadcastOptions<UserData>): Promise<HistoryEntry<string>>;
  /** Sends without recording; returns the number of recipients. */
  broadcastJson(value: unknown, options?: BroadcastOptions<UserData>): number;
  broadcastJson(value: unknown, options?: BroadcastOptions<UserData> | RecordedBroadcastOptions<UserData>): number | Promise<HistoryEntry<string>> {
    if (options?.record === true) {
      const json = typeof value === "function" ? (meta: HistoryMeta) => toJson((value as (meta: HistoryMeta) => unknown)(meta)) : toJson(value);
      return this.#record("broadcastJson", json, options, isText);
    }
    return this.#hub.publish(checkBroadcastOptions(options)?.room, toJson(value), options?.except as Except<UserData>);
  }

  #record<Data extends string | Uint8Array>(
    method: string,
    data: Data | ((meta: HistoryMeta) => Data),
    options: RecordedBroadcastOptions<UserData>,
    isData: (value: unknown) => value is Data,
  ): Promise<HistoryEntry<Data>> {
    try {
      checkBroadcastOptions(options);
      if (options.room === undefined) {
        throw new TypeError(`Cannot ${method}() with record: true as 'room' is missing: history is kept per room`);
      }
      if (typeof data !== "function" && !isData(data)) {
        throw new TypeError(`Cannot ${method}() as the message must be ${method === "broadcastBinary" ? "a Uint8Array" : "a string"} or a function of its position: current value is ${describe(data)}`);
      }
      const checked = typeof data === "function"
        ? (meta: HistoryMeta): Data => {
          const built = data(meta);
          if (!isData(built)) throw new TypeError(`Cannot ${method}() as the builder must return ${method === "broadcastBinary" ? "a Uint8Array" : "a string"}: it returned ${describe(built)}`);
          return built;
        }
        : data;
      return this.#hub.publishRecorded(options.room, checked, options.except as Except<UserData>);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Counters: connections, rooms, history size, traffic, refusals, closes by code. */
  stats(): Promise<ControllerStats> {
    return this.#hub.snapshot();
  }

  /**
   * Closes every connection (1001 by default) and resolves when each one's
   * `onDisconnect` has run; clients that do not answer within `timeout`
   * (default: `closeTimeout`) are terminated. An `onDisconnect` that has not
   * settled `hookTimeout` plus a second after that is not waited for. The
   * controller is done for good: new upgrades are refused with 503 from then on.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    try {
      checkOptionsObject("shut down", options);
      checkKnownKeys("shut down", options, SHUTDOWN_KEYS);
      const { code = CloseCode.GoingAway, reason = "Server shutting down" } = options;
      checkCloseFrame("shut down", code, reason);
      const timeout = checkNumber("shut down", "timeout", options.timeout, this.#hub.options.closeTimeout, { min: 0 });
      const reconnectWithin = options.reconnectWithin === undefined
        ? undefined
        : checkNumber("shut down", "reconnectWithin", options.reconnectWithin, 0, { min: 0 });
      return this.#hub.shutdown(code, reason, timeout, reconnectWithin);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

function isText(value: unknown): value is string {
  return typeof value === "string";
}

function isBinary(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function checkBroadcastOptions<T extends object | undefined>(options: T): T {
  checkOptionsObject("broadcast", options);
  if (options !== undefined) checkKnownKeys("broadcast", options, BROADCAST_KEYS);
  return options;
}
