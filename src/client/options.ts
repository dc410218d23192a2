/**
 * The options of {@linkcode connect}, their defaults and their checks.
 *
 * @module
 */
import { checkFunction, checkKnownKeys, checkNumber, checkOptionsObject, describe } from "./_check.ts";
import type { WebSocketConstructor } from "./socket.ts";

/** Where to connect: a URL, or a function called before every attempt (to rotate servers, refresh a token). */
export type ClientUrl = string | URL | (() => string | URL);

/** The options of {@linkcode connect}; every one has a default. */
export interface ClientOptions {
  /** The WebSocket constructor to use. Default: the global `WebSocket`, else `ws`'s (Node 20). */
  readonly WebSocket?: WebSocketConstructor;
  /** Subprotocols to offer on every attempt. */
  readonly protocols?: string | string[];
  /** The most frames held while not connected, queued plain sends and unacknowledged sends together. Default 100. */
  readonly maxQueue?: number;
  /** The backoff window of the first reconnection attempt, in ms (its delay is in [0, minDelay)). Default 500. */
  readonly minDelay?: number;
  /** The cap of the backoff window, in ms (delays at the cap are in [0, maxDelay)). Default 20 000. */
  readonly maxDelay?: number;
  /** An attempt not open within this many ms is abandoned (0: never). Default 10 000. */
  readonly connectTimeout?: number;
  /** Reconnection attempts in a row (without a frame received) before the client closes for good. Default Infinity. */
  readonly maxAttempts?: number;
  /** After this many ms without a frame the client sends `{"type":"ping"}` (0: never). Default 10 000. */
  readonly pingInterval?: number;
  /** After a ping, this many ms more without a frame and the connection is given up (closed with 4000) and made again. Default 5 000. */
  readonly pongTimeout?: number;
  /** Whether a close from the server should be followed by a reconnection; replaces {@linkcode closeClass}'s rule. */
  readonly retryable?: (code: number, reason: string) => boolean;
}

/** The options with their defaults filled in. */
export interface ResolvedOptions {
  readonly WebSocket: WebSocketConstructor | undefined;
  readonly protocols: string | string[] | undefined;
  readonly maxQueue: number;
  readonly minDelay: number;
  readonly maxDelay: number;
  readonly connectTimeout: number;
  readonly maxAttempts: number;
  readonly pingInterval: number;
  readonly pongTimeout: number;
  readonly retryable: ((code: number, reason: string) => boolean) | undefined;
}

const KNOWN = new Set([
  "WebSocket",
  "protocols",
  "maxQueue",
  "minDelay",
  "maxDelay",
  "connectTimeout",
  "maxAttempts",
  "pingInterval",
  "pongTimeout",
  "retryable",
]);

const ACTION = "connect";

/** The options checked (TypeError / RangeError with the value) and completed with the defaults. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  checkOptionsObject(ACTION, options);
  checkKnownKeys(ACTION, options as object, KNOWN);
  const o = options as Record<string, unknown>;
  checkFunction(ACTION, "WebSocket", o.WebSocket);
  checkFunction(ACTION, "retryable", o.retryable);
  const protocols = o.protocols;
  if (
    protocols !== undefined && typeof protocols !== "string" &&
    !(Array.isArray(protocols) && protocols.every((p) => typeof p === "string"))
  ) {
    throw new TypeError(`Cannot ${ACTION} as 'protocols' must be a string or an array of strings: current value is ${describe(protocols)}`);
  }
  const minDelay = checkNumber(ACTION, "minDelay", o.minDelay, 500, { min: 0 });
  const maxDelay = checkNumber(ACTION, "maxDelay", o.maxDelay, Math.max(20_000, minDelay), { min: 0 });
  if (maxDelay < minDelay) {
    throw new RangeError(`Cannot ${ACTION} as 'maxDelay' must be at least 'minDelay' (${minDelay}): current value is ${maxDelay}`);
  }
  return {
    WebSocket: o.WebSocket as WebSocketConstructor | undefined,
    protocols: protocols as string | string[] | undefined,
    maxQueue: checkNumber(ACTION, "maxQueue", o.maxQueue, 100, { min: 0, integer: true, infinite: true }),
    minDelay,
    maxDelay,
    connectTimeout: checkNumber(ACTION, "connectTimeout", o.connectTimeout, 10_000, { min: 0 }),
    maxAttempts: checkNumber(ACTION, "maxAttempts", o.maxAttempts, Infinity, { min: 0, integer: true, infinite: true }),
    pingInterval: checkNumber(ACTION, "pingInterval", o.pingInterval, 10_000, { min: 0 }),
    pongTimeout: checkNumber(ACTION, "pongTimeout", o.pongTimeout, 5_000, { min: 1 }),
    retryable: o.retryable as ((code: number, reason: string) => boolean) | undefined,
  };
}
