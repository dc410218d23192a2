/** What a history entry holds: the message exactly as it was sent. */
export type HistoryData = string | Uint8Array;

/** One recorded message. */
export interface HistoryEntry {
  /** Increases by one with each message recorded in the room; the first is 1. */
  readonly id: number;
  /** The room the message was recorded in. */
  readonly room: string;
  /** When it was recorded, in milliseconds since the epoch. */
  readonly timestamp: number;
  /** The message as sent. */
  readonly data: HistoryData;
}

/** The id and time a history assigns to a message before it is stored. */
export interface HistoryMeta {
  /** The id the message will have. */
  readonly id: number;
  /** When it is recorded, in milliseconds since the epoch. */
  readonly timestamp: number;
}

/**
 * The answer of {@linkcode History.since}: either exactly the entries after the
 * given id (`complete: true`), or word that they can no longer all be given
 * (`complete: false`, no entries) because they fell out of the bounded log or
 * the id was never issued.
 */
export type SinceResult =
  | { readonly complete: true; readonly entries: HistoryEntry[] }
  | { readonly complete: false; readonly entries: readonly [] };

/**
 * Where recorded messages are kept, per room. Async so that a Redis Streams or
 * database implementation can replace {@linkcode MemoryHistory} without
 * changing a controller.
 */
export interface History {
  /**
   * Records a message. Pass a function to build the message from the id and
   * timestamp it gets, so the message can carry its own id.
   */
  append(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData)): Promise<HistoryEntry>;
  /** The newest `limit` entries of a room (all kept entries by default), oldest first. */
  recent(room: string, limit?: number): Promise<HistoryEntry[]>;
  /** Every entry after `id`, oldest first, or `complete: false` when that is no longer possible. */
  since(room: string, id: number): Promise<SinceResult>;
  /** Entries kept in one room, or in all rooms when `room` is omitted. */
  count(room?: string): Promise<number>;
  /** Forgets one room, or every room. */
  clear(room?: string): Promise<void>;
}

/** A bounded log for one room: a ring buffer, so appending never shifts an array. */
class RoomLog {
  readonly #entries: (HistoryEntry | undefined)[];
  #start = 0;
  #length = 0;
  #lastId = 0;

  constructor(capacity: number) {
    this.#entries = new Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  get lastId(): number {
    return this.#lastId;
  }

  append(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData)): HistoryEntry {
    const id = this.#lastId + 1;
    const timestamp = Date.now();
    const entry: HistoryEntry = {
      id,
      room,
      timestamp,
      data: typeof data === "function" ? data({ id, timestamp }) : data,
    };
    this.#lastId = id;
    const capacity = this.#entries.length;
    if (capacity === 0) return entry;
    if (this.#length < capacity) {
      this.#entries[(this.#start + this.#length) % capacity] = entry;
      this.#length++;
    } else {
      this.#entries[this.#start] = entry;
      this.#start = (this.#start + 1) % capacity;
    }
    return entry;
  }

  /** The newest `limit` entries, oldest first. */
  newest(limit: number): HistoryEntry[] {
    const count = Math.min(limit, this.#length);
    const out: HistoryEntry[] = new Array(count);
    const capacity = this.#entries.length;
    const first = this.#length - count;
    for (let i = 0; i < count; i++) {
      out[i] = this.#entries[(this.#start + first + i) % capacity]!;
    }
    return out;
  }
}

/**
 * The default {@linkcode History}: in memory, per room, keeping the newest
 * `size` messages of each room.
 *
 * @example
 * ```ts
 * const history = new MemoryHistory({ size: 100 });
 * const { id } = await history.append("general", "hello");
 * const missed = await history.since("general", id - 1); // { complete: true, entries: [hello] }
 * ```
 */
export class MemoryHistory implements History {
  readonly #size: number;
  readonly #rooms: Map<string, RoomLog> = new Map();

  /** Creates a history that keeps the newest `size` messages per room (default 100). */
  constructor(options: { size?: number } = {}) {
    const size = options.size ?? 100;
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`Cannot create history as 'size' must be a non-negative integer: current value is ${size}`);
    }
    this.#size = size;
  }

  /** The number of messages kept per room. */
  get size(): number {
    return this.#size;
  }

  /** Records a message and resolves with its entry. */
  append(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData)): Promise<HistoryEntry> {
    let log = this.#rooms.get(room);
    if (!log) {
      log = new RoomLog(this.#size);
      this.#rooms.set(room, log);
    }
    return Promise.resolve(log.append(room, data));
  }

  /** The newest `limit` entries of a room, oldest first. */
  recent(room: string, limit: number = this.#size): Promise<HistoryEntry[]> {
    // A fractional limit would reach `new Array(2.5)` and throw synchronously from a promise-returning method.
    if (typeof limit !== "number" || Number.isNaN(limit)) {
      return Promise.reject(new RangeError(`Cannot read history as 'limit' must be a number: current value is ${String(limit)}`));
    }
    const log = this.#rooms.get(room);
    return Promise.resolve(log ? log.newest(Math.max(0, Math.floor(limit))) : []);
  }

  /** Every entry after `id`, or `complete: false` when some fell out or `id` was never issued. */
  since(room: string, id: number): Promise<SinceResult> {
    const log = this.#rooms.get(room);
    const lastId = log?.lastId ?? 0;
    if (!Number.isInteger(id) || id < 0 || id > lastId) return Promise.resolve({ complete: false, entries: [] });
    const missed = lastId - id;
    if (!log || missed > log.length) {
      return Promise.resolve(missed === 0 ? { complete: true, entries: [] } : { complete: false, entries: [] });
    }
    return Promise.resolve({ complete: true, entries: log.newest(missed) });
  }

  /** Entries kept in one room, or in all rooms. */
  count(room?: string): Promise<number> {
    if (room !== undefined) return Promise.resolve(this.#rooms.get(room)?.length ?? 0);
    let total = 0;
    for (const log of this.#rooms.values()) total += log.length;
    return Promise.resolve(total);
  }

  /** Forgets one room, or every room; ids of a cleared room start again at 1. */
  clear(room?: string): Promise<void> {
    if (room === undefined) this.#rooms.clear();
    else this.#rooms.delete(room);
    return Promise.resolve();
  }
}
