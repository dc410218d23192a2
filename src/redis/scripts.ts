import { createHash } from "node:crypto";
import type { RedisArgument, RedisClient } from "./client.ts";

/**
 * A Lua script run with EVALSHA, sent again with EVAL when the server does
 * not know it (a restarted or new primary has an empty script cache).
 */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  /** Runs the script; replies as strings and numbers. */
  run(client: RedisClient, keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown> {
    return this.#run(client, "call", keys, args);
  }

  /** Runs the script; bulk replies as bytes. */
  runBuffer(client: RedisClient, keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown> {
    return this.#run(client, "callBuffer", keys, args);
  }

  async #run(client: RedisClient, method: "call" | "callBuffer", keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown> {
    try {
      return await client[method]("EVALSHA", this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return client[method]("EVAL", this.source, keys.length, ...keys, ...args);
    }
  }
}
