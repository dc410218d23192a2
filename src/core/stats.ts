import type { EngineStats } from "./engine.ts";

/** Counters of one controller, as returned by `stats()`. */
export interface ControllerStats {
  /** Open connections. */
  readonly connections: number;
  /** Rooms with at least one member. */
  readonly rooms: number;
  /** Messages kept in history, over all rooms; `NaN` when the controller's engine cannot read its history now (degraded). */
  readonly messagesInHistory: number;
  /** Messages received. */
  readonly messagesIn: number;
  /** Bytes of message payload received. */
  readonly bytesIn: number;
  /** Messages handed to the runtime for sending (a broadcast counts once per recipient). */
  readonly messagesOut: number;
  /** Bytes of message payload handed to the runtime for sending. */
  readonly bytesOut: number;
  /** Messages not sent because a connection was past `maxBufferedAmount`. */
  readonly droppedMessages: number;
  /** Messages refused by `rateLimit` (they count in `messagesIn` and `bytesIn` too): never given to the hooks. */
  readonly rateLimited: number;
  /** Upgrades refused (by `onUpgrade`, a subprotocol mismatch, a failing hook or a shutdown). */
  readonly rejectedUpgrades: number;
  /** Closed connections by close code, e.g. `{ "1000": 12, "1009": 1 }`. */
  readonly closesByCode: Readonly<Record<string, number>>;
  /** The engine's state and counters, when the controller has an engine. */
  readonly engine: EngineStats | undefined;
}

/** The mutable counters behind {@linkcode ControllerStats}. */
export class StatCounters {
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  droppedMessages = 0;
  rateLimited = 0;
  rejectedUpgrades = 0;
  readonly closesByCode: Record<string, number> = {};

  countClose(code: number): void {
    this.closesByCode[code] = (this.closesByCode[code] ?? 0) + 1;
  }
}
