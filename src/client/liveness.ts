/**
 * Liveness of an open connection: a ping after `pingInterval` of silence,
 * and the connection given up for dead when nothing follows within
 * `pongTimeout`. Any frame counts as a sign of life, not only a pong.
 *
 * @module
 */

/** The timings, in milliseconds; `pingInterval` 0 turns liveness off. */
export interface LivenessTimings {
  readonly pingInterval: number;
  readonly pongTimeout: number;
}

/** Monotonic where there is one: a wall clock set back must not fake a silence. */
const now: () => number = typeof performance === "object" && typeof performance.now === "function"
  ? () => performance.now()
  : () => Date.now();

/**
 * One connection's liveness timer. `heard()` is called on every frame and
 * only notes the time: the single timer, when it fires, works out how long
 * the silence really was and sleeps again for the rest, so a busy connection
 * costs no timer churn.
 */
export class Liveness {
  readonly #timings: LivenessTimings;
  readonly #ping: () => void;
  readonly #dead: () => void;
  #last = 0;
  #pingedAt: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Calls `ping` after a silence of `pingInterval`, and `dead` if the silence lasts `pongTimeout` more. */
  constructor(timings: LivenessTimings, ping: () => void, dead: () => void) {
    this.#timings = timings;
    this.#ping = ping;
    this.#dead = dead;
  }

  /** Starts watching (the socket just opened). */
  start(): void {
    this.#last = now();
    this.#pingedAt = undefined;
    this.#arm(this.#timings.pingInterval);
  }

  /** A frame arrived. */
  heard(): void {
    this.#last = now();
  }

  /** Pings now instead of waiting for the interval (the browser said it went offline). */
  pingNow(): void {
    if (this.#timings.pingInterval === 0 || this.#timer === undefined || this.#pingedAt !== undefined) return;
    this.#sendPing();
  }

  /** Stops every timer. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pingedAt = undefined;
  }

  #arm(ms: number): void {
    if (this.#timings.pingInterval === 0) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, ms));
  }

  #sendPing(): void {
    this.#pingedAt = now();
    this.#arm(this.#timings.pongTimeout);
    this.#ping();
  }

  #fire(): void {
    this.#timer = undefined;
    const t = now();
    if (this.#pingedAt !== undefined) {
      if (this.#last >= this.#pingedAt) {
        // Something arrived after the ping: alive, back to waiting for a silence.
        this.#pingedAt = undefined;
        this.#arm(this.#timings.pingInterval - (t - this.#last));
      } else {
        this.#dead();
      }
      return;
    }
    const silent = t - this.#last;
    if (silent < this.#timings.pingInterval) this.#arm(this.#timings.pingInterval - silent);
    else this.#sendPing();
  }
}
