/**
 * The chat's rate limits: an exact sliding window, one per message kind per
 * connection, and the windows shared by all connections of one client
 * address, bounded in memory. Per process: with several processes, each
 * keeps its own budgets.
 *
 * @module
 */
import type { ChatMessageKind, RateLimit, RateLimits } from "./protocol.ts";

/**
 * What one connection may send of each kind. Every kind is limited because
 * every kind is sent on to the whole room: unlimited renames or typing
 * notices let one client make the server send to every member at its own
 * rate. The page renames once per connection and sends a typing notice at
 * most every 2 s, far below these.
 */
export const DEFAULT_LIMITS: Readonly<Record<ChatMessageKind, RateLimit>> = {
  chat: { messages: 20, windowMs: 10_000 },
  username: { messages: 5, windowMs: 10_000 },
  typing: { messages: 10, windowMs: 10_000 },
};
/**
 * What one client address may send of each kind over all its connections,
 * so that reconnecting does not start a fresh budget. Room for about three
 * busy tabs (or people behind one NAT) at once.
 */
export const DEFAULT_ADDRESS_LIMITS: Readonly<Record<ChatMessageKind, RateLimit>> = {
  chat: { messages: 60, windowMs: 10_000 },
  username: { messages: 20, windowMs: 10_000 },
  typing: { messages: 30, windowMs: 10_000 },
};
/** Addresses whose budgets are kept at once (about 1 KiB each with the default limits). */
export const DEFAULT_MAX_ADDRESSES = 10_000;
const MESSAGE_KINDS: readonly ChatMessageKind[] = ["chat", "username", "typing"];

/** What each kind is called in a `rate_limited` error. */
export const KIND_WORDS: Readonly<Record<ChatMessageKind, { action: string; noun: string }>> = {
  chat: { action: "send message", noun: "messages" },
  username: { action: "change username", noun: "renames" },
  typing: { action: "send typing", noun: "typing notices" },
};

/**
 * An exact sliding-window limit. It keeps the times of the last `messages`
 * it accepted, in a ring: one more fits when fewer than `messages` were
 * accepted, or when the oldest of them has left the window. So a check is
 * O(1) and the memory is `messages` numbers.
 */
export class SlidingWindow {
  readonly #messages: number;
  readonly #windowMs: number;
  readonly #times: number[] = [];
  /** Where the oldest time is once the ring is full. */
  #oldest = 0;

  /** An empty window for this limit. */
  constructor({ messages, windowMs }: RateLimit) {
    this.#messages = messages;
    this.#windowMs = windowMs;
  }

  /** Whether one more message would be accepted at `now` (milliseconds). */
  allows(now: number): boolean {
    if (this.#times.length < this.#messages) return true;
    if (this.#messages === 0) return false;
    return this.#times[this.#oldest]! <= now - this.#windowMs;
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

/** One sliding window per message kind. */
export function newWindows(limits: Readonly<Record<ChatMessageKind, RateLimit>>): Record<ChatMessageKind, SlidingWindow> {
  return { chat: new SlidingWindow(limits.chat), username: new SlidingWindow(limits.username), typing: new SlidingWindow(limits.typing) };
}

/**
 * Rate-limit windows per client address, shared by all of its connections.
 * Bounded in memory: an address not heard from for the longest window is
 * forgotten (its windows are empty by then, so nothing is lost), and past
 * `maxAddresses` the one heard from least recently is forgotten early.
 */
export class AddressBudgets {
  readonly #limits: Readonly<Record<ChatMessageKind, RateLimit>>;
  readonly #maxAddresses: number;
  /** After this long without a message an address's windows are all empty. */
  readonly #idleMs: number;
  /** Windows by address, in the order they were last used: the first is the stalest. */
  readonly #byAddress = new Map<string, { windows: Record<ChatMessageKind, SlidingWindow>; usedAt: number }>();

  /** No address kept yet; each one gets a window per kind of these `limits`. */
  constructor(limits: Readonly<Record<ChatMessageKind, RateLimit>>, maxAddresses: number) {
    this.#limits = limits;
    this.#maxAddresses = maxAddresses;
    this.#idleMs = Math.max(...MESSAGE_KINDS.map((kind) => limits[kind].windowMs));
  }

  /** Addresses kept now. */
  get size(): number {
    return this.#byAddress.size;
  }

  /** The windows of `address` at `now` (milliseconds), new ones if it was not kept. */
  windowsOf(address: string, now: number): Record<ChatMessageKind, SlidingWindow> {
    this.#forgetStale(now);
    let budget = this.#byAddress.get(address);
    if (budget) this.#byAddress.delete(address); // re-inserted below: the Map's order is the order of use
    else budget = { windows: newWindows(this.#limits), usedAt: now };
    budget.usedAt = now;
    this.#byAddress.set(address, budget);
    if (this.#byAddress.size > this.#maxAddresses) this.#byAddress.delete(this.#byAddress.keys().next().value!);
    return budget.windows;
  }

  #forgetStale(now: number): void {
    for (const [address, { usedAt }] of this.#byAddress) {
      if (now - usedAt < this.#idleMs) break; // the rest were used later
      this.#byAddress.delete(address);
    }
  }
}

/** The limits in force: the defaults, replaced kind by kind by those given; a RangeError for a bad one. */
export function resolveLimits(
  option: string,
  given: RateLimits | undefined,
  defaults: Readonly<Record<ChatMessageKind, RateLimit>>,
): Record<ChatMessageKind, RateLimit> {
  const limits = { ...defaults };
  for (const kind of MESSAGE_KINDS) {
    const limit = given?.[kind];
    if (limit === undefined) continue;
    const { messages, windowMs } = limit;
    if (!Number.isInteger(messages) || messages < 0 || !(windowMs > 0 && Number.isFinite(windowMs))) {
      throw new RangeError(
        `Cannot create chat as '${option}.${kind}' must have a whole 'messages' of 0 or more and a finite 'windowMs' above 0: current value is ${JSON.stringify(limit)}`,
      );
    }
    limits[kind] = { messages, windowMs };
  }
  return limits;
}

/** A whole or finite number of at least `min`, or its default; a RangeError otherwise. */
export function checkedNumber(option: string, value: number | undefined, fallback: number, min: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`Cannot create chat as '${option}' must be a ${integer ? "whole" : "finite"} number of at least ${min}: current value is ${value}`);
  }
  return value;
}
