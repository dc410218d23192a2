import { CLOSED } from "./_closing-handshake.ts";
import { unrefTimer, type TimerHandle } from "./_timers.ts";

/** A connection as the send budget sees it. */
export interface Buffering {
  /** 1 open, 2 closing, 3 closed. */
  readonly status: number;
  readonly bufferedAmount: number;
  /** Lets go of the connection for the budget's sake: closes it (1013), or cuts it if it is closing already. */
  exceedBudget(): void;
}

/** A buffer past this many bytes is worth a look at the total. */
export const PRESSURE_BYTES: number = 64 * 1024;
/** At most one look per this many milliseconds, however many sends see pressure. */
const CHECK_EVERY = 100;

/**
 * A budget for the bytes all of one controller's connections have waiting to
 * be sent (`maxTotalBufferedAmount`): `maxBufferedAmount` bounds one
 * connection, this bounds them together, so a hundred clients that stop
 * reading during a fan-out cannot take the process's memory. A send that
 * sees a full buffer asks for a look; the look sums the buffers (of
 * connections still closing too) and, past the budget, lets go of the
 * connections with the most waiting, largest first, until the rest fit: an
 * open one is closed with 1013, one closing already is cut. Nothing runs
 * while buffers stay small.
 */
export class SendBudget {
  readonly #limit: number;
  readonly #connections: () => Iterable<Buffering>;
  #timer: TimerHandle | undefined;
  #lastLook = 0;

  constructor(limit: number, connections: () => Iterable<Buffering>) {
    this.#limit = limit;
    this.#connections = connections;
  }

  /** A send saw a buffer past {@linkcode PRESSURE_BYTES} (or the runtime reported backpressure): look soon. */
  pressure(): void {
    if (this.#limit === Infinity || this.#timer !== undefined) return;
    const wait = Math.max(0, this.#lastLook + CHECK_EVERY - Date.now());
    this.#timer = unrefTimer(setTimeout(() => {
      this.#timer = undefined;
      this.#lastLook = Date.now();
      this.enforce();
    }, wait));
  }

  /** Sums the buffers and closes the largest until the total is within the budget; returns how many were closed. */
  enforce(): number {
    let total = 0;
    const waiting: [number, Buffering][] = [];
    for (const connection of this.#connections()) {
      // Closing ones count too: what they still hold is memory until they go.
      if (connection.status === CLOSED) continue;
      const bytes = connection.bufferedAmount;
      if (bytes === 0) continue;
      total += bytes;
      waiting.push([bytes, connection]);
    }
    if (total <= this.#limit) return 0;
    waiting.sort((a, b) => b[0] - a[0]);
    let closed = 0;
    for (const [bytes, connection] of waiting) {
      if (total <= this.#limit) break;
      connection.exceedBudget();
      total -= bytes;
      closed++;
    }
    return closed;
  }

  /** Stops a pending look (the controller has no connections left). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
