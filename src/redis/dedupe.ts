/**
 * {@linkcode RedisDedupe}: the wire protocol's idempotency for acknowledged
 * sends, shared by every process on one Redis, so that a client re-sending
 * after a reconnect to another process is still deduplicated.
 *
 * @module
 */
import { checkKnownKeys, checkNumber, checkOptionsObject, describe } from "../core/_check.ts";
import type { AckOutcome } from "../core/wire/server-frames.ts";
import { checkAckOutcome, type Dedupe, type DedupeResult } from "../core/wire/dedupe.ts";
import type { RedisClient } from "./client.ts";
import { keyPart } from "./keys.ts";
import { LuaScript } from "./scripts.ts";

/** Options of {@linkcode RedisDedupe}. */
export interface RedisDedupeOptions {
  /** An ioredis (or iovalkey) client: the one the engine uses will do. */
  client: RedisClient;
  /** Prefix of the keys. Default "sb:dedupe:". */
  prefix?: string;
  /** Milliseconds a key's outcome is remembered after its effect: longer than a client keeps retrying. Default 300 000 (5 min). */
  ttl?: number;
  /**
   * Milliseconds a running effect holds its key: a process that dies during
   * the effect frees the key after it, and a repeat then runs the effect.
   * Longer than an effect takes. Default 30 000.
   */
  lease?: number;
  /** Milliseconds between two looks at a key whose effect runs on another process. Default 50. */
  pollInterval?: number;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(["client", "prefix", "ttl", "lease", "pollInterval"]);

/** Our running claim becomes the outcome, unless the lease ran out and another process claimed the key. */
const FINISH = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`);

/** Our running claim is dropped (the effect threw), unless it is no longer ours. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`);

const RUNNING = "r:";
const DONE = "d:";

/**
 * A {@linkcode Dedupe} on Redis. A key is claimed with `SET NX` for the
 * `lease` while its effect runs, then holds the outcome for the `ttl`. A
 * repeat on any process gets the outcome, or waits while the effect runs.
 *
 * Exactly once holds unless a process dies after its effect and before the
 * outcome is written (a repeat then runs it again), or an effect outlasts the
 * lease.
 *
 * @example
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { RedisDedupe } from "switchboard/redis";
 *
 * const dedupe = new RedisDedupe({ client: new Redis(process.env.REDIS_URL!) });
 * const { outcome, duplicate } = await dedupe.run("user-1", "key-1", () => ({ ok: true }));
 * ```
 */
export class RedisDedupe implements Dedupe {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #lease: number;
  readonly #poll: number;

  /** A dedupe on `client`; TypeErrors and RangeErrors for bad options. */
  constructor(options: RedisDedupeOptions) {
    const action = "create Redis dedupe";
    checkOptionsObject(action, options);
    if (options === undefined) throw new TypeError(`Cannot ${action} as the options must be an object: current value is undefined`);
    checkKnownKeys(action, options, OPTION_KEYS);
    if (typeof options.client?.call !== "function") {
      throw new TypeError(`Cannot ${action} as 'client' must be an ioredis client: current value is ${describe(options.client)}`);
    }
    if (options.prefix !== undefined && typeof options.prefix !== "string") {
      throw new TypeError(`Cannot ${action} as 'prefix' must be a string: current value is ${describe(options.prefix)}`);
    }
    this.#client = options.client;
    this.#prefix = options.prefix ?? "sb:dedupe:";
    this.#ttl = checkNumber(action, "ttl", options.ttl, 300_000, { min: 1, integer: true });
    this.#lease = checkNumber(action, "lease", options.lease, 30_000, { min: 1, integer: true });
    this.#poll = checkNumber(action, "pollInterval", options.pollInterval, 50, { min: 1 });
  }

  /** Runs `effect` unless `key` was done in `scope` within the TTL, on any process; see {@linkcode Dedupe.run}. */
  async run(scope: string, key: string, effect: () => AckOutcome | Promise<AckOutcome>): Promise<DedupeResult> {
    if (typeof scope !== "string") throw new TypeError(`Cannot deduplicate as 'scope' must be a string: current value is ${describe(scope)}`);
    if (typeof key !== "string") throw new TypeError(`Cannot deduplicate as 'key' must be a string: current value is ${describe(key)}`);
    if (typeof effect !== "function") throw new TypeError(`Cannot deduplicate as 'effect' must be a function: current value is ${describe(effect)}`);
    const name = `${this.#prefix}${keyPart(scope)}:${keyPart(key)}`;
    const claim = RUNNING + crypto.randomUUID();
    // Bounded: a running claim ends within its lease, so a repeat waits at most about that long per claim it meets.
    const deadline = Date.now() + 4 * this.#lease;
    for (;;) {
      if (await this.#client.call("SET", name, claim, "NX", "PX", this.#lease) === "OK") break;
      const seen = await this.#client.call("GET", name);
      if (typeof seen === "string" && seen.startsWith(DONE)) return { outcome: parseOutcome(seen), duplicate: true };
      if (Date.now() > deadline) {
        throw new Error(`Cannot deduplicate key '${key}' as its effect on another process has run for longer than 4 leases (${4 * this.#lease} ms)`);
      }
      if (seen !== null) await new Promise((resolve) => setTimeout(resolve, this.#poll));
    }
    let outcome: AckOutcome;
    try {
      outcome = checkAckOutcome(await effect());
    } catch (error) {
      await RELEASE.run(this.#client, [name], [claim]).catch(() => undefined); // else it frees itself at the lease
      throw error;
    }
    if (outcome.ok) await FINISH.run(this.#client, [name], [claim, DONE + JSON.stringify(outcome), this.#ttl]);
    else await RELEASE.run(this.#client, [name], [claim]); // a refusal did nothing: a repeat is judged afresh
    return { outcome, duplicate: false };
  }
}

function parseOutcome(stored: string): AckOutcome {
  try {
    return checkAckOutcome(JSON.parse(stored.slice(DONE.length)));
  } catch {
    throw new Error(`Cannot deduplicate as the stored outcome is not one: ${stored.slice(0, 80)}`);
  }
}
