/**
 * The Redis client the engine needs: a structural slice of ioredis's API, so
 * that ioredis (and iovalkey, its fork) can be passed as they are and
 * switchboard does not depend on either.
 *
 * @module
 */

/** An argument of a Redis command: strings and numbers as text, bytes as they are. */
export type RedisArgument = string | number | Uint8Array;

/** A connection state as ioredis reports it in `status` ("connecting", "ready", "reconnecting", "end", ...); only `"ready"` carries commands. */
export type RedisStatus = string;

/**
 * A Redis connection as ioredis gives it. The engine uses `call` and
 * `callBuffer` for commands and Lua, and a `duplicate()` of it for
 * subscriptions (a subscribed connection carries nothing else).
 *
 * @example
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import type { RedisClient } from "switchboard/redis";
 *
 * const client: RedisClient = new Redis(process.env.REDIS_URL!);
 * ```
 */
export interface RedisClient {
  /** `"ready"` while commands can be sent. */
  readonly status: RedisStatus;
  /** Sends one command; replies come back as strings, numbers, arrays or null. */
  call(command: string, ...args: RedisArgument[]): Promise<unknown>;
  /** Sends one command; bulk replies come back as bytes (Node's `Buffer`). */
  callBuffer(command: string, ...args: RedisArgument[]): Promise<unknown>;
  /** A new connection with the same options: the engine subscribes on it. */
  duplicate(): RedisClient;
  /** Subscribes to channels; resolves once Redis has confirmed them. */
  subscribe(...channels: string[]): Promise<unknown>;
  /** Unsubscribes from channels. */
  unsubscribe(...channels: string[]): Promise<unknown>;
  /** Listens for published messages, as bytes. */
  on(event: "messageBuffer", listener: (channel: Uint8Array, message: Uint8Array) => void): unknown;
  /** Listens for the connection's state changes. */
  on(event: "ready" | "close" | "end" | "reconnecting", listener: () => void): unknown;
  /** Listens for the connection's errors (ioredis logs them when nothing listens). */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Removes a listener added with `on`. */
  // deno-lint-ignore no-explicit-any -- any listener added with `on`, whatever its arguments
  off(event: string, listener: (...args: any[]) => void): unknown;
  /** Closes the connection once pending replies are in. */
  quit(): Promise<unknown>;
  /** Closes the connection at once. */
  disconnect(): void;
}
