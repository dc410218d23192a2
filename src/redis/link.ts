import { newEpoch } from "../core/_ids.ts";
import { rejectAfter, type TimerHandle, unrefTimer } from "../core/_timers.ts";
import { CloseCode } from "../core/close-codes.ts";
import type { EngineEndpoint, EngineState } from "../core/engine.ts";
import { SwitchboardError } from "../core/errors.ts";
import type { RedisClient } from "./client.ts";
import { RedisEndpoint, type EngineLink } from "./endpoint.ts";
import { decodeEnvelope } from "./envelope.ts";

interface Listener {
  readonly endpoint: RedisEndpoint;
  readonly room: string | undefined;
}

/** What the link reports to the engine that owns it. */
export interface LinkEvents {
  /** The link went down (`"degraded"`, with the last error ioredis reported) or came back (`"up"`). */
  changed(state: EngineState, error: Error | undefined): void;
}

/**
 * The engine's two connections to Redis (commands, subscriptions), their
 * state, the channels subscribed and who gets their messages, and the
 * endpoints of this process. Degraded while either connection is not ready;
 * past the grace, every endpoint closes its connections with 1013; back up,
 * every channel is subscribed again and every room's feed reads what it missed.
 */
export class RedisLink implements EngineLink {
  /** This process's id on the channels: its own unrecorded messages come back and are skipped. */
  readonly processId: string = newEpoch();
  readonly #client: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #ownsSubscriber: boolean;
  readonly #grace: number;
  readonly #timeout: number;
  readonly #listeners: Map<string, Listener> = new Map();
  /** Channels let go while the link was down: ioredis subscribes them again when it reconnects, the link unsubscribes them then. */
  readonly #stale: Set<string> = new Set();
  readonly #endpoints: Set<RedisEndpoint> = new Set();
  #state: EngineState;
  #degradedSince = 0;
  #everUp = false;
  #graceTimer: TimerHandle | undefined;
  #pastGrace = false;
  #closed = false;
  /** Whether this outage has been reported (the first connection's attempts are not an outage until one fails). */
  #announced = false;
  #lastError: Error | undefined;
  readonly #events: LinkEvents;
  readonly #onReady = (): void => this.#check(false);
  readonly #onFailure = (): void => this.#check(true);
  readonly #onMessage = (channel: Uint8Array, message: Uint8Array): void => this.#dispatch(channel, message);
  /** ioredis reports connection errors as events (and logs them when nothing listens): kept, for the degraded event and `lastError`. */
  readonly #onError = (error: Error): void => {
    this.#lastError = error;
  };

  /** How long presences outlive their process's last renewal (ms). */
  readonly presenceLease: number;
  /** How long a command may take before it is given up (ms). */
  readonly commandTimeout: number;

  constructor(
    client: RedisClient,
    subscriber: RedisClient | undefined,
    limits: { grace: number; timeout: number; lease: number },
    events: LinkEvents,
  ) {
    this.#events = events;
    this.#grace = limits.grace;
    this.#timeout = limits.timeout;
    this.commandTimeout = limits.timeout;
    this.presenceLease = limits.lease;
    this.#client = client;
    this.#ownsSubscriber = subscriber === undefined;
    this.#subscriber = subscriber ?? client.duplicate();
    for (const connection of [this.#client, this.#subscriber]) {
      connection.on("ready", this.#onReady);
      for (const event of ["close", "end", "reconnecting"] as const) connection.on(event, this.#onFailure);
      connection.on("error", this.#onError);
    }
    this.#subscriber.on("messageBuffer", this.#onMessage);
    this.#state = this.#linkUp() ? "up" : "degraded";
    this.#everUp = this.#state === "up";
    // Still connecting: degraded (nothing can be served yet) and the grace runs, but no "degraded"
    // event until an attempt fails, so that a healthy start does not report an outage.
    if (this.#state === "degraded") this.#degraded(false);
  }

  /** The last error ioredis reported on either connection. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** `"up"` while both connections to Redis are ready. */
  get state(): EngineState {
    return this.#state;
  }

  /** When the engine became degraded (ms since 1970); 0 while up. */
  get degradedSince(): number {
    return this.#degradedSince;
  }

  /** Whether the link has been degraded for longer than its grace. */
  get pastGrace(): boolean {
    return this.#pastGrace;
  }

  /** Connects an endpoint of this process. */
  connect(endpoint: EngineEndpoint): RedisEndpoint {
    if (this.#closed) throw new SwitchboardError("ENGINE_UNAVAILABLE", `Cannot connect controller '${endpoint.name}' as its RedisEngine is closed`);
    for (const other of this.#endpoints) {
      // One process serves an endpoint through one controller: two would share channels and presences, each undoing the other.
      if (other.endpoint.name === endpoint.name) {
        throw new TypeError(`Cannot connect controller '${endpoint.name}' to the RedisEngine as another controller of that name uses it: give each controller of a process its own name`);
      }
    }
    const connected = new RedisEndpoint(endpoint, this);
    this.#endpoints.add(connected);
    return connected;
  }

  /** Closes the subscriber (when the link made it) and the endpoints; the command client is the caller's. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    for (const endpoint of [...this.#endpoints]) await endpoint.close();
    for (const connection of [this.#client, this.#subscriber]) {
      connection.off("ready", this.#onReady);
      for (const event of ["close", "end", "reconnecting"]) connection.off(event, this.#onFailure);
    }
    this.#subscriber.off("messageBuffer", this.#onMessage);
    // The error listener stays on the subscriber the link made (it may still report the disconnect), not on the caller's connections.
    this.#client.off("error", this.#onError);
    if (this.#ownsSubscriber) this.#subscriber.disconnect();
    else this.#subscriber.off("error", this.#onError);
  }

  // --- EngineLink: for the endpoints -------------------------------------------

  /** The command client as it is, whatever its state (presence renews and sweeps only while it is ready). */
  get commandClient(): RedisClient {
    return this.#client;
  }

  /** Whether commands may be sent: not while degraded after having been up (before the first connection, they wait). */
  get available(): boolean {
    return this.#state === "up" || !this.#everUp;
  }

  /** The command client; a `SwitchboardError` `"ENGINE_UNAVAILABLE"` while degraded after having been up. */
  client(): RedisClient {
    if (this.#state !== "up" && this.#everUp) {
      throw new SwitchboardError("ENGINE_UNAVAILABLE", "Cannot reach Redis: the engine is degraded");
    }
    return this.#client;
  }

  /** `promise`, rejected with `ENGINE_UNAVAILABLE` past the command timeout. */
  bounded<T>(promise: Promise<T>): Promise<T> {
    return rejectAfter(promise, this.#timeout, () => new SwitchboardError("ENGINE_UNAVAILABLE", `Redis did not answer within ${this.#timeout} ms`));
  }

  /** Subscribes a channel for an endpoint (`room`: which room's, if any); resolves once Redis confirms. */
  listen(channel: string, endpoint: RedisEndpoint, room: string | undefined): Promise<void> {
    this.#listeners.set(channel, { endpoint, room });
    this.#stale.delete(channel);
    if (this.#state !== "up" && this.#everUp) return Promise.reject(new SwitchboardError("ENGINE_UNAVAILABLE", "Cannot subscribe: the engine is degraded"));
    return this.bounded(this.#subscriber.subscribe(channel)).then(() => {});
  }

  /** Unsubscribes a channel. */
  unlisten(channel: string): void {
    if (!this.#listeners.delete(channel)) return;
    if (this.#state === "up") this.#subscriber.unsubscribe(channel).catch(() => this.#stale.add(channel));
    else this.#stale.add(channel);
  }

  /** An endpoint closed. */
  forget(endpoint: RedisEndpoint): void {
    this.#endpoints.delete(endpoint);
  }

  // --- The link's state ----------------------------------------------------------

  #linkUp(): boolean {
    return this.#client.status === "ready" && this.#subscriber.status === "ready";
  }

  #check(failed: boolean): void {
    if (this.#closed) return;
    const state: EngineState = this.#linkUp() ? "up" : "degraded";
    if (state === this.#state) {
      if (state === "degraded" && failed) this.#announce(); // the first connection failed: now it is an outage
      return;
    }
    this.#state = state;
    if (state === "degraded") this.#degraded(true);
    else void this.#restored();
  }

  /** Degraded from now; reported at once, or (still connecting) once an attempt fails. */
  #degraded(announce: boolean): void {
    this.#degradedSince = Date.now();
    if (announce) this.#announce();
    if (this.#grace !== Infinity) {
      this.#graceTimer = unrefTimer(setTimeout(() => {
        if (this.#state !== "degraded") return;
        this.#pastGrace = true;
        for (const endpoint of this.#endpoints) endpoint.endpoint.closeAll(CloseCode.TryAgainLater, "Redis unavailable, retry");
      }, this.#grace));
    }
  }

  #announce(): void {
    if (this.#announced) return;
    this.#announced = true;
    this.#events.changed("degraded", this.#lastError);
  }

  /** Subscribes every channel again (ioredis does too, but its order against our reads is not ours to know), then fills in each room. */
  async #restored(): Promise<void> {
    clearTimeout(this.#graceTimer);
    this.#pastGrace = false;
    const first = !this.#everUp;
    this.#everUp = true;
    this.#degradedSince = 0;
    const channels = [...this.#listeners.keys()];
    try {
      if (channels.length > 0) await this.bounded(this.#subscriber.subscribe(...channels));
      // Taken when sent: a channel listened to again meanwhile is no longer stale (its SUBSCRIBE goes after).
      const stale = [...this.#stale];
      this.#stale.clear();
      if (stale.length > 0) await this.bounded(this.#subscriber.unsubscribe(...stale)).catch((error: unknown) => {
        for (const channel of stale) if (!this.#listeners.has(channel)) this.#stale.add(channel);
        throw error;
      });
    } catch {
      // Down again (the next "ready" tries again), or Redis was slow to answer while both connections stay ready: try again shortly.
      if (this.#state === "up" && !this.#closed) unrefTimer(setTimeout(() => void this.#restoredIfUp(), RESUBSCRIBE_RETRY_MS));
      return;
    }
    if (this.#state !== "up") return;
    // "up" once the engine first connects, and after every outage reported; not for a blip nobody was told of.
    const tell = this.#announced || first;
    this.#announced = false;
    for (const endpoint of this.#endpoints) endpoint.resume();
    if (tell) this.#events.changed("up", undefined);
  }

  #restoredIfUp(): Promise<void> {
    return this.#state === "up" && !this.#closed ? this.#restored() : Promise.resolve();
  }

  #dispatch(channel: Uint8Array, message: Uint8Array): void {
    const listener = this.#listeners.get(channelName(channel));
    if (!listener) return;
    const envelope = decodeEnvelope(message);
    if (envelope) listener.endpoint.received(listener.room, envelope);
  }
}

const decoder = new TextDecoder();
/** How soon subscribing every channel again is retried when Redis did not answer in time. */
const RESUBSCRIBE_RETRY_MS = 500;

function channelName(channel: Uint8Array | string): string {
  return typeof channel === "string" ? channel : decoder.decode(channel);
}

