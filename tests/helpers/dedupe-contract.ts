/**
 * The Dedupe contract as tests, run against each implementation (tests/
 * wire.test.ts: MemoryDedupe; tests/redis-dedupe.test.ts: RedisDedupe on a
 * real redis-server): the same cases, word for word.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { AckOutcome, Dedupe } from "../../mod.ts";

/** An implementation under test. */
export interface DedupeSubject {
  /** A new dedupe (of its own: no key another test used) remembering keys for `ttl` ms (default: its own). */
  make(options: { ttl?: number }): Dedupe | Promise<Dedupe>;
  /** Runs once the cases are done (stops a server, say). */
  done?(): void | Promise<void>;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const OK: AckOutcome = { ok: true };

/** Registers the contract's cases for `subject` under `name`. */
export function dedupeContract(name: string, subject: DedupeSubject, options: { skip?: string | false } = {}): void {
  describe(`${name}: the Dedupe contract`, { skip: options.skip }, () => {
    after(() => subject.done?.());

    test("runs an effect once per key and scope; repeats get the first outcome", async () => {
      const dedupe = await subject.make({});
      let runs = 0;
      const effect = () => (runs++, OK);
      assert.deepEqual(await dedupe.run("u1", "k", effect), { outcome: OK, duplicate: false });
      assert.deepEqual(await dedupe.run("u1", "k", effect), { outcome: OK, duplicate: true });
      assert.deepEqual(await dedupe.run("u2", "k", effect), { outcome: OK, duplicate: false }, "another scope");
      assert.deepEqual(await dedupe.run("u", "1k", effect), { outcome: OK, duplicate: false }, "'u'+'1k' is not 'u1'+'k'");
      assert.deepEqual(await dedupe.run("u:1", "k", effect), { outcome: OK, duplicate: false }, "'u:1'+'k' is not 'u'+'1:k'");
      assert.deepEqual(await dedupe.run("u", "1:k", effect), { outcome: OK, duplicate: false });
      assert.equal(runs, 5);
      const refused: AckOutcome = { ok: false, error: { code: "rate_limited", message: "wait" } };
      await dedupe.run("u1", "r", () => refused);
      assert.deepEqual((await dedupe.run("u1", "r", effect)).outcome, refused, "a refusal is an outcome too");
    });

    test("a repeat while the first runs waits for it and does not run the effect", async () => {
      const dedupe = await subject.make({});
      let runs = 0;
      const slow = async () => (runs++, await delay(100), OK);
      const [first, second] = await Promise.all([dedupe.run("u", "k", slow), delay(10).then(() => dedupe.run("u", "k", slow))]);
      assert.deepEqual([first.duplicate, second.duplicate, runs], [false, true, 1]);
    });

    test("an effect that throws is forgotten: the repeat runs it again", async () => {
      const dedupe = await subject.make({});
      let runs = 0;
      const failing = async () => {
        runs++;
        await delay(50);
        throw new Error("history down");
      };
      const results = await Promise.allSettled([dedupe.run("u", "k", failing), delay(10).then(() => dedupe.run("u", "k", failing))]);
      assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
      assert.equal(runs, 2, "the waiting repeat ran it itself once the first had failed");
      assert.equal((await dedupe.run("u", "k", () => OK)).duplicate, false);
      await assert.rejects(dedupe.run("u", "bad", () => ({ ok: "yes" }) as never), /must return \{ ok: true \}/);
      assert.equal((await dedupe.run("u", "bad", () => OK)).duplicate, false, "a bad outcome is not remembered");
    });

    test("a key is forgotten after the ttl", async () => {
      const dedupe = await subject.make({ ttl: 50 });
      await dedupe.run("u", "k", () => OK);
      assert.equal((await dedupe.run("u", "k", () => OK)).duplicate, true);
      await delay(120);
      assert.equal((await dedupe.run("u", "k", () => OK)).duplicate, false, "expired: runs again");
    });

    test("wrong argument types from plain JavaScript are TypeErrors", async () => {
      const dedupe = await subject.make({});
      await assert.rejects(dedupe.run(1 as never, "k", () => OK), TypeError);
      await assert.rejects(dedupe.run("u", null as never, () => OK), TypeError);
      await assert.rejects(dedupe.run("u", "k", "effect" as never), TypeError);
    });
  });
}
