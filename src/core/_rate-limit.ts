/**
 * The window behind `rateLimit`: per connection, messages and bytes accepted
 * in any `interval` ms, with memory that does not grow with the bounds.
 *
 * The interval is cut into {@linkcode SLOTS} slots of `interval / SLOTS` ms
 * (on the clock, not per connection), and the window keeps what it accepted
 * in each of the last `SLOTS + 1` slots, a ring. A message is accepted when
 * it fits, together with everything accepted in the current slot and the
 * `SLOTS` before it, within each bound. Those slots cover at least the last
 * `interval` ms (the current slot is partly over), so:
 *
 * - never more than `messages` messages nor `bytes` bytes are accepted in any
 *   span of `interval` ms, wherever the span starts (no 2x at a boundary, as a
 *   fixed window would allow);
 * - the slots cover at most `interval + interval / SLOTS` ms, so a client
 *   that waits that long after its last accepted message is served again in
 *   full (a sliding log would serve it after exactly `interval`, but needs a
 *   time per message, `messages` numbers, and cannot count bytes).
 *
 * Memory: an array of `2 × (SLOTS + 1)` numbers per connection, whatever the
 * bounds (about 350 bytes with the window itself, measured on Node 20; a
 * `Float64Array` took 490); nothing without `rateLimit`. A message costs a
 * few array reads and writes (more only when slots went by since the last
 * one: at most `SLOTS + 1`), no allocation.
 *
 * @module
 */
import type { ResolvedRateLimit } from "./options.ts";

/** Slots per interval: a client may wait up to `interval / SLOTS` ms longer than an exact sliding log. */
export const SLOTS = 10;

const RING = SLOTS + 1;

/** Why a message was refused: it was one too many, or too many bytes. */
export type RateRefusal = "messages" | "bytes";

/** One connection's window; see the module's documentation. */
export class RateWindow {
  readonly #limit: ResolvedRateLimit;
  readonly #slotMs: number;
  /** Messages accepted per slot in `[0, RING)`, bytes per slot in `[RING, 2 × RING)`. */
  readonly #ring: number[] = new Array<number>(2 * RING).fill(0);
  /** The sums of the ring's halves. */
  #messages = 0;
  #bytes = 0;
  /** The current slot's number (time / slot length); -1 before the first message. */
  #slot = -1;
  /** When the last error reply went out. */
  #repliedAt = Number.NEGATIVE_INFINITY;

  constructor(limit: ResolvedRateLimit) {
    this.#limit = limit;
    this.#slotMs = limit.interval / SLOTS;
  }

  /**
   * Counts a message of `bytes` at `now` (ms) if it fits; else counts
   * nothing and says which bound it would pass (messages first).
   */
  take(now: number, bytes: number): RateRefusal | undefined {
    const ring = this.#ring;
    const slot = Math.floor(now / this.#slotMs);
    if (slot > this.#slot) this.#advance(slot); // an earlier time (the clock was set back) counts in the current slot
    const limit = this.#limit;
    if (limit.messages !== undefined && this.#messages >= limit.messages) return "messages";
    if (limit.bytes !== undefined && this.#bytes + bytes > limit.bytes) return "bytes";
    const index = this.#slot % RING;
    ring[index]!++;
    ring[RING + index]! += bytes;
    this.#messages++;
    this.#bytes += bytes;
    return undefined;
  }

  /** Whether an error reply may go out at `now`: at most one per interval. */
  mayReply(now: number): boolean {
    if (now >= this.#repliedAt && now - this.#repliedAt < this.#limit.interval) return false;
    this.#repliedAt = now;
    return true;
  }

  /** Moves to `slot`, forgetting the slots that left the window. */
  #advance(slot: number): void {
    const ring = this.#ring;
    if (slot - this.#slot >= RING) {
      ring.fill(0);
      this.#messages = this.#bytes = 0;
    } else {
      for (let next = this.#slot + 1; next <= slot; next++) {
        const index = next % RING;
        this.#messages -= ring[index]!;
        this.#bytes -= ring[RING + index]!;
        ring[index] = ring[RING + index] = 0;
      }
    }
    this.#slot = slot;
  }
}
