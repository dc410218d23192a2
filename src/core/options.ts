import type { History } from "./history.ts";

/** What happens to a message for a connection whose send buffer is past `maxBufferedAmount`. */
export type SlowConsumerPolicy = "close" | "drop";

/**
 * Options of a {@linkcode WebSocketController}; every field has a default.
 *
 * @example
 * ```ts
 * super({ pingInterval: 30_000, maxMessageSize: 10 * 1024, historySize: 100 });
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
  /** Messages kept per room by the default `MemoryHistory`. Default 100. */
  historySize?: number;
  /** A `History` to use instead of a `MemoryHistory` of `historySize`. */
  history?: History;
  /**
   * Bytes that may wait in one connection's send buffer before
   * `slowConsumerPolicy` applies. Default 4 MiB.
   */
  maxBufferedAmount?: number;
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
   * connection is still running; one more closes the connection with 1008, so
   * a client flooding a slow handler cannot grow the server's memory without
   * bound. Default 1 000.
   */
  maxPendingMessages?: number;
  /**
   * Subprotocols this endpoint speaks, in order of preference. When set, an
   * upgrade that offers protocols but none of these is refused with 400.
   * When unset, the first protocol the client offers is chosen, as Bun and
   * `ws` do by default. `onUpgrade` can always choose explicitly.
   */
  protocols?: string[];
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
  /** See {@linkcode ControllerOptions.maxBufferedAmount}. */
  readonly maxBufferedAmount: number;
  /** See {@linkcode ControllerOptions.slowConsumerPolicy}. */
  readonly slowConsumerPolicy: SlowConsumerPolicy;
  /** See {@linkcode ControllerOptions.closeTimeout}. */
  readonly closeTimeout: number;
  /** See {@linkcode ControllerOptions.maxPendingMessages}. */
  readonly maxPendingMessages: number;
  /** See {@linkcode ControllerOptions.protocols}. */
  readonly protocols: readonly string[] | undefined;
}

/** The defaults, as documented on {@linkcode ControllerOptions}. */
export const DEFAULT_OPTIONS: ResolvedOptions = {
  pingInterval: 30_000,
  idleTimeout: 0,
  maxMessageSize: 1024 * 1024,
  historySize: 100,
  maxBufferedAmount: 4 * 1024 * 1024,
  slowConsumerPolicy: "close",
  closeTimeout: 5_000,
  maxPendingMessages: 1_000,
  protocols: undefined,
};

function checkNumber(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(
      `Cannot create controller as '${name}' must be a finite number of at least ${min}: current value is ${String(value)}`,
    );
  }
  return value;
}

/** Validates options and fills in the defaults; throws `RangeError`/`TypeError` on bad values. */
export function resolveOptions(options: ControllerOptions = {}): ResolvedOptions {
  const policy = options.slowConsumerPolicy ?? DEFAULT_OPTIONS.slowConsumerPolicy;
  if (policy !== "close" && policy !== "drop") {
    throw new TypeError(
      `Cannot create controller as 'slowConsumerPolicy' must be "close" or "drop": current value is ${String(policy)}`,
    );
  }
  if (options.protocols !== undefined && !Array.isArray(options.protocols)) {
    throw new TypeError("Cannot create controller as 'protocols' must be an array of strings");
  }
  return {
    pingInterval: checkNumber("pingInterval", options.pingInterval, DEFAULT_OPTIONS.pingInterval, 0),
    idleTimeout: checkNumber("idleTimeout", options.idleTimeout, DEFAULT_OPTIONS.idleTimeout, 0),
    maxMessageSize: checkNumber("maxMessageSize", options.maxMessageSize, DEFAULT_OPTIONS.maxMessageSize, 1),
    historySize: checkNumber("historySize", options.historySize, DEFAULT_OPTIONS.historySize, 0),
    maxBufferedAmount: checkNumber(
      "maxBufferedAmount",
      options.maxBufferedAmount,
      DEFAULT_OPTIONS.maxBufferedAmount,
      1,
    ),
    slowConsumerPolicy: policy,
    closeTimeout: checkNumber("closeTimeout", options.closeTimeout, DEFAULT_OPTIONS.closeTimeout, 0),
    maxPendingMessages: checkNumber(
      "maxPendingMessages",
      options.maxPendingMessages,
      DEFAULT_OPTIONS.maxPendingMessages,
      1,
    ),
    protocols: options.protocols ? [...options.protocols] : undefined,
  };
}
