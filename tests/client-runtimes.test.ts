/**
 * `switchboard/client` on the runtime running the test (Node's `ws`, Bun's
 * and Deno's own WebSocket: the client picks it itself, nothing is
 * injected) against `tests/fixtures/wire-server.ts` run as a process under
 * each of Bun, Deno and Node: with the suite run on all three runtimes this
 * is the 3 x 3 matrix of client and server runtimes. One server process
 * per runtime, started once and shared by its cases (each case has rooms of
 * its own); a runtime whose binary is missing is skipped by name.
 */
import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import { connect, type SwitchboardClient } from "../src/client/mod.ts";
import { type ClientLog, recordClient, sequenceProblems } from "./helpers/client-log.ts";
import { runtime, waitFor, within } from "./helpers/server.ts";
import { type Runtime, runtimeBinaries, type ServerProcess, startFixtureServer } from "./helpers/spawn-server.ts";

const RUNTIMES: readonly Runtime[] = ["bun", "deno", "node"];

/**
 * Liveness short enough for a Deno server: its `terminate()` cannot cut a
 * socket (capabilities.terminate is false), the core only forgets it, so a
 * client of a Deno server learns of it by silence: a ping, no pong, "No pong".
 */
const CLIENT_OPTIONS = { minDelay: 20, maxDelay: 100, pingInterval: 150, pongTimeout: 300 } as const;

async function post(server: ServerProcess, path: string): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method: "POST", signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`POST ${path}: HTTP ${response.status}`);
  return await response.json();
}

async function published(server: ServerProcess, room: string): Promise<number[]> {
  const response = await fetch(`http://127.0.0.1:${server.port}/published?room=${room}`, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`GET /published: HTTP ${response.status}`);
  return (await response.json()) as number[];
}

/** A client of `server`'s feed, named `name` (its dedupe scope), closed by the test's end. */
function client(t: TestContext, server: ServerProcess, name: string): { client: SwitchboardClient; log: ClientLog } {
  const c = connect(`${server.ws("/feed")}?client=${name}`, CLIENT_OPTIONS);
  t.after(() => c.close());
  return { client: c, log: recordClient(c) };
}

for (const serverRuntime of RUNTIMES) {
  const missing = runtimeBinaries[serverRuntime] === undefined
    ? `no ${serverRuntime} binary (node_modules/.bin or PATH): no server on ${serverRuntime} to test against`
    : false;

  describe(`client on this runtime against wire-server.ts on ${serverRuntime}`, { skip: missing }, () => {
    let server: ServerProcess;
    const cleanups: (() => unknown)[] = [];
    before(async () => {
      // startFixtureServer stops the process in `t.after`: here, the suite's own after.
      const holder = { after: (fn: () => unknown) => void cleanups.push(fn) } as unknown as TestContext;
      server = await startFixtureServer(holder, "wire-server.ts", [], serverRuntime);
    });
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    test("welcome, a flood of 200 once each in order, 20 acked publishes acked and run once, a clean close", { timeout: 20_000 }, async (t) => {
      assert.equal(server.runtime, serverRuntime);
      const { client: c, log } = client(t, server, `flood-${runtime}`);
      await waitFor(() => c.state === "open" && log.welcomes === 1, 10_000, "the welcome");
      await within(c.join("flood"), 5_000, "joining room flood");
      await within(c.join("acks"), 5_000, "joining room acks");

      assert.deepEqual(await post(server, "/flood?count=200&room=flood"), { recorded: 200 });
      await waitFor(() => log.ns("flood").length >= 200, 10_000, "200 messages of the flood");

      const sends = Array.from({ length: 20 }, (_, i) => c.send({ type: "publish", n: i + 1, room: "acks" }, { ack: true }));
      await within(Promise.all(sends), 5_000, "the 20 acks");
      await waitFor(() => log.ns("acks").length >= 20, 5_000, "the 20 published messages");
      await new Promise((resolve) => setTimeout(resolve, 50)); // any extra message would have come by now

      assert.equal(sequenceProblems(log.ns("flood"), 200), "", "the flood: exactly 1..200");
      assert.equal(sequenceProblems(log.ns("acks"), 20), "", "the acked publishes as recorded: exactly 1..20");
      assert.deepEqual(await published(server, "acks"), Array.from({ length: 20 }, (_, i) => i + 1), "each publish ran once, in order");
      assert.equal(c.duplicates, 0);
      assert.deepEqual(log.resyncs, []);
      assert.deepEqual(log.errors, []);
      assert.deepEqual(log.states.map((s) => s.state), ["open"], "one connection throughout");

      c.close(1000, "done");
      assert.equal(c.state, "closed");
      assert.equal(c.queued, 0);
      let stats = await server.stats();
      for (let i = 0; i < 100 && (stats.connections > 0 || !stats.closesByCode["1000"]); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        stats = await server.stats();
      }
      assert.equal(stats.connections, 0, "the server saw the client go");
      assert.equal(stats.closesByCode["1000"], 1, "with the client's 1000");
    });

    test("POST /terminate mid-flood: the client resumes (?resume=) to exactly 1..300, nothing twice, no resync", { timeout: 20_000 }, async (t) => {
      // Room "feed" is this case's alone: it is the room resumed through the URL, not through a join.
      const { client: c, log } = client(t, server, `resume-${runtime}`);
      await waitFor(() => c.state === "open" && log.welcomes === 1, 10_000, "the welcome");
      const flood = post(server, "/flood?count=300&room=feed&every=2");
      await waitFor(() => log.ns("feed").length >= 60, 10_000, "the first 60 of the flood");
      assert.ok(((await post(server, "/terminate")) as { terminated: number }).terminated >= 1);
      await waitFor(() => log.opens >= 2, 10_000, "the reconnection");
      await within(flood, 10_000, "the flood");
      await waitFor(() => log.ns("feed").length >= 300, 10_000, "all 300");
      await new Promise((resolve) => setTimeout(resolve, 50));

      assert.equal(sequenceProblems(log.ns("feed"), 300), "", "exactly 1..300");
      assert.equal(c.duplicates, 0, "the resume is exact: nothing is sent twice");
      assert.deepEqual(log.resyncs, [], "the server continued the position it was given");
      assert.equal(log.welcomes, 2);
      const lost = log.states.find((s) => s.state === "reconnecting")!;
      // Bun and Node cut the TCP connection (1006); a Deno server cannot, its client gives it up for "No pong".
      if (serverRuntime === "deno") assert.deepEqual([lost.code, lost.reason], [4000, "No pong"]);
      else assert.equal(lost.code, 1006);
      assert.deepEqual(log.errors, []);
    });
  });
}
