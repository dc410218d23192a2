import { checkKnownKeys, checkName, checkNumber, checkOptionsObject, describe } from "./_check.ts";
import { encodePresenceData } from "./_presence-data.ts";
import { type TimerHandle, unrefTimer } from "./_timers.ts";
import { toError } from "./errors.ts";
import type { PresenceChange, PresenceEntry, PresenceStore } from "./presence.ts";

/** How a {@linkcode PresenceTracker} waits and reports; each has a default. */
export interface PresenceTrackerOptions {
  /**
   * Milliseconds a key stays present after its last connection in the room on
   * this process goes, so that a client that reconnects within them is not
   * announced as gone and back again. Default 5 000; 0 removes it at once.
   */
  grace?: number;
  /**
   * Failures nobody awaits: a store's `remove` once the grace is over, and a
   * change listener that throws. Default `console.error`.
   */
  onError?: (error: Error) => void;
}

const DEFAULT_GRACE = 5_000;
const OPTION_KEYS: ReadonlySet<string> = new Set(["grace", "onError"]);

/** One key in one room as this process holds it: its local connections and its queue of store calls. */
class Holding {
  readonly connections: Set<string> = new Set();
  /** The data last tracked here: what a leave reports. */
  data: unknown;
  /** The grace before the store forgets the key, while it has no local connection. */
  timer: TimerHandle | undefined;
  /** Counts tracks, so that a removal queued before a track knows it is stale. */
  generation = 0;
  /** Store calls queued or running. */
  pending = 0;
  /** The last store call queued: each waits for the one before, so the store sees them in call order. */
  tail: Promise<void> = Promise.resolve();
}

/** What this process tracks in one room. */
interface RoomState {
  /** The key each local connection is tracked as. */
  readonly connections: Map<string, string>;
  readonly holdings: Map<string, Holding>;
}

const ignore = (): void => {};

/**
 * The per-process part of presence, over any {@linkcode PresenceStore}: it
 * counts this process's connections per room and key, so that several tabs of
 * one key are one presence, and holds a key for `grace` after its last local
 * connection goes, so that a reconnect within it changes nothing.
 *
 * Every change reaches `onChange` on exactly one process (the one whose store
 * call made it, or whose sweep found an expired lease): the joins, updates and
 * leaves of `track` and `untrack`, and the store's expired leaves.
 *
 * It holds only what local connections track, plus the keys in their grace.
 */
export class PresenceTracker {
  readonly #store: PresenceStore;
  readonly #onChange: (change: PresenceChange) => void;
  readonly #onError: (error: Error) => void;
  readonly #grace: number;
  readonly #rooms: Map<string, RoomState> = new Map();
  #closing: Promise<void> | undefined;

  /** Tracks presences in `store`, reporting each change to `onChange`. */
  constructor(store: PresenceStore, onChange: (change: PresenceChange) => void, options: PresenceTrackerOptions = {}) {
    const action = "create presence tracker";
    if (typeof onChange !== "function") {
      throw new TypeError(`Cannot ${action} as 'onChange' must be a function: current value is ${describe(onChange)}`);
    }
    checkOptionsObject(action, options);
    checkKnownKeys(action, options, OPTION_KEYS);
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new TypeError(`Cannot ${action} as 'onError' must be a function: current value is ${describe(options.onError)}`);
    }
    this.#grace = checkNumber(action, "grace", options.grace, DEFAULT_GRACE, { min: 0 });
    this.#store = store;
    this.#onChange = onChange;
    this.#onError = options.onError ?? ((error) => console.error("switchboard: presence failed:", error));
    store.setExpiredListener((change) => this.#emit(change));
  }

  /** Milliseconds a key stays after its last local connection goes. */
  get grace(): number {
    return this.#grace;
  }

  /** The (room, key) pairs held on this process: tracked, in their grace, or with a store call pending. */
  get size(): number {
    let size = 0;
    for (const state of this.#rooms.values()) size += state.holdings.size;
    return size;
  }

  /**
   * The connection is in `room` as `key` with `data`: a join when no process
   * held the key, an update when its data changed (for another connection of
   * the key, or this one tracked again), nothing otherwise. A key in its grace
   * is kept: tracked again with the same data, it gives no change at all.
   * Tracked as another key, the connection's old key goes at once (no grace:
   * it did not disconnect). A store failure rejects, and the connection stays
   * tracked (to be untracked as usual).
   */
  track(connectionId: string, room: string, key: string, data: unknown): Promise<PresenceChange | undefined> {
    try {
      const action = "track presence";
      checkName(action, "connectionId", connectionId);
      checkName(action, "room", room);
      checkName(action, "key", key);
      encodePresenceData(action, data); // refused before anything changes
      if (this.#closing) throw new Error(`Cannot ${action} as the tracker is closed`);
    } catch (error) {
      return Promise.reject(error);
    }
    let state = this.#rooms.get(room);
    if (!state) this.#rooms.set(room, (state = { connections: new Map(), holdings: new Map() }));
    const previous = state.connections.get(connectionId);
    if (previous !== undefined && previous !== key) this.#release(state, room, connectionId, 0);
    state.connections.set(connectionId, key);
    let holding = state.holdings.get(key);
    if (!holding) state.holdings.set(key, (holding = new Holding()));
    if (holding.timer !== undefined) {
      clearTimeout(holding.timer);
      holding.timer = undefined;
    }
    holding.connections.add(connectionId);
    holding.generation++;
    holding.data = data;
    return this.#enqueue(room, key, holding, async () => {
      const result = await this.#store.add(room, key, data);
      return result === "same" ? undefined : this.#emit({ type: result, room, key, data });
    });
  }

  /**
   * The connection left `room` (or disconnected). When it was the key's last
   * connection in the room on this process, the key goes after the grace
   * (a leave unless another process holds it). Untracking what is not
   * tracked does nothing.
   */
  untrack(connectionId: string, room: string): void {
    const action = "untrack presence";
    checkName(action, "connectionId", connectionId);
    checkName(action, "room", room);
    if (this.#closing) return; // closing the store removes everything
    const state = this.#rooms.get(room);
    if (state?.connections.has(connectionId)) this.#release(state, room, connectionId, this.#grace);
  }

  /** Everyone in the room, across processes, each key once. */
  list(room: string): Promise<PresenceEntry[]> {
    try {
      checkName("list presence", "room", room);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#store.list(room);
  }

  /**
   * Cancels every grace, waits for the store calls under way, and closes the
   * store (which removes this process's holdings without reporting them).
   * Tracking after it rejects.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    this.#store.setExpiredListener(undefined);
    const tails: Promise<void>[] = [];
    for (const state of this.#rooms.values()) {
      for (const holding of state.holdings.values()) {
        if (holding.timer !== undefined) clearTimeout(holding.timer);
        holding.timer = undefined;
        tails.push(holding.tail);
      }
    }
    await Promise.all(tails);
    this.#rooms.clear();
    await this.#store.close();
  }

  /** Takes the connection out of the room; the key goes after `grace` if it was its last local connection. */
  #release(state: RoomState, room: string, connectionId: string, grace: number): void {
    const key = state.connections.get(connectionId)!;
    state.connections.delete(connectionId);
    const holding = state.holdings.get(key)!;
    holding.connections.delete(connectionId);
    if (holding.connections.size > 0) return;
    if (grace === 0) return this.#remove(room, key, holding);
    holding.timer = unrefTimer(setTimeout(() => {
      holding.timer = undefined;
      this.#remove(room, key, holding);
    }, grace));
  }

  /** Queues the store's removal of the key, unless it is tracked again before the removal's turn. */
  #remove(room: string, key: string, holding: Holding): void {
    const generation = holding.generation;
    this.#enqueue(room, key, holding, async () => {
      if (holding.generation !== generation) return undefined;
      const left = await this.#store.remove(room, key);
      return left ? this.#emit({ type: "leave", room, key, data: holding.data }) : undefined;
    }).catch((error: unknown) => this.#onError(toError(error)));
  }

  /** Runs `op` after the key's earlier store calls; forgets the holding once nothing is left of it. */
  #enqueue<T>(room: string, key: string, holding: Holding, op: () => Promise<T>): Promise<T> {
    holding.pending++;
    const run = holding.tail.then(op);
    holding.tail = run.then(ignore, ignore);
    return run.finally(() => {
      holding.pending--;
      this.#forgetIfIdle(room, key, holding);
    });
  }

  #forgetIfIdle(room: string, key: string, holding: Holding): void {
    if (holding.connections.size > 0 || holding.timer !== undefined || holding.pending > 0) return;
    const state = this.#rooms.get(room);
    if (state?.holdings.get(key) !== holding) return;
    state.holdings.delete(key);
    if (state.holdings.size === 0 && state.connections.size === 0) this.#rooms.delete(room);
  }

  #emit(change: PresenceChange): PresenceChange {
    try {
      this.#onChange(change);
    } catch (error) {
      this.#onError(toError(error));
    }
    return change;
  }
}
