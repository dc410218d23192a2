import { checkKnownKeys, checkName, checkNumber, checkOptionsObject, describe } from "./_check.ts";
import type { Engine } from "./engine.ts";
import type { History } from "./history.ts";

/** What happens to a message for a connection whose send buffer is past `maxBufferedAmount`. */
export type SlowConsumerPolicy = "close" | "drop";

/** What happens to a message past {@linkcode ControllerOptions.rateLimit}: see {@linkcode RateLimitOptions.action}. */
export type RateLimitAction = "reply" | "drop" | "close";

/**
 * A limit on what one connection may send: `messages` messages and `bytes`
 * bytes (of payload; give one or both) in any `interval` ms, text and binary
 * together. Never more is accepted in any span of `interval` ms, wherever it
 * starts. The window is counted in tenths of the interval, so a refused
 * client is served again in full at most `interval × 1.1` ms after its last
 * accepted message (and partly as soon as its oldest tenth leaves the
 * window). Memory: about 350 bytes per connection, whatever the bounds.
 *
 * A message larger than `bytes` is never accepted: keep `maxMessageSize`
 * at most `bytes`.
 *
 * @example
 * ```ts
 * import { WebSocketController } from "switchboard";
 *
 * class Chat extends WebSocketController {
 *   constructor() {
 *     super({ rateLimit: { messages: 20, bytes: 64 * 1024, interval: 10_000 } });
 *   }
 * }
 * ```
 */
export interface RateLimitOptions {
  /** Messages accepted in any `interval` ms: an integer of at least 1. */
  messages?: number;
  /** Bytes of message payload accepted in any `interval` ms: an integer of at least 1. */
  bytes?: number;
  /** The window, in ms: a number of at least 1. */
  interval: number;
  /**
   * What happens to a message past a bound; it never reaches the hooks, and
   * `stats().rateLimited` counts it. `"reply"` (default): the client gets an
   * error frame `{"type":"error","code":"rate_limited","message":"Cannot
   * handle message as the limit is N messages in T s: wait a little"}` (or
   * "N bytes"), at most one per interval, so that a flood does not become a
   * flood of replies. `"drop"`: nothing is said. `"close"`: the connection is
   * closed with 1008 "Rate limit".
   */
  action?: RateLimitAction;
}

/**
 * Options of a {@linkcode WebSocketController}; every field has a default.
 *
 * @example
 * ```ts
 * import { WebSocketController } from "switchboard";
 *
 * class Chat extends WebSocketController {
 *   constructor() {
 *     super({ pingInterval: 30_000, maxMessageSize: 10 * 1024, historySize: 100 });
 *   }
 * }
 * ```
 */
export interface ControllerOptions {
  /**
   * How often (ms) the server checks that each client is alive. A client that
   * has sent nothing, not even a pong, since the previous check is dropped, so a
   * dead client goes within two intervals. 0 turns the heartbeat off.
   * Default 30 000. On Deno, which has no ping API, this drives Deno's own
   * `idleTimeout` instead.
   */
  pingInterval?: number;
  /**
   * Close (1001) a connection that has sent no message for this long (ms);
   * pongs do not count. Checked every quarter of it, so the close comes
   * within 1.25 × this. 0, the default, never closes idle connections.
   */
  idleTimeout?: number;
  /** Largest message accepted, in bytes; bigger ones close with 1009. Default 1 MiB. */
  maxMessageSize?: number;
  /** Messages kept per room (by the default `MemoryHistory`, or by the engine). Default 100. */
  historySize?: number;
  /**
   * How long (ms) a room's history is kept after its last recorded message
   * (by the default `MemoryHistory`, or by the engine). Default 24 hours.
   */
  historyTtl?: number;
  /** A `History` to use instead of a `MemoryHistory` of `historySize`. */
  history?: History;
  /**
   * Carries broadcasts, recorded history and presence across processes (for
   * example `RedisEngine` from `switchboard/redis`): controllers of the same
   * `name` on every process that uses the engine are one endpoint. The
   * engine then keeps the history, so `history` cannot be given as well.
   * Default: none, everything stays in this process.
   */
  engine?: Engine;
  /**
   * How long (ms) a presence stays after its last connection on this process
   * leaves the room, so that a client that reconnects within it (to any
   * process) is not announced as gone and back. Default 5 000; 0: at once.
   */
  presenceGrace?: number;
  /**
   * Bytes that may wait in one connection's send buffer before
   * `slowConsumerPolicy` applies. Default 4 MiB.
   */
  maxBufferedAmount?: number;
  /**
   * Bytes that may wait in the send buffers of all this controller's
   * connections together. Past it, the connections with the most waiting are
   * closed with 1013 ("Server send budget exceeded"), largest first, until
   * the rest fit, whatever `slowConsumerPolicy` says: dropping messages would
   * not free what is already buffered. Default 128 MiB; `Infinity` turns it off.
   */
  maxTotalBufferedAmount?: number;
  /**
   * `"close"` (default) closes a connection past `maxBufferedAmount` with 1013;
   * `"drop"` skips messages for it until its buffer drains.
   */
  slowConsumerPolicy?: SlowConsumerPolicy;
  /**
   * How long (ms) `close()` waits for the client's close frame before the
   * connection is terminated. Default 5 000.
   */
  closeTimeout?: number;
  /**
   * Messages of one connection that may wait while an async hook of that
   * connection is still running. Checked once the event loop has turned, so a
   * burst that the hook works through with promise callbacks alone is never
   * refused; still over it then, the connection is closed with 1008. Default 1 000.
   */
  maxPendingMessages?: number;
  /**
   * Bytes of messages of one connection that may wait while an async hook of
   * that connection is still running; the message that would pass it closes
   * the connection with 1008 at once, so a client flooding a slow handler
   * cannot grow the server's memory without bound. One message always fits.
   * Default 8 MiB.
   */
  maxPendingBytes?: number;
  /**
   * How long (ms) `onUpgrade` may take; past it the upgrade is refused with
   * 503 and `onError` gets a `SwitchboardError` `"UPGRADE_TIMEOUT"`. Default 10 000.
   */
  upgradeTimeout?: number;
  /**
   * How long (ms) a hook that is still running when its connection's socket
   * goes is waited for. Then the messages queued behind it are dropped,
   * `onError` gets a `SwitchboardError` `"HOOK_TIMEOUT"`, and `onDisconnect`
   * runs. Default 10 000.
   */
  hookTimeout?: number;
  /**
   * Refuse (500, and a `SwitchboardError` `"USER_DATA_MISSING"` to `onError`)
   * an upgrade that `onUpgrade` accepts without `userData`. TypeScript already
   * requires `userData` when the controller's `UserData` type is not
   * `undefined`; this makes JavaScript callers get the same rule. Default false.
   */
  requireUserData?: boolean;
  /**
   * The controller's name, the same on every process that serves this
   * endpoint (the engine names its keys and channels with it). Required
   * with an `engine`. Default: the first route it is served on, or else its
   * class name.
   */
  name?: string;
  /**
   * Subprotocols this endpoint speaks, in order of preference. When set, an
   * upgrade that offers protocols but none of these is refused with 400.
   * When unset, the first protocol the client offers is chosen, as Bun and
   * `ws` do by default. `onUpgrade` can always choose explicitly.
   */
  protocols?: string[];
  /**
   * Messages and bytes one connection may send per interval, checked for
   * each text and binary message after `maxMessageSize` and before the hooks;
   * past it the message is refused with an error reply, dropped, or the
   * connection closed with 1008 (see {@linkcode RateLimitOptions}). Default:
   * none.
   */
  rateLimit?: RateLimitOptions;
}

/** {@linkcode RateLimitOptions} checked, with its default filled in. */
export interface ResolvedRateLimit {
  /** See {@linkcode RateLimitOptions.messages}; undefined: no bound on messages. */
  readonly messages: number | undefined;
  /** See {@linkcode RateLimitOptions.bytes}; undefined: no bound on bytes. */
  readonly bytes: number | undefined;
  /** See {@linkcode RateLimitOptions.interval}. */
  readonly interval: number;
  /** See {@linkcode RateLimitOptions.action}. */
  readonly action: RateLimitAction;
}

/** {@linkcode ControllerOptions} with every default filled in. */
export interface ResolvedOptions {
  /** See {@linkcode ControllerOptions.pingInterval}. */
  readonly pingInterval: number;
  /** See {@linkcode ControllerOptions.idleTimeout}. */
  readonly idleTimeout: number;
  /** See {@linkcode ControllerOptions.maxMessageSize}. */
  readonly maxMessageSize: number;
  /** See {@linkcode ControllerOptions.historySize}. */
  readonly historySize: number;
  /** See {@linkcode ControllerOptions.historyTtl}. */
  readonly historyTtl: number;
  /** See {@linkcode ControllerOptions.maxBufferedAmount}. */
  readonly maxBufferedAmount: number;
  /** See {@linkcode ControllerOptions.maxTotalBufferedAmount}. */
  readonly maxTotalBufferedAmount: number;
  /** See {@linkcode ControllerOptions.slowConsumerPolicy}. */
  readonly slowConsumerPolicy: SlowConsumerPolicy;
  /** See {@linkcode ControllerOptions.closeTimeout}. */
  readonly closeTimeout: number;
  /** See {@linkcode ControllerOptions.maxPendingMessages}. */
  readonly maxPendingMessages: number;
  /** See {@linkcode ControllerOptions.maxPendingBytes}. */
  readonly maxPendingBytes: number;
  /** See {@linkcode ControllerOptions.upgradeTimeout}. */
  readonly upgradeTimeout: number;
  /** See {@linkcode ControllerOptions.hookTimeout}. */
  readonly hookTimeout: number;
  /** See {@linkcode ControllerOptions.presenceGrace}. */
  readonly presenceGrace: number;
  /** See {@linkcode ControllerOptions.requireUserData}. */
  readonly requireUserData: boolean;
  /** See {@linkcode ControllerOptions.protocols}. */
  readonly protocols: readonly string[] | undefined;
  /** See {@linkcode ControllerOptions.rateLimit}. */
  readonly rateLimit: ResolvedRateLimit | undefined;
}

/** The defaults, as documented on {@linkcode ControllerOptions}. */
export const DEFAULT_OPTIONS: ResolvedOptions = {
  pingInterval: 30_000,
  idleTimeout: 0,
  maxMessageSize: 1024 * 1024,
  historySize: 100,
  historyTtl: 24 * 60 * 60 * 1000,
  maxBufferedAmount: 4 * 1024 * 1024,
  maxTotalBufferedAmount: 128 * 1024 * 1024,
  slowConsumerPolicy: "close",
  closeTimeout: 5_000,
  maxPendingMessages: 1_000,
  maxPendingBytes: 8 * 1024 * 1024,
  upgradeTimeout: 10_000,
  hookTimeout: 10_000,
  presenceGrace: 5_000,
  requireUserData: false,
  protocols: undefined,
  rateLimit: undefined,
};

/** Every key {@linkcode ControllerOptions} has, for the check against typos from JavaScript. */
const OPTION_KEYS: ReadonlySet<string> = new Set([...Object.keys(DEFAULT_OPTIONS), "history", "name", "engine"]);

const ACTION = "create controller";
const RATE_LIMIT_KEYS: ReadonlySet<string> = new Set(["messages", "bytes", "interval", "action"]);
const COUNT = { min: 1, integer: true } as const;
const MILLISECONDS = { min: 0 } as const;

/** Validates options and fills in the defaults; throws `RangeError`/`TypeError` on bad values and unknown keys. */
export function resolveOptions(options: ControllerOptions = {}): ResolvedOptions {
  checkOptionsObject(ACTION, options);
  checkKnownKeys(ACTION, options, OPTION_KEYS);
  const policy = options.slowConsumerPolicy ?? DEFAULT_OPTIONS.slowConsumerPolicy;
  if (policy !== "close" && policy !== "drop") {
    throw new TypeError(`Cannot ${ACTION} as 'slowConsumerPolicy' must be "close" or "drop": current value is ${describe(policy)}`);
  }
  const protocols = options.protocols;
  if (protocols !== undefined && (!Array.isArray(protocols) || !protocols.every((p) => typeof p === "string" && p.length > 0))) {
    throw new TypeError(`Cannot ${ACTION} as 'protocols' must be an array of non-empty strings: current value is ${describe(protocols)}`);
  }
  if (options.name !== undefined) checkName(ACTION, "name", options.name);
  if (options.requireUserData !== undefined && typeof options.requireUserData !== "boolean") {
    throw new TypeError(`Cannot ${ACTION} as 'requireUserData' must be a boolean: current value is ${describe(options.requireUserData)}`);
  }
  const history = options.history as Partial<Record<keyof History, unknown>> | undefined;
  if (history !== undefined && (typeof history !== "object" || history === null || typeof history.append !== "function")) {
    throw new TypeError(`Cannot ${ACTION} as 'history' must be a History (such as a MemoryHistory): current value is ${describe(history)}`);
  }
  const engine = options.engine as { connect?: unknown } | undefined;
  if (engine !== undefined && (typeof engine !== "object" || engine === null || typeof engine.connect !== "function")) {
    throw new TypeError(`Cannot ${ACTION} as 'engine' must be an Engine (such as a RedisEngine): current value is ${describe(engine)}`);
  }
  if (engine !== undefined && options.name === undefined) {
    // A name from the route or the class would differ between processes that route or minify differently: they would split silently.
    throw new TypeError(`Cannot ${ACTION} with an 'engine' but no 'name': controllers of one name on every process are one endpoint, so give it one (for example name: "chat")`);
  }
  if (engine !== undefined && history !== undefined) {
    throw new TypeError(`Cannot ${ACTION} with both 'engine' and 'history': the engine keeps the history`);
  }
  const number = (name: keyof ResolvedOptions & keyof ControllerOptions, rule: { min: number; integer?: boolean; infinite?: boolean }) =>
    checkNumber(ACTION, name, options[name], DEFAULT_OPTIONS[name] as number, rule);
  return {
    pingInterval: number("pingInterval", MILLISECONDS),
    idleTimeout: number("idleTimeout", MILLISECONDS),
    maxMessageSize: number("maxMessageSize", COUNT),
    historySize: number("historySize", { min: 0, integer: true }),
    historyTtl: number("historyTtl", { min: 1, infinite: true }),
    maxBufferedAmount: number("maxBufferedAmount", COUNT),
    maxTotalBufferedAmount: number("maxTotalBufferedAmount", { min: 1, integer: true, infinite: true }),
    slowConsumerPolicy: policy,
    closeTimeout: number("closeTimeout", MILLISECONDS),
    maxPendingMessages: number("maxPendingMessages", COUNT),
    maxPendingBytes: number("maxPendingBytes", COUNT),
    upgradeTimeout: number("upgradeTimeout", { min: 1 }),
    hookTimeout: number("hookTimeout", MILLISECONDS),
    presenceGrace: number("presenceGrace", MILLISECONDS),
    requireUserData: options.requireUserData ?? false,
    protocols: protocols ? [...protocols] : undefined,
    rateLimit: options.rateLimit === undefined ? undefined : resolveRateLimit(options.rateLimit),
  };
}

function resolveRateLimit(limit: unknown): ResolvedRateLimit {
  if (typeof limit !== "object" || limit === null || Array.isArray(limit)) {
    throw new TypeError(`Cannot ${ACTION} as 'rateLimit' must be an object such as { messages: 20, interval: 10_000 }: current value is ${describe(limit)}`);
  }
  for (const key of Object.keys(limit)) {
    if (!RATE_LIMIT_KEYS.has(key)) {
      throw new TypeError(`Cannot ${ACTION} as 'rateLimit.${key}' is not an option: known options are ${[...RATE_LIMIT_KEYS].join(", ")}`);
    }
  }
  const { messages, bytes, interval, action = "reply" } = limit as Partial<Record<keyof RateLimitOptions, unknown>>;
  if (messages === undefined && bytes === undefined) {
    throw new TypeError(`Cannot ${ACTION} as 'rateLimit' must have 'messages', 'bytes' or both: current value has neither`);
  }
  if (interval === undefined) {
    throw new TypeError(`Cannot ${ACTION} as 'rateLimit.interval' must be a number of at least 1: current value is undefined`);
  }
  if (action !== "reply" && action !== "drop" && action !== "close") {
    throw new TypeError(`Cannot ${ACTION} as 'rateLimit.action' must be "reply", "drop" or "close": current value is ${describe(action)}`);
  }
  const count = (name: string, value: unknown) => (value === undefined ? undefined : checkNumber(ACTION, name, value, 0, COUNT));
  return {
    messages: count("rateLimit.messages", messages),
    bytes: count("rateLimit.bytes", bytes),
    interval: checkNumber(ACTION, "rateLimit.interval", interval, 0, { min: 1 }),
    action,
  };
}
