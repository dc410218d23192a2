/**
 * The History contract: where recorded messages are kept, per room, each at a
 * {@linkcode Position}. {@linkcode MemoryHistory} is the default.
 *
 * @module
 */

/** What a history entry holds: the message exactly as it was sent. */
export type HistoryData = string | Uint8Array;

/**
 * Where a recorded message stands in its room. Ids increase by one per
 * message within an epoch; the epoch changes whenever the room's ids could
 * restart or diverge (a new history, `clear()`, an evicted room, and in other
 * histories a lost stream or a failover). An id means nothing in another epoch.
 *
 * The epoch `""` is the position of a room that has no log yet: id 0, before
 * anything.
 */
export interface Position {
  /** Names one run of ids of the room. */
  readonly epoch: string;
  /** The id of the last message at this position (0: before the first). */
  readonly id: number;
}

/** The position, id and time a history gives a message before it is stored. */
export interface HistoryMeta extends Position {
  /** The room the message is recorded in. */
  readonly room: string;
  /** When it is recorded, in milliseconds since the epoch (1970). */
  readonly timestamp: number;
}

/** One recorded message: its {@linkcode HistoryMeta} and its data. */
export interface HistoryEntry<Data extends HistoryData = HistoryData> extends HistoryMeta {
  /** The message as sent. */
  readonly data: Data;
}

/**
 * The answer of {@linkcode History.since}: exactly the entries after the given
 * position (`complete: true`), or word that they can no longer all be given
 * (`complete: false`, no entries): they fell out of the bounded log, the
 * position is from another epoch, or its id was never issued. `position` is
 * the room's position when it was read.
 */
export type SinceResult =
  | { readonly complete: true; readonly entries: HistoryEntry[]; readonly position: Position }
  | { readonly complete: false; readonly entries: readonly []; readonly position: Position };

/**
 * Where recorded messages are kept, per room. Async so that a Redis Streams or
 * database implementation can replace {@linkcode MemoryHistory} without
 * changing a controller.
 *
 * An implementation must give ids in the order of the `append` calls (the
 * controller sends recorded messages in call order), and a read must see
 * every append that resolved before the read was called.
 */
export interface History {
  /**
   * Records a message. Pass a function to build the message from the meta it
   * gets (id, epoch, timestamp), so that the message can carry its own position.
   */
  append(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData)): Promise<HistoryEntry>;
  /** The newest `limit` entries of a room (all kept entries by default), oldest first. */
  recent(room: string, limit?: number): Promise<HistoryEntry[]>;
  /**
   * Every entry after `since`, oldest first, or `complete: false` when that is
   * no longer possible. A bare id means an id of the room's current epoch.
   */
  since(room: string, since: Position | number): Promise<SinceResult>;
  /** The room's current position: its epoch and the id of its last message. */
  position(room: string): Promise<Position>;
  /** Entries kept in one room, or in all rooms when `room` is omitted. */
  count(room?: string): Promise<number>;
  /** The rooms that have a log. */
  rooms(): Promise<string[]>;
  /** Forgets one room, or every room; a forgotten room starts a new epoch. */
  clear(room?: string): Promise<void>;
}

/** The position of a room without a log: before anything, in no epoch. */
export const NO_POSITION: Position = Object.freeze({ epoch: "", id: 0 });

/**
 * Reads a position from its wire form: `since` (an id) and `epoch` as a
 * client sends them, for example from the query string
 * `?since=<id>&epoch=<epoch>`. A missing or malformed id gives `undefined`;
 * a missing epoch gives the bare id (the current epoch is assumed).
 *
 * @example
 * ```ts
 * import { parsePosition } from "switchboard";
 *
 * const query = new URL("ws://example.test/chat?since=41&epoch=AbCdEf012345").searchParams;
 * const since = parsePosition(query.get("since"), query.get("epoch")); // { epoch: "AbCdEf012345", id: 41 }
 * ```
 */
export function parsePosition(since: string | null | undefined, epoch?: string | null): Position | number | undefined {
  if (typeof since !== "string" || !/^\d{1,15}$/.test(since)) return undefined;
  const id = Number(since);
  return typeof epoch === "string" && epoch.length > 0 ? { epoch, id } : id;
}
