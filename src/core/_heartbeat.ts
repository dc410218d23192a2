import { unrefTimer, type TimerHandle } from "./_timers.ts";

/** A connection as the heartbeat sees it. */
export interface Beating {
  readonly isOpen: boolean;
  readonly lastActivity: number;
  /** Whether anything arrived since the last check. */
  alive: boolean;
  /** Pings the peer; `false` where the runtime cannot (Deno runs its own heartbeat). */
  ping(): boolean;
  heartbeatTimedOut(): void;
  /** Closes for idleness (1001). */
  closeIdle(): void;
}

/**
 * The heartbeat and the idle timeout of one controller: two intervals that
 * run while it has connections. Each ping round drops the connections that
 * sent nothing (not even a pong) since the previous round, so a dead client
 * goes within two intervals; the idle check runs every quarter of
 * `idleTimeout`, so an idle client goes within 1.25 times it.
 */
export class Heartbeat {
  readonly #connections: () => Iterable<Beating>;
  readonly #pingInterval: number;
  readonly #idleTimeout: number;
  #pingTimer: TimerHandle | undefined;
  #idleTimer: TimerHandle | undefined;

  constructor(connections: () => Iterable<Beating>, pingInterval: number, idleTimeout: number) {
    this.#connections = connections;
    this.#pingInterval = pingInterval;
    this.#idleTimeout = idleTimeout;
  }

  start(): void {
    if (this.#pingInterval > 0 && this.#pingTimer === undefined) {
      this.#pingTimer = unrefTimer(setInterval(() => this.#pingRound(), this.#pingInterval));
    }
    if (this.#idleTimeout > 0 && this.#idleTimer === undefined) {
      this.#idleTimer = unrefTimer(setInterval(() => this.#idleRound(), Math.max(10, this.#idleTimeout / 4)));
    }
  }

  stop(): void {
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    this.#pingTimer = this.#idleTimer = undefined;
  }

  #pingRound(): void {
    for (const connection of this.#connections()) {
      if (!connection.isOpen) continue;
      if (!connection.alive) {
        connection.heartbeatTimedOut();
        continue;
      }
      // A runtime without ping (Deno) runs its own heartbeat, configured by its adapter.
      if (connection.ping()) connection.alive = false;
    }
  }

  #idleRound(): void {
    const deadline = Date.now() - this.#idleTimeout;
    for (const connection of this.#connections()) {
      if (connection.isOpen && connection.lastActivity <= deadline) connection.closeIdle();
    }
  }
}
