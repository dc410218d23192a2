import type { Connection } from "./connection.ts";
import { type BroadcastOptions, Endpoint, type RecordedBroadcastOptions, type ShutdownOptions } from "./endpoint.ts";
import { toJson } from "./session.ts";
import type { History, HistoryEntry } from "./history.ts";
import { type ControllerOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import type { ControllerStats } from "./stats.ts";
import type { UpgradeRequest, UpgradeResult } from "./upgrade.ts";


/** Reaches a controller's engine; for adapters only, not part of the public API. */
export let endpointOf: <UserData>(controller: WebSocketController<UserData>) => Endpoint<UserData>;

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
 * import { type Connection, WebSocketController } from "switchboard";
 * import { serve } from "switchboard";
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
  readonly #endpoint: Endpoint<UserData>;
  /** The last recorded broadcast, which the next one waits for. */
  #lastRecorded: Promise<unknown> = Promise.resolve();

  static {
    endpointOf = (controller) => controller.#endpoint;
  }

  /** Creates the controller; see {@linkcode ControllerOptions} for the defaults. */
  constructor(options: ControllerOptions = {}) {
    this.#endpoint = new Endpoint(this, resolveOptions(options), options.history);
  }

  /** The options in force, defaults filled in. */
  get options(): ResolvedOptions {
    return this.#endpoint.options;
  }

  // --- Hooks ----------------------------------------------------------------

  /**
   * Runs before the 101 response. Return `{ userData, protocol, headers }` (or
   * nothing) to accept, or a `Response` to refuse with its status, headers and
   * body. A throw refuses with 500 and reaches `onError`.
   */
  onUpgrade(_request: UpgradeRequest): UpgradeResult<UserData> | Promise<UpgradeResult<UserData>> {
    return undefined;
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
   * exactly once, after every other hook of the connection; the connection
   * has already left `connections` and every room.
   */
  onDisconnect(_connection: Connection<UserData>, _code: number, _reason: string): void | Promise<void> {}

  /**
   * A hook threw or rejected (`connection` is undefined for `onUpgrade`).
   * Logs to `console.error` unless overridden.
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
    return this.#endpoint.connections;
  }

  /** Rooms with at least one member, by name. */
  get rooms(): ReadonlyMap<string, ReadonlySet<Connection<UserData>>> {
    return this.#endpoint.rooms;
  }

  /** The members of a room (empty when nobody is in it). */
  room(name: string): ReadonlySet<Connection<UserData>> {
    return this.#endpoint.rooms.get(name) ?? new Set();
  }

  /** The message history, per room. */
  get history(): History {
    return this.#endpoint.history;
  }

  /**
   * Sends a text message to every connection, or to a room, minus `except`.
   * Returns the number of recipients; with `record: true` it resolves with the
   * history entry once the message is stored and sent.
   */
  broadcastText(text: string, options: RecordedBroadcastOptions<UserData>): Promise<HistoryEntry>;
  /** Sends without recording; returns the number of recipients. */
  broadcastText(text: string, options?: BroadcastOptions<UserData>): number;
  broadcastText(text: string,
    options?: BroadcastOptions<UserData> | RecordedBroadcastOptions<UserData>,
  ): number | Promise<HistoryEntry> {
    return options?.record ? this.#recordThenSend(text, options) : this.#endpoint.broadcast(text, options);
  }

  /** Like {@linkcode broadcastText} for a binary message; do not change the bytes after sending. */
  broadcastBinary(data: Uint8Array, options: RecordedBroadcastOptions<UserData>): Promise<HistoryEntry>;
  /** Sends without recording; returns the number of recipients. */
  broadcastBinary(data: Uint8Array, options?: BroadcastOptions<UserData>): number;
  broadcastBinary(data: Uint8Array,
    options?: BroadcastOptions<UserData> | RecordedBroadcastOptions<UserData>,
  ): number | Promise<HistoryEntry> {
    return options?.record ? this.#recordThenSend(data, options) : this.#endpoint.broadcast(data, options);
  }

  /** Like {@linkcode broadcastText} with `JSON.stringify(value)`, serialized once. */
  broadcastJson(value: unknown, options: RecordedBroadcastOptions<UserData>): Promise<HistoryEntry>;
  /** Sends without recording; returns the number of recipients. */
  broadcastJson(value: unknown, options?: BroadcastOptions<UserData>): number;
  broadcastJson(value: unknown,
    options?: BroadcastOptions<UserData> | RecordedBroadcastOptions<UserData>,
  ): number | Promise<HistoryEntry> {
    return this.broadcastText(toJson(value), options as RecordedBroadcastOptions<UserData>);
  }

  #recordThenSend(data: string | Uint8Array, options: RecordedBroadcastOptions<UserData>): Promise<HistoryEntry> {
    if (options.room === undefined) {
      return Promise.reject(new TypeError("Cannot record a broadcast as 'room' is missing: history is kept per room"));
    }
    const endpoint = this.#endpoint;
    // Appending starts now, so ids follow the calls; sending waits for the previous recorded
    // broadcast, so messages go out in id order even when the History answers out of order.
    // Stored before sent: a client that reconnects with `since` cannot miss it.
    const appended = endpoint.history.append(options.room, data);
    const sent = this.#lastRecorded.then(() => appended).then((entry) => {
      endpoint.broadcast(data, options);
      return entry;
    });
    this.#lastRecorded = sent.catch(() => undefined);
    return sent;
  }

  /** Counters: connections, rooms, history size, traffic, refusals, closes by code. */
  stats(): Promise<ControllerStats> {
    return this.#endpoint.snapshot();
  }

  /**
   * Closes every connection (1001 by default) and resolves when each one's
   * `onDisconnect` has run; clients that do not answer within `timeout` are
   * terminated. An `onDisconnect` that has not settled a second after that
   * is not waited for. The controller is done for good: new upgrades are
   * refused with 503 from then on.
   */
  shutdown(options?: ShutdownOptions): Promise<void> {
    return this.#endpoint.shutdown(options);
  }
}
