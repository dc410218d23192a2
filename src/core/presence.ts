/**
 * The Presence contract: who is in each room, as a key per presence (a user,
 * a client session, by default a connection id) with data the app chooses.
 * {@linkcode MemoryPresence} keeps one process's presences; a Redis store
 * keeps them across processes.
 *
 * @module
 */
import { checkName } from "./_check.ts";
import { encodePresenceData } from "./_presence-data.ts";

/** One presence in a room: the app's key for it and its data. */
export interface PresenceEntry<Data = unknown> {
  /** The app's identity for the presence, such as a user id or a client session id (by default a connection id). */
  readonly key: string;
  /** The data the presence was last given, as JSON gives it back. */
  readonly data: Data;
}

/** A presence that joined a room, changed its data, or left. */
export interface PresenceChange<Data = unknown> {
  /** `"join"`: no process held the key before; `"update"`: its data changed; `"leave"`: no process holds it now. */
  readonly type: "join" | "update" | "leave";
  /** The room of the presence. */
  readonly room: string;
  /** The app's key for the presence. */
  readonly key: string;
  /** Its data: the new data for a join or an update, the last known for a leave. */
  readonly data: Data;
}

/**
 * Where presences are kept. Each process records what it holds: a key in a
 * room is present while at least one process holds it, so that two tabs of
 * one user on two servers are one presence.
 *
 * Presence data must be JSON-serialisable: it is stored as the text
 * `JSON.stringify` gives, two data are the same when their texts are, and
 * {@linkcode PresenceStore.list} gives back what `JSON.parse` makes of it.
 * Data with no JSON text (`undefined`, a function, a symbol) or that
 * `JSON.stringify` refuses (a `bigint`, a cycle) is a `TypeError`.
 *
 * Every {@linkcode PresenceChange} a store makes is found by exactly one
 * process: the one whose `add` or `remove` made it, or the one whose sweep
 * found a lease ran out. An app that broadcasts "Ada joined" from it does so once.
 */
export interface PresenceStore {
  /**
   * This process now holds `key` in `room` with `data`. `"join"` when no
   * process held it before, `"update"` when it was held (by any process) with
   * other data (the new data is kept), `"same"` otherwise.
   */
  add(room: string, key: string, data: unknown): Promise<"join" | "update" | "same">;
  /**
   * This process no longer holds `key` in `room`. True when no process holds
   * it now: a leave. False when another process still holds it, or this one
   * did not.
   */
  remove(room: string, key: string): Promise<boolean>;
  /** Everyone in the room, across processes, each key once, in no particular order. */
  list(room: string): Promise<PresenceEntry[]>;
  /**
   * Sets the one listener for changes the store finds by itself rather than
   * through a call: a leave when the lease of a process that stopped renewing
   * (it crashed, or lost Redis for longer than the lease) ran out, found by
   * this process's sweep; and a join when this process puts back a holding it
   * had lost that way. `undefined` removes it. {@linkcode MemoryPresence}
   * never calls it.
   */
  setExpiredListener(listener: ((change: PresenceChange) => void) | undefined): void;
  /**
   * Stops the store's timers and removes what this process holds. No change
   * is reported for what it removes, here or in another process: the process
   * is going, and its connections with it.
   */
  close(): Promise<void>;
}

/** A presence of one room in a {@linkcode MemoryPresence}: its data as JSON text. */
type RoomPresences = Map<string, string>;

/**
 * The {@linkcode PresenceStore} of one process: presences in memory. It holds
 * only what is added and not removed, and nothing expires (the process that
 * holds the presences is the one that keeps them).
 *
 * @example
 * ```ts ignore
 * import { MemoryPresence } from "switchboard";
 *
 * const presence = new MemoryPresence();
 * await presence.add("general", "ada", { name: "Ada" }); // "join"
 * await presence.add("general", "ada", { name: "Ada L." }); // "update"
 * console.log(await presence.list("general")); // [{ key: "ada", data: { name: "Ada L." } }]
 * await presence.remove("general", "ada"); // true: a leave
 * ```
 */
export class MemoryPresence implements PresenceStore {
  readonly #rooms: Map<string, RoomPresences> = new Map();

  /** Holds `key` in `room`: `"join"`, `"update"` (other data: kept) or `"same"`. */
  add(room: string, key: string, data: unknown): Promise<"join" | "update" | "same"> {
    try {
      const action = "add presence";
      checkName(action, "room", room);
      checkName(action, "key", key);
      const json = encodePresenceData(action, data);
      let presences = this.#rooms.get(room);
      if (!presences) this.#rooms.set(room, (presences = new Map()));
      const before = presences.get(key);
      presences.set(key, json);
      return Promise.resolve(before === undefined ? "join" : before === json ? "same" : "update");
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Stops holding `key` in `room`; true when it was held (a leave). */
  remove(room: string, key: string): Promise<boolean> {
    const presences = this.#rooms.get(room);
    if (!presences?.delete(key)) return Promise.resolve(false);
    if (presences.size === 0) this.#rooms.delete(room);
    return Promise.resolve(true);
  }

  /** Everyone in the room, in the order they joined; data is parsed anew, so changing it changes nothing kept. */
  list(room: string): Promise<PresenceEntry[]> {
    const presences = this.#rooms.get(room);
    if (!presences) return Promise.resolve([]);
    return Promise.resolve([...presences].map(([key, json]) => ({ key, data: JSON.parse(json) as unknown })));
  }

  /** Nothing expires in memory: the listener is never called. */
  setExpiredListener(_listener: ((change: PresenceChange) => void) | undefined): void {}

  /** Forgets every presence. */
  close(): Promise<void> {
    this.#rooms.clear();
    return Promise.resolve();
  }
}
