/**
 * Server-side idempotency for acknowledged sends: a client re-sends a frame
 * with the same key until it is acknowledged, and the server runs the
 * frame's effect once per key. Together: exactly once, within the TTL.
 *
 * @module
 */
import { checkKnownKeys, checkNumber, checkOptionsObject, describe } from "../_check.ts";
import type { AckOutcome } from "./server-frames.ts";

/** What {@linkcode Dedupe.run} resolves with. */
export interface DedupeResult {
  /** The outcome of the one run of the effect, to acknowledge with. */
  readonly outcome: AckOutcome;
  /** Whether this call was a repeat that did not run the effect. */
  readonly duplicate: boolean;
}

/**
 * Runs an effect at most once per idempotency key. A repeat of a key whose
 * effect is done gets its outcome; a repeat while it is running waits for it.
 * Only `{ ok: true }` is remembered: an effect that refused (`ok: false`, as
 * when rate limited) did nothing, and one that threw may not have, so a
 * repeat of either runs it again.
 */
export interface Dedupe {
  /**
   * Runs `effect` unless `key` was run in `scope` (a user, a session: keys
   * are the client's, so scope them to who sent them) within the TTL.
   */
  run(scope: string, key: string, effect: () => AckOutcome | Promise<AckOutcome>): Promise<DedupeResult>;
}

/** Options of {@linkcode MemoryDedupe}. */
export interface MemoryDedupeOptions {
  /** Milliseconds a key is remembered, from its first run: longer than a client keeps retrying. Default 300 000 (5 min). */
  ttl?: number;
  /** Keys kept at most; past it the oldest are forgotten first. Default 100 000. */
  maxKeys?: number;
}

interface Remembered {
  readonly expires: number;
  /** Settles with the effect's outcome; rejects (and the key is forgotten) when it throws. */
  readonly done: Promise<AckOutcome>;
  outcome: AckOutcome | undefined;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(["ttl", "maxKeys"]);

/**
 * A {@linkcode Dedupe} in this process's memory: for one process, or for
 * processes behind a balancer that sends each client back to the same one.
 * Bounded by `maxKeys` and `ttl`.
 *
 * @example
 * ```ts
 * import { ackFrame, type Connection, MemoryDedupe, parseClientFrame, WebSocketController } from "switchboard";
 *
 * class Orders extends WebSocketController {
 *   readonly #dedupe = new MemoryDedupe();
 *   override async onTextMessage(conn: Connection, text: string) {
 *     const frame = parseClientFrame(text);
 *     if (frame.kind !== "message" || frame.ack === undefined) return;
 *     const { outcome } = await this.#dedupe.run(conn.id, frame.ack, () => {
 *       // ...place the order once...
 *       return { ok: true };
 *     });
 *     conn.sendText(ackFrame(frame.ack, outcome));
 *   }
 * }
 * ```
 */
export class MemoryDedupe implements Dedupe {
  readonly #ttl: number;
  readonly #maxKeys: number;
  /** In insertion order, which is expiry order (one TTL for all). */
  readonly #keys = new Map<string, Remembered>();

  /** A dedupe with the given bounds; RangeErrors and TypeErrors for bad ones. */
  constructor(options: MemoryDedupeOptions = {}) {
    checkOptionsObject("create dedupe", options);
    checkKnownKeys("create dedupe", options, OPTION_KEYS);
    this.#ttl = checkNumber("create dedupe", "ttl", options.ttl, 300_000, { min: 1 });
    this.#maxKeys = checkNumber("create dedupe", "maxKeys", options.maxKeys, 100_000, { min: 1, integer: true });
  }

  /** Keys remembered now. */
  get size(): number {
    this.#expire(Date.now());
    return this.#keys.size;
  }

  /** Runs `effect` unless `key` was done in `scope` within the TTL; see {@linkcode Dedupe.run}. */
  async run(scope: string, key: string, effect: () => AckOutcome | Promise<AckOutcome>): Promise<DedupeResult> {
    if (typeof scope !== "string") throw new TypeError(`Cannot deduplicate as 'scope' must be a string: current value is ${describe(scope)}`);
    if (typeof key !== "string") throw new TypeError(`Cannot deduplicate as 'key' must be a string: current value is ${describe(key)}`);
    if (typeof effect !== "function") throw new TypeError(`Cannot deduplicate as 'effect' must be a function: current value is ${describe(effect)}`);
    // Length-prefixed, so that no scope and key pair spells another's.
    const id = `${scope.length}:${scope}${key}`;
    for (;;) {
      const now = Date.now();
      this.#expire(now);
      const seen = this.#keys.get(id);
      if (seen === undefined) break;
      if (seen.outcome !== undefined) return { outcome: seen.outcome, duplicate: true };
      try {
        const outcome = await seen.done;
        if (outcome.ok) return { outcome, duplicate: true };
      } catch {
        // As for a refusal: forgotten, and run again below.
      }
      // The first run was refused or threw, and is forgotten: this repeat runs it (or waits for another that does).
      if (this.#keys.get(id) === seen) this.#keys.delete(id);
    }
    const remembered: Remembered = { expires: Date.now() + this.#ttl, done: runEffect(effect), outcome: undefined };
    this.#keys.set(id, remembered);
    while (this.#keys.size > this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
    try {
      const outcome = await remembered.done;
      if (outcome.ok) remembered.outcome = outcome;
      else if (this.#keys.get(id) === remembered) this.#keys.delete(id);
      return { outcome, duplicate: false };
    } catch (error) {
      if (this.#keys.get(id) === remembered) this.#keys.delete(id);
      throw error;
    }
  }

  #expire(now: number): void {
    for (const [id, remembered] of this.#keys) {
      if (remembered.expires > now) break;
      this.#keys.delete(id);
    }
  }
}

async function runEffect(effect: () => AckOutcome | Promise<AckOutcome>): Promise<AckOutcome> {
  return checkAckOutcome(await effect());
}

/** `outcome` as a plain copy if it is an {@linkcode AckOutcome}, else a TypeError: what an effect returned is stored and sent. */
export function checkAckOutcome(outcome: AckOutcome): AckOutcome {
  const valid = outcome?.ok === true ||
    (outcome?.ok === false && typeof outcome.error?.code === "string" && typeof outcome.error.message === "string");
  if (!valid) {
    throw new TypeError(`Cannot deduplicate as the effect must return { ok: true } or { ok: false, error: { code, message } }: current value is ${describe(outcome)}`);
  }
  return outcome.ok ? { ok: true } : { ok: false, error: { code: outcome.error.code, message: outcome.error.message } };
}
