import { Buffer } from "node:buffer";
import { checkName } from "../core/_check.ts";
import { newEpoch } from "../core/_ids.ts";
import type { History, HistoryData, HistoryEntry, HistoryMeta, Position, SinceResult } from "../core/history.ts";
import { NO_POSITION } from "../core/history.ts";
import type { RedisClient } from "./client.ts";
import { exceptField, splitExcept } from "./envelope.ts";
import { APPEND, READ_AFTER, READ_RECENT } from "./history-scripts.ts";
import type { EndpointKeys } from "./keys.ts";

/** A history entry with the connections its broadcast left out, for a process filling a gap. */
export interface StoredEntry extends HistoryEntry {
  readonly except: readonly string[];
}

/** The room's position and the entries a read gave, as the read scripts reply. */
interface LogRead {
  readonly epoch: string;
  readonly top: number;
  readonly base: number;
  readonly entries: StoredEntry[];
}

/** What the history needs from the engine: its connection, when it may be used, and a time limit. */
export interface HistoryLink {
  /** The command connection, or a rejection when the engine is degraded. */
  client(): RedisClient;
  /** `promise`, rejected past the engine's command timeout. */
  bounded<T>(promise: Promise<T>): Promise<T>;
}

/** How long a message built from its position is built again while other processes record in the room. */
const BUILD_DEADLINE_MS = 2_000;
/** `XADD MAXLEN ~` keeps up to a macro node (100 entries by default) more than asked. */
const TRIM_SLACK = 100;

/**
 * One endpoint's history on Redis: a stream per room, read and written only
 * through the scripts in `history-scripts.ts`, so that ids are gapless and the
 * same for every process and an epoch never outlives the log it names.
 */
export class RedisHistory implements History {
  readonly #link: HistoryLink;
  readonly #keys: EndpointKeys;
  readonly #size: number;
  readonly #ttl: number;
  /** Per room: when the next append may be sent. Appends built from their position wait for the one before. */
  readonly #turns: Map<string, Promise<unknown>> = new Map();
  /** The last position seen per room: the first guess of a message built from its position. */
  readonly #lastSeen: Map<string, Position> = new Map();

  readonly #processId: string;
  /** Numbers this process's appends, so that one a client sends again (after a reconnect) is not written twice. */
  #appends = 0;

  constructor(link: HistoryLink, keys: EndpointKeys, size: number, ttl: number, processId: string) {
    this.#link = link;
    this.#processId = processId;
    this.#keys = keys;
    // Redis takes whole numbers up to 2^63: the options allow a ttl in fractions of a ms and integers past 2^53.
    this.#size = Math.min(size, Number.MAX_SAFE_INTEGER);
    this.#ttl = ttl > Number.MAX_SAFE_INTEGER ? 0 : Math.max(1, Math.ceil(ttl)); // 0: no expiry (Infinity, or as good as)
  }

  append(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData)): Promise<HistoryEntry> {
    return this.record(room, data, []);
  }

  /** Appends and publishes a message; `except` travels with it. In the order of the calls per room. */
  record(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData), except: readonly string[]): Promise<HistoryEntry> {
    try {
      checkName("append to history", "room", room);
    } catch (error) {
      return Promise.reject(error);
    }
    const turn = this.#turns.get(room);
    const run = () => (typeof data === "function" ? this.#appendBuilt(room, data, except) : this.#appendOnce(room, data, except, undefined, Date.now()).then((outcome) => outcome.entry!)); // nothing expected: always appended
    // Plain appends go out back to back (one connection keeps their order); a built one waits for its answer.
    const result = turn ? turn.then(run, run) : run();
    if (typeof data === "function" || turn) {
      const next = typeof data === "function" ? result.catch(() => {}) : turn!;
      this.#turns.set(room, next);
      void next.then(() => {
        if (this.#turns.get(room) === next) this.#turns.delete(room);
      });
    }
    return result;
  }

  async #appendBuilt(room: string, build: (meta: HistoryMeta) => HistoryData, except: readonly string[]): Promise<HistoryEntry> {
    let guess = this.#lastSeen.get(room) ?? (await this.position(room));
    const deadline = Date.now() + BUILD_DEADLINE_MS;
    for (let attempt = 1; ; attempt++) {
      const timestamp = Date.now();
      const data = build({ room, epoch: guess.epoch, id: guess.id + 1, timestamp });
      const outcome = await this.#appendOnce(room, data, except, guess, timestamp);
      if (outcome.entry) return outcome.entry;
      if (Date.now() > deadline) {
        throw new Error(`Cannot append to room '${room}': other processes kept recording in it for ${BUILD_DEADLINE_MS} ms while this message was built (${attempt} tries)`);
      }
      if (outcome.held) await new Promise((resolve) => setTimeout(resolve, 1)); // another process's turn
      guess = this.#lastSeen.get(room)!;
    }
  }

  /** One append; with `expected`, only if the room is still there (else undefined, and `#lastSeen` says where it is). */
  async #appendOnce(
    room: string,
    data: HistoryData,
    except: readonly string[],
    expected: Position | undefined,
    timestamp: number,
  ): Promise<{ entry: HistoryEntry | undefined; held: boolean }> {
    if (typeof data !== "string" && !(data instanceof Uint8Array)) {
      throw new TypeError(`Cannot append to history as the data must be a string or a Uint8Array: current value is ${typeof data}`);
    }
    const keys = this.#keys;
    const reply = (await this.#link.bounded(APPEND.run(this.#link.client(), [keys.meta(room), keys.stream(room), keys.roomIndex, keys.appendNumber(room, this.#processId)], [
      keys.channel(room),
      newEpoch(),
      Math.max(1, this.#size),
      this.#ttl,
      timestamp,
      typeof data === "string" ? "T" : "B",
      typeof data === "string" ? data : asBuffer(data), // ioredis sends a Buffer as bytes, a bare Uint8Array as text
      exceptField(except),
      room,
      expected ? expected.id : "",
      expected ? expected.epoch : "",
      this.#processId,
      ++this.#appends,
    ]))) as [number, string, number, number?];
    const [appended, epoch, id, held] = reply;
    this.#remember(room, { epoch, id });
    return { entry: appended === 1 ? { room, epoch, id, timestamp, data } : undefined, held: held === 1 };
  }

  #remember(room: string, position: Position): void {
    this.#lastSeen.delete(room);
    this.#lastSeen.set(room, position);
    if (this.#lastSeen.size > 10_000) this.#lastSeen.delete(this.#lastSeen.keys().next().value!); // the oldest guess goes
  }

  async recent(room: string, limit: number = this.#size): Promise<HistoryEntry[]> {
    if (typeof limit !== "number" || Number.isNaN(limit)) throw new RangeError(`Cannot read history as 'limit' must be a number: current value is ${String(limit)}`);
    const count = Math.max(0, Math.min(Math.floor(limit), this.#size));
    const read = await this.#read(READ_RECENT, room, [count]);
    return read.entries.reverse().map(historyEntry);
  }

  async since(room: string, since: Position | number): Promise<SinceResult> {
    // From JavaScript `since` may be anything: what is no position reads only where the room is.
    const asked: unknown = typeof since === "number" ? since : typeof since === "object" && since !== null ? since.id : undefined;
    const valid = typeof asked === "number" && Number.isSafeInteger(asked) && asked >= 0;
    const read = await this.readAfter(room, valid ? asked : Number.MAX_SAFE_INTEGER);
    const position: Position = read.epoch === "" ? NO_POSITION : { epoch: read.epoch, id: read.top };
    const gap: SinceResult = { complete: false, entries: [], position };
    const from = typeof since === "number" ? { epoch: read.epoch, id: since } : since;
    if (!valid || typeof from !== "object" || from === null || from.epoch !== read.epoch) return gap;
    const { id } = from;
    if (id < read.base || id > read.top) return gap;
    if (read.entries.length !== read.top - id || (read.entries.length > 0 && read.entries[0]!.id !== id + 1)) return gap;
    return { complete: true, entries: read.entries.map(historyEntry), position };
  }

  /** The room's position and the entries after `id` (as many as the stream can hold), in one atomic read. */
  readAfter(room: string, id: number): Promise<LogRead> {
    const after = Number.isSafeInteger(id) && id >= 0 ? id : 0;
    return this.#read(READ_AFTER, room, [after, this.#size + TRIM_SLACK]);
  }

  async position(room: string): Promise<Position> {
    const read = await this.#read(READ_RECENT, room, [0]);
    return read.epoch === "" ? NO_POSITION : { epoch: read.epoch, id: read.top };
  }

  async count(room?: string): Promise<number> {
    const rooms = room === undefined ? await this.rooms() : [room];
    const client = this.#link.client();
    const lengths = await this.#link.bounded(Promise.all(rooms.map((r) => client.call("XLEN", this.#keys.stream(r)) as Promise<number>)));
    return lengths.reduce((sum, n) => sum + Math.min(n, this.#size), 0);
  }

  rooms(): Promise<string[]> {
    const since = this.#ttl > 0 ? Date.now() - this.#ttl : "-inf";
    return this.#link.bounded(this.#link.client().call("ZRANGEBYSCORE", this.#keys.roomIndex, since, "+inf") as Promise<string[]>);
  }

  async clear(room?: string): Promise<void> {
    const rooms = room === undefined ? await this.rooms() : [room];
    const client = this.#link.client();
    const keys = this.#keys;
    await this.#link.bounded(Promise.all(rooms.flatMap((r) => [client.call("DEL", keys.meta(r), keys.stream(r)), client.call("ZREM", keys.roomIndex, r)])));
    for (const r of rooms) this.#lastSeen.delete(r);
  }

  async #read(script: typeof READ_AFTER, room: string, args: number[]): Promise<LogRead> {
    checkName("read history", "room", room);
    const keys = this.#keys;
    const reply = (await this.#link.bounded(script.runBuffer(this.#link.client(), [keys.meta(room), keys.stream(room)], [newEpoch(), this.#ttl, ...args]))) as [
      Uint8Array,
      number,
      number,
      [Uint8Array, Uint8Array[]][],
    ];
    const epoch = text(reply[0]);
    const top = Number(reply[1]);
    if (epoch !== "") this.#remember(room, { epoch, id: top });
    return { epoch, top, base: Number(reply[2]), entries: reply[3].map((raw) => decodeEntry(room, epoch, raw)) };
  }
}

const decoder = new TextDecoder();

/** A stored entry as the History gives it: without the ids its broadcast left out (they are for the feeds). */
function historyEntry({ room, epoch, id, timestamp, data }: StoredEntry): HistoryEntry {
  return { room, epoch, id, timestamp, data };
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function text(bytes: Uint8Array | string): string {
  return typeof bytes === "string" ? bytes : decoder.decode(bytes);
}

/** A stream entry (`<id>-0`, [d, data, k, kind, ts, time, x, except]) as a history entry of the current epoch. */
function decodeEntry(room: string, epoch: string, [streamId, fields]: [Uint8Array, Uint8Array[]]): StoredEntry {
  let data: Uint8Array | undefined;
  let kind = "T";
  let timestamp = 0;
  let except = "";
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = text(fields[i]!);
    const value = fields[i + 1]!;
    if (name === "d") data = value;
    else if (name === "k") kind = text(value);
    else if (name === "ts") timestamp = Number(text(value));
    else if (name === "x") except = text(value);
  }
  const id = Number.parseInt(text(streamId), 10);
  const bytes = data ?? new Uint8Array(0);
  return { room, epoch, id, timestamp, data: kind === "B" ? bytes : decoder.decode(bytes), except: splitExcept(except) };
}
