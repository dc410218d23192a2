import { checkKnownKeys, checkName, checkNumber, checkOptionsObject } from "./_check.ts";
import { newEpoch } from "./_ids.ts";
import { utf8ByteLength } from "./_utf8.ts";
import {
  type History,
  type HistoryData,
  type HistoryEntry,
  type HistoryMeta,
  NO_POSITION,
  type Position,
  type SinceResult,
} from "./history.ts";

/** Bounds of a {@linkcode MemoryHistory}; each has a default. */
export interface MemoryHistoryOptions {
  /** Messages kept per room, the newest. Default 100. */
  size?: number;
  /**
   * Milliseconds a room's history is kept after its last message; then the
   * room is forgotten (and starts a new epoch). Default 24 hours; `Infinity`
   * keeps rooms until another bound evicts them.
   */
  ttl?: number;
  /** Rooms kept; past it the room with the oldest last message is forgotten. Default 10 000. */
  maxRooms?: number;
  /**
   * Bytes of message data kept over all rooms (UTF-8 for text); past it the
   * rooms with the oldest last message are forgotten first, then the oldest
   * entries of the room being written. Default 64 MiB.
   */
  maxBytes?: number;
}

const DEFAULTS: Required<MemoryHistoryOptions> = {
  size: 100,
  ttl: 24 * 60 * 60 * 1000,
  maxRooms: 10_000,
  maxBytes: 64 * 1024 * 1024,
};
const OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(DEFAULTS));

function byteSize(data: HistoryData): number {
  return typeof data === "string" ? utf8ByteLength(data) : data.byteLength;
}

/** The log of one room: a ring buffer of its newest entries, in one epoch. */
class RoomLog {
  readonly epoch: string = newEpoch();
  /** The id of the last message appended (0 before the first). */
  lastId = 0;
  /** When the last message was appended. */
  lastAppend = 0;
  /** Bytes of data of the entries kept. */
  bytes = 0;
  readonly #capacity: number;
  #entries: (HistoryEntry | undefined)[] | undefined;
  #start = 0;
  #length = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get length(): number {
    return this.#length;
  }

  get position(): Position {
    return { epoch: this.epoch, id: this.lastId };
  }

  /** Stores an entry; returns the bytes of the entry it pushed out, if any. */
  push(entry: HistoryEntry, bytes: number): number {
    this.lastId = entry.id;
    this.lastAppend = entry.timestamp;
    if (this.#capacity === 0) return 0;
    const entries = (this.#entries ??= new Array(this.#capacity));
    let freed = 0;
    if (this.#length === this.#capacity) freed = this.dropOldest();
    entries[(this.#start + this.#length) % this.#capacity] = entry;
    this.#length++;
    this.bytes += bytes;
    return freed;
  }

  /** Forgets the oldest entry kept; returns its bytes. */
  dropOldest(): number {
    if (this.#length === 0) return 0;
    const entry = this.#entries![this.#start]!;
    this.#entries![this.#start] = undefined;
    this.#start = (this.#start + 1) % this.#capacity;
    this.#length--;
    const bytes = byteSize(entry.data);
    this.bytes -= bytes;
    return bytes;
  }

  /** The newest `limit` entries, oldest first. */
  newest(limit: number): HistoryEntry[] {
    const count = Math.min(limit, this.#length);
    const out: HistoryEntry[] = new Array(count);
    const first = this.#start + this.#length - count;
    for (let i = 0; i < count; i++) out[i] = this.#entries![(first + i) % this.#capacity]!;
    return out;
  }
}

/**
 * The default {@linkcode History}: in memory, bounded per room and as a
 * whole. Each room keeps its newest `size` messages; a room is forgotten
 * `ttl` after its last message, and past `maxRooms` rooms or `maxBytes` of
 * data the rooms written least recently go first. A forgotten or cleared room
 * starts a new epoch, so a position from before is never answered as complete.
 *
 * @example
 * ```ts
 * import { MemoryHistory } from "switchboard";
 *
 * const history = new MemoryHistory({ size: 100, ttl: 60 * 60 * 1000 });
 * const entry = await history.append("general", "hello");
 * const missed = await history.since("general", { epoch: entry.epoch, id: entry.id - 1 });
 * console.log(missed.complete, missed.entries.length); // true 1
 * ```
 */
export class MemoryHistory implements History {
  readonly #size: number;
  readonly #ttl: number;
  readonly #maxRooms: number;
  readonly #maxBytes: number;
  /** Logs by room, in the order of their last append: the first is the one written least recently. */
  readonly #rooms: Map<string, RoomLog> = new Map();
  #entries = 0;
  #bytes = 0;
  /** A builder is running: an append from inside it would take the same id. */
  #building = false;

  /** Creates an empty history; see {@linkcode MemoryHistoryOptions} for the bounds and defaults. */
  constructor(options: MemoryHistoryOptions = {}) {
    const action = "create history";
    checkOptionsObject(action, options);
    checkKnownKeys(action, options, OPTION_KEYS);
    this.#size = checkNumber(action, "size", options.size, DEFAULTS.size, { min: 0, integer: true });
    this.#ttl = checkNumber(action, "ttl", options.ttl, DEFAULTS.ttl, { min: 1, infinite: true });
    this.#maxRooms = checkNumber(action, "maxRooms", options.maxRooms, DEFAULTS.maxRooms, { min: 1, integer: true, infinite: true });
    this.#maxBytes = checkNumber(action, "maxBytes", options.maxBytes, DEFAULTS.maxBytes, { min: 1, infinite: true });
  }

  /** The number of messages kept per room. */
  get size(): number {
    return this.#size;
  }

  /** Records a message and resolves with its entry. */
  append<Data extends HistoryData>(room: string, data: Data | ((meta: HistoryMeta) => Data)): Promise<HistoryEntry<Data>> {
    try {
      checkName("append to history", "room", room);
      return Promise.resolve(this.#append(room, data));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #append<Data extends HistoryData>(room: string, data: Data | ((meta: HistoryMeta) => Data)): HistoryEntry<Data> {
    if (this.#building) throw new TypeError("Cannot append to history from inside an append's builder: both would get one id");
    const timestamp = Date.now();
    const log = this.#live(room, timestamp) ?? new RoomLog(this.#size);
    const meta: HistoryMeta = { id: log.lastId + 1, epoch: log.epoch, room, timestamp };
    // Built and checked before anything changes: a builder that throws leaves the history as it was.
    let value: Data;
    try {
      this.#building = true;
      value = typeof data === "function" ? data(meta) : data;
    } finally {
      this.#building = false;
    }
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw new TypeError(`Cannot append to history as the data must be a string or a Uint8Array: current value is ${typeof value}`);
    }
    this.#rooms.delete(room); // re-inserted below: the Map's order is the order of last appends
    const entry: HistoryEntry<Data> = { ...meta, data: value };
    const bytes = byteSize(value);
    const hadEntries = log.length;
    this.#bytes += bytes - log.push(entry, bytes);
    this.#entries += log.length - hadEntries;
    this.#rooms.set(room, log);
    this.#enforceBounds(timestamp, log);
    return entry;
  }

  /** Forgets expired rooms, then rooms past `maxRooms` or `maxBytes`, least recently written first. */
  #enforceBounds(now: number, current: RoomLog): void {
    for (const [room, log] of this.#rooms) {
      const expired = now - log.lastAppend >= this.#ttl;
      const over = this.#rooms.size > this.#maxRooms || (this.#bytes > this.#maxBytes && log !== current);
      if (!expired && !over) break;
      this.#forget(room, log);
    }
    while (this.#bytes > this.#maxBytes && current.length > 0) {
      this.#bytes -= current.dropOldest();
      this.#entries--;
    }
  }

  #forget(room: string, log: RoomLog): void {
    this.#rooms.delete(room);
    this.#entries -= log.length;
    this.#bytes -= log.bytes;
  }

  /** The room's log, unless it has expired (then it is forgotten). */
  #live(room: string, now: number = Date.now()): RoomLog | undefined {
    const log = this.#rooms.get(room);
    if (log && now - log.lastAppend >= this.#ttl) {
      this.#forget(room, log);
      return undefined;
    }
    return log;
  }

  /** The newest `limit` entries of a room, oldest first. */
  recent(room: string, limit: number = this.#size): Promise<HistoryEntry[]> {
    // A fractional limit would reach `new Array(2.5)` and throw synchronously from a promise-returning method.
    if (typeof limit !== "number" || Number.isNaN(limit)) {
      return Promise.reject(new RangeError(`Cannot read history as 'limit' must be a number: current value is ${String(limit)}`));
    }
    const log = this.#live(room);
    return Promise.resolve(log ? log.newest(Math.max(0, Math.floor(limit))) : []);
  }

  /** Every entry after `since`, or `complete: false` when some fell out, the epoch is another, or the id was never issued. */
  since(room: string, since: Position | number): Promise<SinceResult> {
    const log = this.#live(room);
    const position = log ? log.position : NO_POSITION;
    const from = typeof since === "number" ? { epoch: position.epoch, id: since } : since;
    const gap: SinceResult = { complete: false, entries: [], position };
    if (typeof from !== "object" || from === null || from.epoch !== position.epoch) return Promise.resolve(gap);
    const { id } = from;
    if (!Number.isInteger(id) || id < 0 || id > position.id) return Promise.resolve(gap);
    const missed = position.id - id;
    if (missed === 0) return Promise.resolve({ complete: true, entries: [], position });
    if (!log || missed > log.length) return Promise.resolve(gap);
    return Promise.resolve({ complete: true, entries: log.newest(missed), position });
  }

  /** The room's epoch and last id (`{ epoch: "", id: 0 }` for a room without a log). */
  position(room: string): Promise<Position> {
    return Promise.resolve(this.#live(room)?.position ?? NO_POSITION);
  }

  /** Entries kept in one room, or in all rooms. */
  count(room?: string): Promise<number> {
    if (room !== undefined) return Promise.resolve(this.#live(room)?.length ?? 0);
    this.#dropExpired();
    return Promise.resolve(this.#entries);
  }

  /** The rooms that have a log, least recently written first. */
  rooms(): Promise<string[]> {
    this.#dropExpired();
    return Promise.resolve([...this.#rooms.keys()]);
  }

  /** Bytes of message data kept over all rooms. */
  get bytes(): number {
    return this.#bytes;
  }

  #dropExpired(): void {
    const now = Date.now();
    for (const [room, log] of this.#rooms) {
      if (now - log.lastAppend < this.#ttl) break;
      this.#forget(room, log);
    }
  }

  /** Forgets one room, or every room; a forgotten room starts a new epoch at id 1. */
  clear(room?: string): Promise<void> {
    if (room === undefined) {
      this.#rooms.clear();
      this.#entries = this.#bytes = 0;
    } else {
      const log = this.#rooms.get(room);
      if (log) this.#forget(room, log);
    }
    return Promise.resolve();
  }
}
