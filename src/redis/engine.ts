import { checkKnownKeys, checkNumber, checkOptionsObject, describe } from "../core/_check.ts";
import { newEpoch } from "../core/_ids.ts";
import { type TimerHandle, unrefTimer } from "../core/_timers.ts";
import { CloseCode } from "../core/close-codes.ts";
import type { Engine, EngineEndpoint, EngineState } from "../core/engine.ts";
import { SwitchboardError } from "../core/errors.ts";
import type { RedisClient } from "./client.ts";
import { RedisEndpoint, type EngineLink } from "./endpoint.ts";
import { decodeEnvelope } from "./envelope.ts";

/** Options of a {@linkcode RedisEngine}. */
export interface RedisEngineOptions {
  /** The connection for commands and scripts (an ioredis client). */
  client: RedisClient;
  /** The connection for subscriptions. Default: `client.duplicate()`, closed with the engine. */
  subscriber?: RedisClient;
  /**
   * How long (ms) the engine may be degraded (a link to Redis down) before
   * every connection of its controllers is closed with 1013 ("Try again
   * later"), so that clients reconnect, through a load balancer, to a
   * process that can serve them. Default 10 000.
   */
  degradedGrace?: number;
  /** How long (ms) a command may take before it is given up as failed. Default 5 000. */
  commandTimeout?: number;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(["client", "subscriber", "degradedGrace", "commandTimeout"]);
const ACTION = "create RedisEngine";

interface Listener {
  readonly endpoint: RedisEndpoint;
  readonly room: string | undefined;
}

/**
 * Carries controllers across processes on Redis: broadcasts, recorded
 * history with catch-up, and gap repair. Controllers of the same `name` on
 * every process that shares the Redis are one endpoint.
 *
 * - Recorded messages: one Lua call appends to the room's stream (gapless
 *   ids, the same everywhere) and publishes. Each process delivers a room's
 *   recorded messages once each, in id order, filling a gap from the stream
 *   first; only when the stream can no longer fill it does `onResync` run.
 * - Epochs change when a room's log is lost and when the Redis server has
 *   been restarted or replaced by a replica: a stale position is then
 *   `complete: false`, never a wrong replay.
 * - Unrecorded broadcasts are at most once across processes.
 * - While a link is down the engine is degraded: `stats().engine.state`,
 *   a `"degraded"` event, recorded broadcasts and history reads reject; after
 *   `degradedGrace` the connections are closed with 1013. When the link is
 *   back (`"up"`), every room is filled in from its last id.
 *
 * @example
 * ```ts ignore
 * import Redis from "ioredis";
 * import { serve, WebSocketController } from "switchboard";
 * import { RedisEngine } from "switchboard/redis";
 *
 * const engine = new RedisEngine({ client: new Redis(process.env.REDIS_URL!) });
 * engine.addEventListener("degraded", () => console.warn("Redis is unreachable"));
 * class Chat extends WebSocketController {}
 * await serve({ port: 8080, routes: { "/chat": new Chat({ name: "chat", engine }) } });
 * ```
 */
export class RedisEngine extends EventTarget implements Engine, EngineLink {
  /** This process's id on the channels: its own unrecorded messages come back and are skipped. */
  readonly processId: string = newEpoch();
  readonly #client: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #ownsSubscriber: boolean;
  readonly #grace: number;
  readonly #timeout: number;
  readonly #listeners: Map<string, Listener> = new Map();
  readonly #endpoints: Set<RedisEndpoint> = new Set();
  #state: EngineState;
  #degradedSince = 0;
  #everUp = false;
  #graceTimer: TimerHandle | undefined;
  #closed = false;
  readonly #onStatus = (): void => this.#check();
  readonly #onMessage = (channel: Uint8Array, message: Uint8Array): void => this.#dispatch(channel, message);
  readonly #onError = (): void => {}; // ioredis reports errors as events; the state says what matters

  constructor(options: RedisEngineOptions) {
    checkOptionsObject(ACTION, options);
    if (options === undefined) throw new TypeError(`Cannot ${ACTION} as the options are missing: pass { client }`);
    checkKnownKeys(ACTION, options, OPTION_KEYS);
    if (!isClient(options.client)) throw new TypeError(`Cannot ${ACTION} as 'client' must be a Redis client such as ioredis: current value is ${describe(options.client)}`);
    if (options.subscriber !== undefined && !isClient(options.subscriber)) {
      throw new TypeError(`Cannot ${ACTION} as 'subscriber' must be a Redis client such as ioredis: current value is ${describe(options.subscriber)}`);
    }
    super();
    this.#grace = checkNumber(ACTION, "degradedGrace", options.degradedGrace, 10_000, { min: 0, infinite: true });
    this.#timeout = checkNumber(ACTION, "commandTimeout", options.commandTimeout, 5_000, { min: 1 });
    this.#client = options.client;
    this.#ownsSubscriber = options.subscriber === undefined;
    this.#subscriber = options.subscriber ?? options.client.duplicate();
    for (const connection of [this.#client, this.#subscriber]) {
      for (const event of ["ready", "close", "end", "reconnecting"] as const) connection.on(event, this.#onStatus);
      connection.on("error", this.#onError);
    }
    this.#subscriber.on("messageBuffer", this.#onMessage);
    this.#state = this.#linkUp() ? "up" : "degraded";
    this.#everUp = this.#state === "up";
    if (this.#state === "degraded") this.#degraded();
  }

  /** `"up"` while both connections to Redis are ready. */
  get state(): EngineState {
    return this.#state;
  }

  /** When the engine became degraded (ms since 1970); 0 while up. */
  get degradedSince(): number {
    return this.#degradedSince;
  }

  connect(endpoint: EngineEndpoint): RedisEndpoint {
    if (this.#closed) throw new SwitchboardError("ENGINE_UNAVAILABLE", `Cannot connect controller '${endpoint.name}' as its RedisEngine is closed`);
    const connected = new RedisEndpoint(endpoint, this);
    this.#endpoints.add(connected);
    return connected;
  }

  /** Closes the engine's subscriber (when it made it) and forgets its controllers; the command client is the caller's. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#graceTimer);
    for (const endpoint of [...this.#endpoints]) await endpoint.close();
    for (const connection of [this.#client, this.#subscriber]) {
      for (const event of ["ready", "close", "end", "reconnecting"]) connection.off(event, this.#onStatus);
    }
    this.#subscriber.off("messageBuffer", this.#onMessage);
    if (this.#ownsSubscriber) this.#subscriber.disconnect();
  }

  // --- EngineLink: for the endpoints -------------------------------------------

  /** The command client; a `SwitchboardError` `"ENGINE_UNAVAILABLE"` while degraded after having been up. */
  client(): RedisClient {
    if (this.#state !== "up" && this.#everUp) {
      throw new SwitchboardError("ENGINE_UNAVAILABLE", "Cannot reach Redis: the engine is degraded");
    }
    return this.#client;
  }

  bounded<T>(promise: Promise<T>): Promise<T> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = unrefTimer(setTimeout(() => reject(new SwitchboardError("ENGINE_UNAVAILABLE", `Redis did not answer within ${this.#timeout} ms`)), this.#timeout));
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  listen(channel: string, endpoint: RedisEndpoint, room: string | undefined): Promise<void> {
    this.#listeners.set(channel, { endpoint, room });
    if (this.#state !== "up" && this.#everUp) return Promise.reject(new SwitchboardError("ENGINE_UNAVAILABLE", "Cannot subscribe: the engine is degraded"));
    return this.bounded(this.#subscriber.subscribe(channel)).then(() => {});
  }

  unlisten(channel: string): void {
    if (!this.#listeners.delete(channel)) return;
    if (this.#state === "up") this.#subscriber.unsubscribe(channel).catch(() => {});
  }

  forget(endpoint: RedisEndpoint): void {
    this.#endpoints.delete(endpoint);
  }

  // --- The link's state ----------------------------------------------------------

  #linkUp(): boolean {
    return this.#client.status === "ready" && this.#subscriber.status === "ready";
  }

  #check(): void {
    if (this.#closed) return;
    const state: EngineState = this.#linkUp() ? "up" : "degraded";
    if (state === this.#state) return;
    this.#state = state;
    if (state === "degraded") this.#degraded();
    else void this.#restored();
  }

  #degraded(): void {
    this.#degradedSince = Date.now();
    for (const endpoint of this.#endpoints) endpoint.endpoint.stateChanged("degraded");
    this.dispatchEvent(new Event("degraded"));
    if (this.#grace !== Infinity) {
      this.#graceTimer = unrefTimer(setTimeout(() => {
        if (this.#state !== "degraded") return;
        for (const endpoint of this.#endpoints) endpoint.endpoint.closeAll(CloseCode.TryAgainLater, "Redis unavailable, retry");
      }, this.#grace));
    }
  }

  /** Subscribes every channel again (ioredis does too, but its order against our reads is not ours to know), then fills in each room. */
  async #restored(): Promise<void> {
    clearTimeout(this.#graceTimer);
    this.#everUp = true;
    this.#degradedSince = 0;
    const channels = [...this.#listeners.keys()];
    try {
      if (channels.length > 0) await this.bounded(this.#subscriber.subscribe(...channels));
    } catch {
      return; // down again; the next "ready" tries again
    }
    if (this.#state !== "up") return;
    for (const endpoint of this.#endpoints) {
      endpoint.endpoint.stateChanged("up");
      endpoint.resume();
    }
    this.dispatchEvent(new Event("up"));
  }

  #dispatch(channel: Uint8Array, message: Uint8Array): void {
    const listener = this.#listeners.get(channelName(channel));
    if (!listener) return;
    const envelope = decodeEnvelope(message);
    if (envelope) listener.endpoint.received(listener.room, envelope);
  }
}

const decoder = new TextDecoder();

function channelName(channel: Uint8Array | string): string {
  return typeof channel === "string" ? channel : decoder.decode(channel);
}

function isClient(value: unknown): value is RedisClient {
  const client = value as Partial<Record<keyof RedisClient, unknown>> | null;
  return typeof client === "object" && client !== null && typeof client.call === "function" && typeof client.callBuffer === "function" &&
    typeof client.duplicate === "function" && typeof client.on === "function";
}
