/**
 * `switchboard/client` across processes and faults, with a real Redis and
 * real server processes: the fixture tests/fixtures/wire-server.ts (a
 * WireFeed named "feed" on a RedisEngine, acked publishes deduplicated by a
 * RedisDedupe) spawned by helpers/spawn-server.ts, each test on its own
 * redis-server. In every case the test checks the `n` the client delivered
 * against what was sent: no loss, no repeat, in order; and no `resync`, as
 * Redis keeps the history the whole time.
 *
 * - a server restart (SIGTERM, started again behind the same URL through a
 *   TCP proxy) while another process publishes;
 * - a server killed (-9) mid-flood, the client's `url` function moving it
 *   to the other process;
 * - acknowledged sends across processes, re-sent to the other process (the
 *   union of both processes' effects and the room's history read from Redis
 *   checked): after a cut link (exactly once, strictly); after a kill -9 at
 *   a random point while acks are on the way (sends the dead process did
 *   are answered from Redis, not run again; at least once, a repeat only of
 *   the send it was running, and the test reports which happened); and
 *   after a kill -9 held between an effect and its outcome (the one repeat
 *   RedisDedupe documents, made to happen);
 * - the kill with the two processes on two other runtimes (once per suite
 *   run: from Node only).
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { currentRuntime } from "../mod.ts";
import { type ClientOptions, type ClientStateEvent, connect, type SwitchboardClient, type WelcomeFrame } from "../src/client/mod.ts";
import { type RedisProcess, redisServerPath, startRedis } from "./helpers/redis-server.ts";
import { delay, waitFor, within } from "./helpers/server.ts";
import { type Runtime, runtimeBinaries, type ServerProcess, startFixtureServer } from "./helpers/spawn-server.ts";
import { startTcpProxy } from "./helpers/tcp-proxy.ts";

const runtime = currentRuntime();

// CI installs redis-server (.ci/run); a machine without it skips, saying why.
const noRedis = !redisServerPath && "redis-server is not installed (not on PATH nor in /usr/bin)";
// The mixed-runtime case spawns Bun and Deno servers whatever runs the test, so one run of it per
// suite is enough: from Node only (Bun and Deno skip it under the same name, as the runner wants the
// same tests on every runtime).
const notMixedHere = runtime !== "node"
  ? "spawns Bun and Deno servers itself, so it runs only when the tests run under Node"
  : (!runtimeBinaries.bun || !runtimeBinaries.deno) && "no bun or deno binary (node_modules or PATH)";

/** How soon a key whose process died mid-effect may run again on another (RedisDedupe's `lease`). */
const LEASE_MS = 1_000;

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function redis(t: TestContext): Promise<RedisProcess> {
  const server = await startRedis();
  t.after(() => server.stop());
  return server;
}

/** The fixture on `redis`, under `on` (default: the runtime running the test). */
function wireServer(t: TestContext, redis: RedisProcess, on: Runtime = runtime, env: Record<string, string> = {}): Promise<ServerProcess> {
  return startFixtureServer(t, "wire-server.ts", [String(redis.port)], on, { DEDUPE_LEASE: String(LEASE_MS), ...env });
}

async function http<T>(server: ServerProcess, method: "GET" | "POST", path: string, timeoutMs = 20_000): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method, signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`${method} ${path} on pid ${server.pid}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** Records n = from … from+count-1 in "feed" from `server`, one every `every` ms; resolves once all are. */
function flood(server: ServerProcess, from: number, count: number, every: number): Promise<unknown> {
  return http(server, "POST", `/flood?count=${count}&from=${from}&every=${every}`);
}

/** The `n` of the room "feed"'s history, oldest first, as `server` reads it from Redis. */
async function history(server: ServerProcess): Promise<number[]> {
  return (await http<{ n: number }[]>(server, "GET", "/history")).map((entry) => entry.n);
}

/** The acked publishes whose effect ran on `server`, in order. */
function published(server: ServerProcess): Promise<number[]> {
  return http<number[]>(server, "GET", "/published");
}

/**
 * Fast retries, so that each fault shows within the test; room for every acked send in flight.
 * Liveness is a backstop only (a killed or stopped process's socket closes): its silence must
 * outlast a RedisDedupe waiting out a dead process's lease, during which the server's pongs wait.
 */
const OPTIONS: ClientOptions = { minDelay: 20, maxDelay: 200, connectTimeout: 2_000, pingInterval: 3_000, pongTimeout: 2_000, maxQueue: 1_000 };

/** A client and what it saw. */
interface Watched {
  readonly client: SwitchboardClient;
  /** The `n` of each message of "feed" delivered, in order. */
  readonly ns: number[];
  readonly resyncs: string[];
  readonly welcomes: WelcomeFrame[];
  /** Every state event, in order. */
  readonly states: ClientStateEvent[];
  readonly errors: string[];
}

function watch(t: TestContext, url: string | (() => string)): Watched {
  const client = connect(url, OPTIONS);
  t.after(() => client.close());
  const seen: Watched = { client, ns: [], resyncs: [], welcomes: [], states: [], errors: [] };
  client.addEventListener("message", (event) => {
    if (event.room === "feed") seen.ns.push((event.data as { n: number }).n);
  });
  client.addEventListener("resync", (event) => seen.resyncs.push(`${event.room} at ${JSON.stringify(event.position)}`));
  client.addEventListener("welcome", (event) => seen.welcomes.push(event.frame));
  client.addEventListener("state", (event) => seen.states.push(event));
  client.addEventListener("error", (event) => seen.errors.push(event.error.message));
  return seen;
}

function opened(seen: Watched, count: number): Promise<void> {
  return waitFor(() => seen.client.state === "open" && seen.welcomes.length >= count, 10_000, `welcome ${count}`);
}

/** Where the client stands, for the messages of a failing wait. */
function summary(seen: Watched): string {
  const closes = seen.states.filter((s) => s.state === "reconnecting").map((s) => `${s.code} ${s.reason}`.trim());
  return `delivered ${seen.ns.length} (last ${seen.ns.at(-1)}), state ${seen.client.state}, closes [${closes.join(", ")}], ` +
    `welcomes ${seen.welcomes.length}, resyncs [${seen.resyncs.join(", ")}], errors [${seen.errors.join("; ")}]`;
}

/** Waits until the client has delivered `total`, then a moment for anything extra. */
async function delivered(seen: Watched, total: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => seen.ns.length >= total, timeoutMs, `${total} messages delivered`).catch((error: Error) => {
    throw new Error(`${error.message}: ${summary(seen)}`);
  });
  await delay(100);
}

/** Every welcome after the first resumed "feed" (the client's position was continued). */
function assertResumed(seen: Watched, welcomes: number): void {
  assert.equal(seen.welcomes.length, welcomes, `${welcomes} welcomes: ${summary(seen)}`);
  for (const frame of seen.welcomes.slice(1)) assert.equal(frame.rooms.feed?.resumed, true, "the reconnection resumed the room");
  assert.deepEqual(seen.resyncs, [], "no resync");
}

/**
 * Acked publishes 1..total with keys n-<n>, in order, never more than `window` unacknowledged (so
 * that a fault finds some in flight and the rest not sent yet); `acked` holds those whose promise
 * resolved, in order.
 */
function sendAll(seen: Watched, total: number, window = 20): { acked: number[]; ackedAt: Map<number, number>; all: Promise<unknown> } {
  const acked: number[] = [];
  const ackedAt = new Map<number, number>();
  const sends: Promise<unknown>[] = [];
  const all = (async () => {
    for (let n = 1; n <= total; n++) {
      if (n > window) await sends[n - window - 1];
      sends.push(seen.client.send({ type: "publish", n }, { ack: true, key: `n-${n}` }).then(() => {
        acked.push(n);
        ackedAt.set(n, Date.now());
      }));
    }
    await Promise.all(sends);
  })();
  all.catch(() => {}); // awaited by the test; a failure before then must not be unhandled
  return { acked, ackedAt, all };
}

/** How many times each value occurs. */
function counts(values: readonly number[]): Map<number, number> {
  const map = new Map<number, number>();
  for (const value of values) map.set(value, (map.get(value) ?? 0) + 1);
  return map;
}

/**
 * The kill: the client connected to `a` (its `url` says `a` while alive, then `b`), `b` floods
 * 1..total at a pace, `a` dies by SIGKILL once the client has delivered `killAt`; the client
 * resumes on `b` and delivers exactly 1..total.
 */
async function killMidFlood(t: TestContext, a: ServerProcess, b: ServerProcess, total: number, killAt: number): Promise<void> {
  let target = a;
  const seen = watch(t, () => target.ws("/feed?client=reader"));
  await opened(seen, 1);
  const flooding = flood(b, 1, total, 1);
  flooding.catch(() => {});
  await waitFor(() => seen.ns.length >= killAt, 10_000, `${killAt} delivered from ${a.runtime} pid ${a.pid}`);
  target = b;
  await a.kill9();
  const cutAt = seen.ns.length;
  await flooding;
  await delivered(seen, total);
  assert.ok(cutAt < total, `the kill came mid-flood (after ${cutAt} of ${total})`);
  assert.deepEqual(seen.ns, range(1, total), "exactly 1..total, in order");
  assertResumed(seen, 2);
  const close = seen.states.find((s) => s.state === "reconnecting");
  assert.equal(close?.code, 1006, "the killed process's socket ended without a close frame");
  assert.equal((await b.stats()).connections, 1, "the client is on the other process");
  t.diagnostic(`${a.runtime} pid ${a.pid} killed after ${cutAt} of ${total}; resumed on ${b.runtime} pid ${b.pid}; ${seen.client.duplicates} duplicates dropped`);
}

describe("client across processes on Redis", { skip: noRedis }, () => {
  test("a server restart: stopped with SIGTERM and started again behind the same URL while another process floods; the client resumes with exactly 1..600, no resync", { timeout: 40_000 }, async (t) => {
    const server = await redis(t);
    const [a, b] = await Promise.all([wireServer(t, server), wireServer(t, server)]);
    const proxy = await startTcpProxy(a.port);
    t.after(() => proxy.close());
    const seen = watch(t, `ws://127.0.0.1:${proxy.port}/feed?client=reader`);
    await opened(seen, 1);

    const first = flood(b, 1, 400, 2);
    first.catch(() => {});
    await waitFor(() => seen.ns.length >= 100, 10_000, "100 delivered before the restart");
    assert.equal(await a.stop(), 0, `A exits cleanly on SIGTERM; its stderr:\n${a.stderr}`);
    const stoppedAt = seen.ns.length;
    await first; // recorded while A is down: Redis keeps it
    const again = await wireServer(t, server);
    proxy.retarget(again.port);
    // More live messages while the client comes back: its catch-up and the live ones must join exactly.
    await flood(b, 401, 200, 2);
    await delivered(seen, 600);

    assert.ok(stoppedAt < 400, `A stopped mid-flood (after ${stoppedAt})`);
    assert.deepEqual(seen.ns, range(1, 600), "exactly 1..600, in order");
    assertResumed(seen, 2);
    assert.equal(seen.states.find((s) => s.state === "reconnecting")?.code, 1001, "A's shutdown closed with 1001");
    assert.equal((await again.stats()).connections, 1, "the client is on the restarted process");
    t.diagnostic(`A stopped after ${stoppedAt} delivered; ${seen.states.filter((s) => s.state === "reconnecting").length} reconnection waits`);
  });

  test("a server killed with SIGKILL mid-flood: the client's url moves it to the other process, which resumes it with exactly 1..1000, no resync", { timeout: 40_000 }, async (t) => {
    const server = await redis(t);
    const [a, b] = await Promise.all([wireServer(t, server), wireServer(t, server)]);
    await killMidFlood(t, a, b, 1_000, 300);
  });

  test("acked sends across a cut link: re-sent to the other process, each effect runs exactly once over both, the history holds each n once", { timeout: 40_000 }, async (t) => {
    const server = await redis(t);
    const [a, b] = await Promise.all([wireServer(t, server), wireServer(t, server)]);
    const proxy = await startTcpProxy(a.port);
    t.after(() => proxy.close());
    const seen = watch(t, `ws://127.0.0.1:${proxy.port}/feed?client=sender`);
    await opened(seen, 1);

    const total = 400;
    const { acked, all } = sendAll(seen, total);
    await waitFor(() => acked.length >= 100, 10_000, "100 acks from A");
    proxy.retarget(b.port);
    proxy.cut(); // both processes live on: nothing dies between an effect and its outcome
    const cutAt = acked.length;
    await within(all, 15_000, "every ack").catch((error: Error) => {
      throw new Error(`${error.message}: ${acked.length} acked, ${summary(seen)}`);
    });
    await delivered(seen, total);

    const [onA, onB] = await Promise.all([published(a), published(b)]);
    const both = onA.filter((n) => onB.includes(n));
    assert.deepEqual(both, [], "no effect ran on both processes");
    assert.deepEqual([...onA, ...onB].sort((x, y) => x - y), range(1, total), "every effect ran once over both processes");
    assert.ok(onB.length > 0 && onA.length >= cutAt, `the cut came mid-way: A ran ${onA.length}, B ${onB.length}`);
    assert.deepEqual(await history(b), range(1, total), "the room's history holds each n once, in order");
    assert.deepEqual(seen.ns, range(1, total), "the client delivered exactly 1..total, in order");
    assertResumed(seen, 2);
    assert.equal(seen.client.queued, 0, "nothing left unacknowledged");
    t.diagnostic(`cut after ${cutAt} acks; effects on A ${onA.length}, on B ${onB.length}`);
  });

  test("acked sends across a kill -9 with acks on the way: every promise resolves, every n is recorded, sends done on the dead process are not run again, a repeat only of the one it was running", { timeout: 40_000 }, async (t) => {
    const server = await redis(t);
    const [a, b] = await Promise.all([wireServer(t, server), wireServer(t, server)]);
    const proxy = await startTcpProxy(a.port);
    t.after(() => proxy.close());
    const seen = watch(t, `ws://127.0.0.1:${proxy.port}/feed?client=sender`);
    await opened(seen, 1);

    const total = 400;
    // 100 in flight: A has some milliseconds of work in hand when the link goes silent.
    const { acked, ackedAt, all } = sendAll(seen, total, 100);
    await waitFor(() => acked.length >= 100, 10_000, "100 acks from A");
    // The link goes silent: A works through the sends it has (up to the window), its acks stuck on
    // the way; then it dies at a random point of that, mid-effect or not, and the client's
    // re-sends go to B, which must answer what A did from Redis and run only the rest.
    proxy.stall();
    await delay(Math.random() * 15);
    const killedAt = Date.now();
    await a.kill9();
    proxy.unstall();
    proxy.retarget(b.port);
    proxy.cut();
    const ackedAtKill = new Set(acked);
    await within(all, 15_000, "every ack").catch((error: Error) => {
      throw new Error(`${error.message}: ${acked.length} acked, ${summary(seen)}`);
    });
    const recorded = await history(b);
    await delivered(seen, recorded.length);

    // At least once, no loss: every n is in the room.
    const times = counts(recorded);
    assert.deepEqual(range(1, total).filter((n) => !times.has(n)), [], "every n is recorded");
    const onB = await published(b);
    assert.deepEqual([...counts(onB)].filter(([, c]) => c > 1), [], "B ran each effect at most once");
    // A's effects are the history less B's. A ran one send at a time, in order: a prefix 1..m, of
    // which only the last, m, can have been cut between its effect and its outcome, and only that
    // one may have run again on B (never one the client had an ack for).
    const onA = [...recorded];
    for (const n of onB) onA.splice(onA.indexOf(n), 1);
    assert.deepEqual(onA, range(1, onA.length), "A ran a prefix, in order");
    const repeats = [...times].filter(([, c]) => c > 1).map(([n]) => n);
    assert.ok(repeats.length <= 1, `at most one repeat: ${JSON.stringify(repeats)}`);
    for (const n of repeats) {
      assert.equal(times.get(n), 2, `n=${n} ran twice, not more`);
      assert.equal(n, onA.length, `n=${n} was the last send A ran, the one it was running when killed`);
      assert.ok(onB.includes(n) && !ackedAtKill.has(n), `n=${n}'s second run was on B, and the client had no ack for it`);
    }
    // The client delivered exactly what the room holds, in order: 1..total, with the repeat, if any, twice.
    assert.deepEqual(seen.ns, recorded, "the client delivered the room's history exactly, in order");
    assert.deepEqual([...new Set(recorded)], range(1, total), "in send order");
    assertResumed(seen, 2);
    // Which of the three places the kill can fall in, for the report.
    const last = onA.length;
    const unackedOnA = onA.filter((n) => !ackedAtKill.has(n) && !repeats.includes(n)).length;
    t.diagnostic(`A ran 1..${last}; the client had ${ackedAtKill.size} acks; ${unackedOnA} sends done on A were answered by B from Redis`);
    const waited = (ackedAt.get(last + 1) ?? killedAt) - killedAt;
    t.diagnostic(
      repeats.length > 0
        ? `A was killed after the effect of n=${last} and before its outcome was written: B ran it again (the repeat RedisDedupe documents)`
        : waited >= LEASE_MS * 0.8
        ? `no repeat: A was killed holding the claim of n=${last + 1} before its effect; B waited out the lease (${waited} ms) and ran it once`
        : `no repeat: A was killed after writing the outcome of n=${last} and before claiming n=${last + 1}; B ran n=${last + 1} on (acked ${waited} ms after the kill)`,
    );
  });

  test("acked sends across a kill -9 held between an effect and its outcome: the one repeat RedisDedupe allows, of that send only", { timeout: 40_000 }, async (t) => {
    const server = await redis(t);
    const held = 150;
    const [a, b] = await Promise.all([wireServer(t, server, runtime, { HOLD_AFTER_EFFECT: `n-${held}` }), wireServer(t, server)]);
    let target = a;
    const seen = watch(t, () => target.ws("/feed?client=sender"));
    await opened(seen, 1);

    const total = 300;
    const { acked, all } = sendAll(seen, total);
    // A recorded n=150 (the client has it) and hangs before writing its outcome.
    await waitFor(() => seen.ns.includes(held), 10_000, `n=${held} delivered from A`);
    await delay(50);
    assert.deepEqual(acked, range(1, held - 1), `acks for 1..${held - 1} only: A is stuck in ${held}`);
    target = b;
    await a.kill9();
    await within(all, 15_000, "every ack").catch((error: Error) => {
      throw new Error(`${error.message}: ${acked.length} acked, ${summary(seen)}`);
    });
    const expected = [...range(1, held), ...range(held, total)];
    await delivered(seen, expected.length);

    assert.deepEqual(await history(b), expected, `the room holds ${held} twice (A's run and B's after the lease) and every other n once`);
    assert.deepEqual(await published(b), range(held, total), `B ran ${held} again, then the rest`);
    assert.deepEqual(seen.ns, expected, "the client delivered the room's history exactly");
    assertResumed(seen, 2);
    t.diagnostic(`A killed while holding n=${held} after its effect: repeated once on B, as documented`);
  });

  test("mixed runtimes: killed under Bun mid-flood, resumed under Deno with exactly 1..500", { skip: notMixedHere, timeout: 40_000 }, async (t) => {
    const server = await redis(t);
    const [a, b] = await Promise.all([wireServer(t, server, "bun"), wireServer(t, server, "deno")]);
    assert.deepEqual([a.runtime, b.runtime], ["bun", "deno"]);
    await killMidFlood(t, a, b, 500, 150);
  });
});
