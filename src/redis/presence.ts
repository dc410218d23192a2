/**
 * Presence across processes, in Redis (7.0 or later).
 *
 * @module
 */
import { checkKnownKeys, checkName, checkNumber, checkOptionsObject, describe } from "../core/_check.ts";
import { encodePresenceData } from "../core/_presence-data.ts";
import { rejectAfter, type TimerHandle, unrefTimer } from "../core/_timers.ts";
import { SwitchboardError, toError } from "../core/errors.ts";
import type { PresenceChange, PresenceEntry, PresenceStore } from "../core/presence.ts";
import { ADD, LIST, REMOVE, RENEW, SWEEP, TOUCH, UNINDEX } from "./_presence-scripts.ts";
import type { RedisClient } from "./client.ts";
import { EndpointKeys } from "./keys.ts";

/** Where a {@linkcode RedisPresence} keeps presences and how long a lease lasts. */
export interface RedisPresenceOptions {
  /** The endpoint's name: a room's keys start `sb:{<name>:<room>}:`, the index of rooms is `sb:<name>:presence-rooms`. */
  name: string;
  /** This process's id, unique among the processes sharing the endpoint (a random id per start is best), without `|`. */
  processId: string;
  /**
   * Milliseconds a process's holdings outlive its last renewal: after a crash
   * they are gone within 1.25 × lease. Default 10 000 (at least 100).
   */
  lease?: number;
  /** Failures of the background renewals and sweeps, and of `close()`. Default `console.error`. */
  onError?: (error: Error) => void;
  /**
   * Milliseconds `add`, `remove` and `list` may take before they reject. Default 5 000.
   */
  commandTimeout?: number;
  /**
   * Whether `add`, `remove` and `list` may be sent now; when not, they reject
   * at once (ioredis would queue them for as long as an outage lasts). The
   * engine says so while it is degraded. Default: always.
   */
  available?: () => boolean;
}

const DEFAULT_LEASE = 10_000;
const OPTION_KEYS: ReadonlySet<string> = new Set(["name", "processId", "lease", "onError", "commandTimeout", "available"]);
/** Keys, or rooms, per script call: a long call blocks Redis for everyone. */
const CHUNK = 500;
/** Sweep calls per room per sweep; what is left waits for the next sweep. */
const SWEEP_ROUNDS = 20;

const chunks = <T>(items: readonly T[]): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
};

/** A WITHSCORES reply as [member, score] pairs: ioredis 6 pairs them itself, earlier versions give them flat. */
const scorePairs = (reply: unknown): [string, string][] => {
  if (!Array.isArray(reply)) return [];
  if (reply.every(Array.isArray)) return reply as [string, string][];
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), String(reply[i + 1])]);
  return pairs;
};

/** JSON from Redis, as data: what is not JSON (someone else's write) is `null`. */
const parse = (json: string): unknown => {
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
};

/**
 * A {@linkcode PresenceStore} shared by processes through Redis. Each process
 * holds its keys under a lease that it renews every `lease / 3`; every
 * process sweeps every `lease / 4`, removing holdings whose lease ran out and
 * reporting, through the expired listener, the keys that nobody holds then.
 * With the default lease of 10 s, a crashed process's presences are gone and
 * their leaves reported within 12.5 s (lease + one sweep interval) of its
 * last renewal, by one process, as long as one process still runs. Times are
 * Redis's clock, not the processes'.
 *
 * Per room, a ZSET `sb:{<name>:<room>}:pz` of `<processId>|<key>` scored by
 * lease expiry, a HASH `...:pc` of how many processes hold each key and a HASH
 * `...:ph` of each key's data as JSON; every change is one Lua script. The
 * ZSET `sb:<name>:presence-rooms` lists the rooms to sweep.
 *
 * A process that loses its holdings (it stalled longer than the lease, or an
 * `add` failed on the way to Redis) puts them back at its next renewal and
 * reports the joins that makes through the expired listener too.
 *
 * @example
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { RedisPresence } from "switchboard/redis";
 *
 * const presence = new RedisPresence(new Redis(process.env.REDIS_URL!), { name: "chat", processId: crypto.randomUUID() });
 * presence.setExpiredListener((change) => console.log(`${change.key} ${change.type} ${change.room}`));
 * await presence.add("general", "ada", { name: "Ada" }); // "join" if no process held "ada" in "general"
 * ```
 */
export class RedisPresence implements PresenceStore {
  readonly #client: RedisClient;
  readonly #name: string;
  readonly #processId: string;
  readonly #lease: number;
  readonly #onError: (error: Error) => void;
  readonly #index: string;
  readonly #keys: EndpointKeys;
  readonly #timeout: number;
  readonly #available: () => boolean;
  /** What this process holds: room -> key -> data as JSON. The renewals and `close` work from it. */
  readonly #holdings: Map<string, Map<string, string>> = new Map();
  #listener: ((change: PresenceChange) => void) | undefined;
  readonly #timers: TimerHandle[];
  #renewing: Promise<void> | undefined;
  #sweeping: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /** Shares presences through `client`; starts renewing and sweeping at once (on timers that let the process exit). */
  constructor(client: RedisClient, options: RedisPresenceOptions) {
    const action = "create Redis presence";
    if (typeof client !== "object" || client === null || typeof client.call !== "function") {
      throw new TypeError(`Cannot ${action} as 'client' must be a Redis client (such as ioredis): current value is ${describe(client)}`);
    }
    if (options === undefined) throw new TypeError(`Cannot ${action} as the options must be an object: current value is undefined`);
    checkOptionsObject(action, options);
    checkKnownKeys(action, options, OPTION_KEYS);
    checkName(action, "name", options.name);
    checkName(action, "processId", options.processId);
    if (options.processId.includes("|")) {
      throw new TypeError(`Cannot ${action} as 'processId' must not contain '|': current value is ${describe(options.processId)}`);
    }
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new TypeError(`Cannot ${action} as 'onError' must be a function: current value is ${describe(options.onError)}`);
    }
    this.#client = client;
    this.#name = options.name;
    this.#processId = options.processId;
    this.#lease = checkNumber(action, "lease", options.lease, DEFAULT_LEASE, { min: 100, integer: true });
    this.#timeout = checkNumber(action, "commandTimeout", options.commandTimeout, 5_000, { min: 1 });
    if (options.available !== undefined && typeof options.available !== "function") {
      throw new TypeError(`Cannot ${action} as 'available' must be a function: current value is ${describe(options.available)}`);
    }
    this.#available = options.available ?? (() => true);
    this.#onError = options.onError ?? ((error) => console.error("switchboard: Redis presence failed:", error));
    this.#keys = new EndpointKeys(this.#name);
    this.#index = this.#keys.presenceIndex;
    this.#timers = [
      unrefTimer(setInterval(() => this.#tick("renew"), this.renewInterval)),
      unrefTimer(setInterval(() => this.#tick("sweep"), this.sweepInterval)),
    ];
  }

  /** The endpoint's name in the keys. */
  get name(): string {
    return this.#name;
  }

  /** This process's id in the holdings. */
  get processId(): string {
    return this.#processId;
  }

  /** Milliseconds a holding outlives its last renewal. */
  get lease(): number {
    return this.#lease;
  }

  /** Milliseconds between renewals: a third of the lease, so that one late renewal loses nothing. */
  get renewInterval(): number {
    return Math.floor(this.#lease / 3);
  }

  /** Milliseconds between sweeps: a quarter of the lease. */
  get sweepInterval(): number {
    return Math.floor(this.#lease / 4);
  }

  /** Holds `key` in `room` for this process: `"join"`, `"update"` or `"same"`. */
  async add(room: string, key: string, data: unknown): Promise<"join" | "update" | "same"> {
    const action = "add presence";
    checkName(action, "room", room);
    checkName(action, "key", key);
    const json = encodePresenceData(action, data);
    if (this.#closing) throw new Error(`Cannot ${action} as the store is closed`);
    let held = this.#holdings.get(room);
    if (!held) this.#holdings.set(room, (held = new Map()));
    // Recorded first: if the script fails on the way, the next renewal puts the holding in.
    held.set(key, json);
    const result = await this.#bounded(action, () => ADD.run(this.#client, this.#roomKeys(room), [this.#processId, key, json, this.#lease, 0]));
    // After the add, not before: a sweep that found the room empty before it then sees a new version and keeps it.
    await TOUCH.run(this.#client, [this.#index], [room]);
    if (result !== "join" && result !== "update" && result !== "same") throw new Error(`Unexpected reply to a presence add: ${describe(result)}`);
    return result;
  }

  /** Stops holding `key` in `room`; true when no process holds it now (a leave). */
  async remove(room: string, key: string): Promise<boolean> {
    const action = "remove presence";
    checkName(action, "room", room);
    checkName(action, "key", key);
    const held = this.#holdings.get(room);
    if (!held?.delete(key)) return false;
    if (held.size === 0) this.#holdings.delete(room);
    // If this fails, the holding is no longer renewed: its lease runs out and a sweep reports the leave.
    const left = await this.#bounded(action, () => REMOVE.run(this.#client, this.#roomKeys(room), [this.#processId, key]));
    return Array.isArray(left) && left.length > 0;
  }

  /** Everyone in the room whose lease has not run out, across processes, each key once. */
  async list(room: string): Promise<PresenceEntry[]> {
    checkName("list presence", "room", room);
    const [pz, , ph] = this.#roomKeys(room);
    const reply = (await this.#bounded("list presence", () => LIST.run(this.#client, [pz, ph], []))) as string[];
    const entries: PresenceEntry[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push({ key: reply[i]!, data: parse(reply[i + 1]!) });
    return entries;
  }

  /** Sets the listener for the leaves this process's sweeps find, and the joins its renewals put back. */
  setExpiredListener(listener: ((change: PresenceChange) => void) | undefined): void {
    this.#listener = listener;
  }

  /**
   * Extends this process's holdings by a lease, and puts back any it lost.
   * The timer runs one every `renewInterval`; call it to renew now.
   */
  renew(): Promise<void> {
    return (this.#renewing ??= this.#renew().finally(() => (this.#renewing = undefined)));
  }

  /**
   * Removes the holdings, of every process, whose lease ran out, and reports
   * the keys nobody holds then. The timer runs one every `sweepInterval`;
   * call it to sweep now.
   */
  sweep(): Promise<void> {
    return (this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined)));
  }

  /**
   * Stops the timers and leaves this process's holdings to their lease: a
   * process that shuts down (a rolling deploy) does not announce its clients
   * as gone, since most reconnect to another process within the lease, which
   * then changes nothing; those that do not are reported once, by the sweep
   * of another process that removes them.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await Promise.allSettled([this.#renewing, this.#sweeping]);
    this.#holdings.clear();
    this.#listener = undefined;
  }

  /**
   * A call of the API, rejected at once while it may not be sent (`available`)
   * and past the timeout.
   * What `add` could not write is put back by the next renewal once Redis is back.
   */
  #bounded<T>(action: string, send: () => Promise<T>): Promise<T> {
    if (!this.#available()) {
      return Promise.reject(new SwitchboardError("ENGINE_UNAVAILABLE", `Cannot ${action} as Redis is not reachable now`));
    }
    return rejectAfter(send(), this.#timeout, () => new SwitchboardError("ENGINE_UNAVAILABLE", `Cannot ${action} as Redis did not answer within ${this.#timeout} ms`));
  }

  #roomKeys(room: string): [pz: string, pc: string, ph: string] {
    return this.#keys.presence(room);
  }


  /** A timer's turn: skipped while the last one runs, or while the client cannot send (it would only queue). */
  #tick(kind: "renew" | "sweep"): void {
    if (this.#closing || this.#client.status !== "ready") return;
    if (kind === "renew" ? this.#renewing : this.#sweeping) return;
    (kind === "renew" ? this.renew() : this.sweep()).catch((error: unknown) => this.#onError(toError(error)));
  }

  async #renew(): Promise<void> {
    const rooms = [...this.#holdings.keys()];
    await Promise.all(rooms.map((room) => this.#renewRoom(room)));
    // After the renewals: a room a sweep dropped from the index while this process was adding to it is listed again.
    await Promise.all(chunks(rooms).map((chunk) => TOUCH.run(this.#client, [this.#index], chunk)));
  }

  async #renewRoom(room: string): Promise<void> {
    const [pz] = this.#roomKeys(room);
    const keys = [...(this.#holdings.get(room)?.keys() ?? [])];
    for (const chunk of chunks(keys)) {
      const missing = await RENEW.run(this.#client, [pz], [this.#processId, this.#lease, ...chunk]);
      if (Array.isArray(missing)) for (const key of missing as string[]) await this.#restore(room, key);
    }
  }

  /** Puts back a holding the renewal found missing, unless it was removed meanwhile; a join it makes is reported. */
  async #restore(room: string, key: string): Promise<void> {
    const json = this.#holdings.get(room)?.get(key);
    if (json === undefined) return;
    const result = await ADD.run(this.#client, this.#roomKeys(room), [this.#processId, key, json, this.#lease, 1]);
    if (result === "join") this.#report({ type: "join", room, key, data: parse(json) });
  }

  async #sweep(): Promise<void> {
    const reply = await this.#client.call("ZRANGE", this.#index, 0, -1, "WITHSCORES");
    await Promise.all(scorePairs(reply).map(([room, version]) => this.#sweepRoom(room, version)));
  }

  /** Sweeps one room; `version` is its score in the index when the sweep read it. */
  async #sweepRoom(room: string, version: string): Promise<void> {
    const keys = this.#roomKeys(room);
    for (let round = 0; round < SWEEP_ROUNDS; round++) {
      const [removed, remaining, ...left] = (await SWEEP.run(this.#client, keys, [CHUNK])) as [number, number, ...string[]];
      for (let i = 0; i + 1 < left.length; i += 2) this.#report({ type: "leave", room, key: left[i]!, data: parse(left[i + 1]!) });
      if (remaining === 0) {
        await UNINDEX.run(this.#client, [this.#index], [room, version]);
        return;
      }
      if (removed < CHUNK) return;
    }
  }

  #report(change: PresenceChange): void {
    const listener = this.#listener;
    if (!listener) return;
    try {
      listener(change);
    } catch (error) {
      this.#onError(toError(error));
    }
  }
}
