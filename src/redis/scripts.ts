/**
 * Lua scripts run by their SHA1, loaded on first use.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { describe } from "../core/_check.ts";
import type { RedisArgument, RedisClient } from "./client.ts";

/** Redis's answer to EVALSHA for a script it does not have: a new server, a restart, a failover, `SCRIPT FLUSH`. */
function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

/**
 * A Lua script for Redis. `run` sends EVALSHA, and on a NOSCRIPT error sends
 * the source with EVAL (which loads it for the next EVALSHA), so that only
 * the first call on a server carries the whole script.
 *
 * The SHA1 is computed at once and synchronously, so that calls are sent in
 * the order they are made. A call that falls back to EVAL is sent again after
 * the calls made meanwhile: callers that need two scripts to run in order
 * must await the first.
 *
 * @example
 * ```ts ignore
 * const incrementTo = new LuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
 * const value = await incrementTo.run(client, ["counter"], [5]); // 5
 * ```
 */
export class LuaScript {
  /** The script's Lua source. */
  readonly source: string;
  /** The SHA1 of the source, in lowercase hex, as EVALSHA takes it. */
  readonly sha: string;

  /** A script with this source; nothing is sent until it runs. */
  constructor(source: string) {
    if (typeof source !== "string" || source.length === 0) {
      throw new TypeError(`Cannot create a Lua script as 'source' must be a non-empty string: current value is ${describe(source)}`);
    }
    this.source = source;
    this.sha = createHash("sha1").update(source, "utf8").digest("hex");
  }

  /** Runs the script with `keys` as KEYS and `args` as ARGV; bulk replies come back as strings. */
  run(client: RedisClient, keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown> {
    return this.#run(client, false, keys, args);
  }

  /** Runs the script like {@linkcode LuaScript.run}, with bulk replies as bytes (Node's `Buffer`). */
  runBuffer(client: RedisClient, keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown> {
    return this.#run(client, true, keys, args);
  }

  async #run(client: RedisClient, buffers: boolean, keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown> {
    const send = (command: string, ...rest: RedisArgument[]): Promise<unknown> =>
      buffers ? client.callBuffer(command, ...rest) : client.call(command, ...rest);
    const tail = [keys.length, ...keys, ...args];
    try {
      return await send("EVALSHA", this.sha, ...tail);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return await send("EVAL", this.source, ...tail);
    }
  }
}
