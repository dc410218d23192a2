import { checkKnownKeys, checkNumber, checkOptionsObject, describe } from "../core/_check.ts";
import type { EndpointEngine, Engine, EngineEndpoint, EngineState } from "../core/engine.ts";
import type { RedisClient } from "./client.ts";
import { RedisLink } from "./link.ts";

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
  /**
   * How long (ms) a process's presences outlive its last renewal: a crashed
   * process's presences are gone within 1.25 × this. Default 10 000.
   */
  presenceLease?: number;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(["client", "subscriber", "degradedGrace", "commandTimeout", "presenceLease"]);
const ACTION = "create RedisEngine";

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
 *   a `"degraded"` event (a `CustomEvent`, `detail.error` the last error
 *   ioredis reported), recorded broadcasts, history reads and presence calls
 *   reject; after `degradedGrace` the connections are closed with 1013 and
 *   upgrades refused with 503. When the link is back (`"up"`, also fired at
 *   the first connection), every room is filled in from its last id.
 *
 * @example
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { serve, WebSocketController } from "switchboard";
 * import { RedisEngine } from "switchboard/redis";
 *
 * const engine = new RedisEngine({ client: new Redis(process.env.REDIS_URL!) });
 * engine.addEventListener("degraded", () => console.warn("Redis is unreachable"));
 * class Chat extends WebSocketController {}
 * await serve({ port: 8080, routes: { "/chat": new Chat({ name: "chat", engine }) } });
 * ```
 */
export class RedisEngine extends EventTarget implements Engine {
  readonly #link: RedisLink;

  /** Creates the engine on an ioredis client; see {@linkcode RedisEngineOptions}. */
  constructor(options: RedisEngineOptions) {
    checkOptionsObject(ACTION, options);
    if (options === undefined) throw new TypeError(`Cannot ${ACTION} as the options are missing: pass { client }`);
    checkKnownKeys(ACTION, options, OPTION_KEYS);
    if (!isClient(options.client)) throw new TypeError(`Cannot ${ACTION} as 'client' must be a Redis client such as ioredis: current value is ${describe(options.client)}`);
    if (options.subscriber !== undefined && !isClient(options.subscriber)) {
      throw new TypeError(`Cannot ${ACTION} as 'subscriber' must be a Redis client such as ioredis: current value is ${describe(options.subscriber)}`);
    }
    const grace = checkNumber(ACTION, "degradedGrace", options.degradedGrace, 10_000, { min: 0, infinite: true });
    const timeout = checkNumber(ACTION, "commandTimeout", options.commandTimeout, 5_000, { min: 1 });
    const lease = checkNumber(ACTION, "presenceLease", options.presenceLease, 10_000, { min: 100 });
    super();
    this.#link = new RedisLink(options.client, options.subscriber, { grace, timeout, lease }, {
      // "degraded" carries the last error ioredis reported (`event.detail.error`): the reason an app would log.
      changed: (state, error) => this.dispatchEvent(new CustomEvent(state, { detail: { error } })),
    });
  }

  /** `"up"` while both connections to Redis are ready; `"degraded"` otherwise. */
  get state(): EngineState {
    return this.#link.state;
  }

  /** The last error ioredis reported on the engine's connections (refused, wrong password, ...), if any. */
  get lastError(): Error | undefined {
    return this.#link.lastError;
  }

  /** When the engine became degraded (ms since 1970); 0 while up. */
  get degradedSince(): number {
    return this.#link.degradedSince;
  }

  /** Connects a controller of this process; controllers call it themselves (the `engine` option). */
  connect(endpoint: EngineEndpoint): EndpointEngine {
    return this.#link.connect(endpoint);
  }

  /** Stops the engine: its controllers' subscriptions, and the subscriber connection it made. The `client` is yours to close. */
  close(): Promise<void> {
    return this.#link.close();
  }
}

function isClient(value: unknown): value is RedisClient {
  const client = value as Partial<Record<keyof RedisClient, unknown>> | null;
  return typeof client === "object" && client !== null && typeof client.call === "function" && typeof client.callBuffer === "function" &&
    typeof client.duplicate === "function" && typeof client.on === "function";
}
