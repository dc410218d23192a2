/**
 * Rate limits per message type: exact sliding windows, per connection or
 * shared by a key (a client address, a user), bounded in memory.
 *
 * @module
 */
import { checkKnownKeys, checkNumber, checkOptionsObject, describe } from "../core/_check.ts";
import type { Connection } from "../core/connection.ts";
import type { ProtocolShape, ReceivedMessage } from "./types.ts";

/** Keys kept at once by a limit with `per`, by default. */
export const DEFAULT_MAX_KEYS = 10_000;

/**
 * At most `messages` of one type accepted in any `interval` ms: from each
 * connection, or with `per` from all the connections of one key together
 * (say `per: (conn) => conn.remoteAddress`, so that reconnecting does not
 * start a fresh budget). Only a message that passed validation is counted,
 * and only when every limit of its type has room: a refused one counts
 * nowhere.
 */
export interface MessageLimit<UserData = undefined, Message = unknown> {
  /** Messages accepted per interval: a whole number, 0 or more. */
  readonly messages: number;
  /** The window, in milliseconds: finite, above 0. */
  readonly interval: number;
  /** Shares the window among the connections of one key; default each connection has its own. */
  readonly per?: (connection: Connection<UserData>) => string;
  /** With `per`: keys kept at once; past it the one heard from least recently is forgotten. Default 10 000. */
  readonly maxKeys?: number;
  /**
   * Past the limit: "reply" (default), a `rate_limited` error reply (an
   * `ack` with `ok: false` when acknowledged); or "drop", the message is
   * ignored as if handled (an acknowledged one is acked `ok: true`): for
   * hints such as typing notices, which the next one replaces.
   */
  readonly action?: "reply" | "drop";
  /** Whether this message counts (and can be refused) at all; default every one does. A no-op (a rename to the same name), say, need not. */
  readonly counts?: (connection: Connection<UserData>, message: Message) => boolean;
}

/** The limits of each client message type of a protocol: one {@linkcode MessageLimit} or several, all of which must have room. */
export type MessageLimits<P extends ProtocolShape, UserData = undefined> = {
  readonly [Type in keyof P["client"] & string]?:
    | MessageLimit<UserData, ReceivedMessage<P, Type>>
    | readonly MessageLimit<UserData, ReceivedMessage<P, Type>>[];
};

/**
 * An exact sliding window: it keeps the times of the last `messages` it
 * accepted, in a ring, so one more fits when fewer were accepted or the
 * oldest of them has left the window. O(1) per check, `messages` numbers of
 * memory.
 *
 * @example
 * ```ts
 * import { SlidingWindow } from "switchboard/protocol";
 *
 * const window = new SlidingWindow({ messages: 2, interval: 1_000 });
 * for (const now of [0, 10, 20]) {
 *   if (window.allows(now)) window.take(now); // 0 and 10 are taken, 20 is not
 * }
 * console.log(window.allows(1_000)); // true: 0 has left the window
 * ```
 */
export class SlidingWindow {
  readonly #messages: number;
  readonly #interval: number;
  readonly #times: number[] = [];
  /** Where the oldest time is once the ring is full. */
  #oldest = 0;

  /** An empty window of this limit (not checked: see {@linkcode MessageLimit} for the rules). */
  constructor(limit: { readonly messages: number; readonly interval: number }) {
    this.#messages = limit.messages;
    this.#interval = limit.interval;
  }

  /** Whether one more message would be accepted at `now` (milliseconds). */
  allows(now: number): boolean {
    if (this.#times.length < this.#messages) return true;
    if (this.#messages === 0) return false;
    return this.#times[this.#oldest]! <= now - this.#interval;
  }

  /** Counts one accepted message at `now`; call it only after {@linkcode allows} said yes. */
  take(now: number): void {
    if (this.#times.length < this.#messages) {
      this.#times.push(now);
      return;
    }
    this.#times[this.#oldest] = now;
    this.#oldest = (this.#oldest + 1) % this.#messages;
  }
}

/**
 * One {@linkcode SlidingWindow} per key, bounded in memory: a key not used
 * for a whole interval is forgotten (its window is empty by then, so nothing
 * is lost), and past `maxKeys` the one used least recently is forgotten
 * early. Asking for a key's window counts as a use, refused or not, so a
 * client that keeps trying keeps its count.
 *
 * @example
 * ```ts
 * import { KeyedWindows } from "switchboard/protocol";
 *
 * const perAddress = new KeyedWindows({ messages: 10, interval: 60_000 }, 1_000);
 * function allowUpgrade(address: string): boolean {
 *   const now = Date.now();
 *   const window = perAddress.windowOf(address, now);
 *   if (!window.allows(now)) return false;
 *   window.take(now);
 *   return true;
 * }
 * console.log(allowUpgrade("192.0.2.1"), perAddress.size);
 * ```
 */
export class KeyedWindows {
  readonly #limit: { readonly messages: number; readonly interval: number };
  readonly #maxKeys: number;
  /** Windows by key, in the order they were last used: the first is the stalest. */
  readonly #byKey = new Map<string, { window: SlidingWindow; usedAt: number }>();

  /** No key kept yet; each gets a window of `limit`, and at most `maxKeys` are kept. */
  constructor(limit: { readonly messages: number; readonly interval: number }, maxKeys: number = DEFAULT_MAX_KEYS) {
    this.#limit = { messages: limit.messages, interval: limit.interval };
    this.#maxKeys = maxKeys;
  }

  /** Keys kept now. */
  get size(): number {
    return this.#byKey.size;
  }

  /** The window of `key` at `now` (milliseconds): a new one if it was not kept. */
  windowOf(key: string, now: number): SlidingWindow {
    for (const [stale, { usedAt }] of this.#byKey) {
      if (now - usedAt < this.#limit.interval) break; // the rest were used later
      this.#byKey.delete(stale);
    }
    const kept = this.#byKey.get(key);
    this.#byKey.delete(key); // re-inserted: the Map's order is the order of use
    const entry = { window: kept?.window ?? new SlidingWindow(this.#limit), usedAt: now };
    this.#byKey.set(key, entry);
    if (this.#byKey.size > this.#maxKeys) this.#byKey.delete(this.#byKey.keys().next().value!);
    return entry.window;
  }
}

/** One limit in force: per connection, or per key. */
interface Rule<UserData> {
  readonly limit: MessageLimit<UserData, unknown>;
  readonly byConnection?: WeakMap<Connection<UserData>, SlidingWindow>;
  readonly byKey?: KeyedWindows;
}

/** The limits of a controller, checked at construction. Internal to the protocol. */
export class Limiter<UserData> {
  readonly #rules = new Map<string, readonly Rule<UserData>[]>();

  /** Checks `limits` (TypeErrors and RangeErrors naming the option); `types` are the protocol's client types. */
  constructor(limits: unknown, types: ReadonlySet<string>) {
    if (limits === undefined) return;
    checkOptionsObject("create controller with 'limits'", limits);
    for (const [type, given] of Object.entries(limits as Record<string, unknown>)) {
      if (!types.has(type)) {
        throw new TypeError(`Cannot create controller as 'limits.${type}' is not a client message type of the protocol: known types are ${[...types].join(", ") || "none"}`);
      }
      const list: readonly unknown[] = Array.isArray(given) ? given : [given];
      this.#rules.set(type, list.map((limit, i) => checkRule<UserData>(Array.isArray(given) ? `limits.${type}[${i}]` : `limits.${type}`, limit)));
    }
  }

  /** Keys kept now by the limits with `per`, summed over them. */
  get keys(): number {
    let keys = 0;
    for (const rules of this.#rules.values()) for (const rule of rules) keys += rule.byKey?.size ?? 0;
    return keys;
  }

  /**
   * Whether `message` of `type` may be handled now: undefined (then it is
   * counted in every limit of its type), or the first limit that refuses it
   * (then it is counted in none).
   */
  check(connection: Connection<UserData>, type: string, message: unknown, now: number = Date.now()): MessageLimit<UserData, unknown> | undefined {
    const rules = this.#rules.get(type);
    if (rules === undefined) return undefined;
    const windows: SlidingWindow[] = [];
    for (const rule of rules) {
      if (rule.limit.counts !== undefined && !rule.limit.counts(connection, message)) continue;
      const window = rule.byKey === undefined ? windowOfConnection(rule.byConnection!, connection, rule.limit) : rule.byKey.windowOf(keyOf(rule.limit, connection), now);
      if (!window.allows(now)) return rule.limit;
      windows.push(window);
    }
    for (const window of windows) window.take(now);
    return undefined;
  }
}

function windowOfConnection<UserData>(windows: WeakMap<Connection<UserData>, SlidingWindow>, connection: Connection<UserData>, limit: MessageLimit<UserData, unknown>): SlidingWindow {
  let window = windows.get(connection);
  if (window === undefined) windows.set(connection, (window = new SlidingWindow(limit)));
  return window;
}

function keyOf<UserData>(limit: MessageLimit<UserData, unknown>, connection: Connection<UserData>): string {
  const key = limit.per!(connection);
  if (typeof key !== "string") throw new TypeError(`Cannot rate-limit as 'per' must return a string: it returned ${describe(key)}`);
  return key;
}

const LIMIT_KEYS: ReadonlySet<string> = new Set(["messages", "interval", "per", "maxKeys", "action", "counts"]);

function checkRule<UserData>(name: string, limit: unknown): Rule<UserData> {
  const action = `create controller with '${name}'`;
  if (typeof limit !== "object" || limit === null || Array.isArray(limit)) {
    throw new TypeError(`Cannot create controller as '${name}' must be an object { messages, interval }: current value is ${describe(limit)}`);
  }
  checkKnownKeys(action, limit, LIMIT_KEYS);
  const given = limit as MessageLimit<UserData, unknown>;
  if (given.messages === undefined) throw new TypeError(`Cannot create controller as '${name}.messages' is missing: give a whole number, 0 or more`);
  const messages = checkNumber("create controller", `${name}.messages`, given.messages, 0, { min: 0, integer: true });
  const interval = given.interval;
  if (typeof interval !== "number" || !(interval > 0 && Number.isFinite(interval))) {
    const Error = typeof interval === "number" ? RangeError : TypeError;
    throw new Error(`Cannot create controller as '${name}.interval' must be a finite number of milliseconds above 0: current value is ${describe(interval)}`);
  }
  for (const key of ["per", "counts"] as const) {
    if (given[key] !== undefined && typeof given[key] !== "function") {
      throw new TypeError(`Cannot create controller as '${name}.${key}' must be a function of the connection: current value is ${describe(given[key])}`);
    }
  }
  if (given.action !== undefined && given.action !== "reply" && given.action !== "drop") {
    throw new TypeError(`Cannot create controller as '${name}.action' must be "reply" or "drop": current value is ${describe(given.action)}`);
  }
  if (given.maxKeys !== undefined && given.per === undefined) {
    throw new TypeError(`Cannot create controller as '${name}.maxKeys' needs 'per': a limit per connection keeps no keys`);
  }
  const maxKeys = checkNumber("create controller", `${name}.maxKeys`, given.maxKeys, DEFAULT_MAX_KEYS, { min: 1, integer: true });
  const checked: MessageLimit<UserData, unknown> = Object.freeze({ ...given, messages, interval });
  return given.per === undefined ? { limit: checked, byConnection: new WeakMap() } : { limit: checked, byKey: new KeyedWindows(checked, maxKeys) };
}
