/**
 * The Engine contract: what carries a controller's broadcasts, recorded
 * history and presence across processes. Without an engine a controller
 * keeps everything in its own process; `switchboard/redis` provides one on
 * Redis. Experimental: the contract may change before 1.0.
 *
 * @module
 */

import type { History, HistoryData, HistoryEntry, HistoryMeta, Position } from "./history.ts";
import type { PresenceStore } from "./presence.ts";

/**
 * What an engine calls on the endpoint it carries (one controller of this
 * process): to deliver messages of other processes (and recorded messages of
 * its own) to the local sockets, and to report trouble.
 */
export interface EngineEndpoint {
  /** The endpoint's name: controllers of the same name on different processes are one endpoint. */
  readonly name: string;
  /** The controller's `historySize` and `historyTtl`: they bound the engine's history of this endpoint. */
  readonly options: { readonly historySize: number; readonly historyTtl: number };
  /**
   * Sends a message to this process's sockets of `room` (every socket when
   * `room` is undefined), minus the connections whose ids are in `except`.
   * `position` is a recorded message's own; recorded messages of a room come
   * here once each, in id order.
   */
  deliver(room: string | undefined, data: string | Uint8Array, except: readonly string[], position: Position | undefined): void;
  /**
   * The room's recorded messages can no longer be delivered without a gap
   * (the stream lost them, or the room's epoch changed): its local members
   * must start again from the history. Live messages go on from `position`.
   */
  resync(room: string, position: Position): void;
  /** Closes every local connection, for example after the engine has been degraded for its grace. */
  closeAll(code: number, reason: string): void;
}

/** `"up"` while the engine carries messages; `"degraded"` while its link is down. */
export type EngineState = "up" | "degraded";

/** Counters of an engine, as `stats().engine` shows them. */
export interface EngineStats {
  /** Whether the engine's link is up. */
  readonly state: EngineState;
  /** When the engine became degraded, in milliseconds since 1970; 0 while up. */
  readonly degradedSince: number;
  /** Rooms this process is subscribed to. */
  readonly rooms: number;
  /** Gaps in a room's live messages that were filled from the history before delivery. */
  readonly gapsRepaired: number;
  /** Times a room's local members were told to start again from the history. */
  readonly resyncs: number;
}

/**
 * The engine's side of one endpoint: the calls a controller makes instead of
 * delivering in-process. Ids of recorded messages are the same on every
 * process of the endpoint.
 */
export interface EndpointEngine {
  /** The endpoint's history, shared by all its processes. */
  readonly history: History;
  /** Where the endpoint's presences are kept, for all its processes. */
  readonly presence: PresenceStore;
  /**
   * Sends a message to the other processes' sockets of `room` (or of the
   * endpoint): at most once, with no position. This process's own sockets
   * are not included: the controller has sent to them already.
   */
  publish(room: string | undefined, data: string | Uint8Array, except: readonly string[]): void;
  /**
   * Records a message in the room's history and publishes it to every
   * process, this one included (through {@linkcode EngineEndpoint.deliver}).
   * Ids follow the order of the calls of this process for the room. A
   * builder may be called more than once (with a new id each time) when
   * another process records in the room at the same moment.
   */
  record(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData), except: readonly string[]): Promise<HistoryEntry>;
  /**
   * Starts delivering the room's messages to this process. Resolves once
   * they flow: a history read started after that sees every message that
   * is not delivered live.
   */
  subscribe(room: string): Promise<void>;
  /** Stops delivering the room's messages to this process. */
  unsubscribe(room: string): void;
  /**
   * Runs `then` once every recorded message of `room` up to `position` has
   * been delivered here (at once when it has, or when the room is not
   * subscribed): a join with catch-up ends there.
   */
  afterDelivered(room: string, position: Position | undefined, then: () => void): void;
  /** Whether recorded broadcasts and history reads can be served now. */
  readonly state: EngineState;
  /**
   * `false` while the engine has been degraded for longer than it tolerates
   * (the Redis engine's `degradedGrace`): new upgrades are then refused with 503.
   */
  readonly accepting: boolean;
  /** The engine's counters for this endpoint. */
  stats(): EngineStats;
  /** Stops this endpoint's subscriptions and timers. */
  close(): Promise<void>;
}

/**
 * Carries endpoints across processes; one engine serves any number of
 * controllers (each by its name).
 *
 * @example
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { WebSocketController } from "switchboard";
 * import { RedisEngine } from "switchboard/redis";
 *
 * const engine = new RedisEngine({ client: new Redis(process.env.REDIS_URL!) });
 * class Chat extends WebSocketController {}
 * const chat = new Chat({ name: "chat", engine }); // the name is required with an engine
 * ```
 */
export interface Engine {
  /** Connects one endpoint (a controller of this process) to the engine. */
  connect(endpoint: EngineEndpoint): EndpointEngine;
}
