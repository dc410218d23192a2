/**
 * Conformance: heartbeat, ping/pong and idle timeout. A client that stops
 * answering pings is dropped within two ping intervals; one that answers
 * stays; `idleTimeout` closes (1001) connections that send no messages;
 * `pingInterval: 0` turns the heartbeat off.
 *
 * Bun and Node: the core pings every `pingInterval` and terminates a
 * connection that sent nothing since the previous ping. Deno has no ping API:
 * the adapter sets Deno's own `idleTimeout` to 2 × pingInterval, so Deno pings
 * after one interval and closes after the second.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Connection, type ControllerOptions, WebSocketController } from "../mod.ts";
import { capabilities, delay, runtime, startServer, waitFor, within } from "./helpers/server.ts";

/** Short, so the suite stays fast, yet long against timer jitter on a loaded 2-CPU machine. */
const PING = 250;
/**
 * Lateness allowed on top of a deadline. Kept below one PING so that a heartbeat
 * that needed a third interval (750 ms) fails the 2 × PING + SLACK = 700 ms bound.
 */
const SLACK = 200;

class Beat extends WebSocketController {
  readonly opened: Connection[] = [];
  readonly disconnects: { id: string; code: number; reason: string; at: number }[] = [];
  readonly pings: { id: string; data: string }[] = [];
  readonly pongs: { id: string; data: string }[] = [];

  constructor(options: ControllerOptions) {
    super(options);
  }
  override onConnect(conn: Connection) {
    this.opened.push(conn);
  }
  override onPing(conn: Connection, data: Uint8Array) {
    this.pings.push({ id: conn.id, data: new TextDecoder().decode(data) });
  }
  override onPong(conn: Connection, data: Uint8Array) {
    this.pongs.push({ id: conn.id, data: new TextDecoder().decode(data) });
  }
  override onDisconnect(conn: Connection, code: number, reason: string) {
    this.disconnects.push({ id: conn.id, code, reason, at: Date.now() });
  }
}

describe("heartbeat", () => {
  test("a client that never answers pings is dropped within two ping intervals", async (t) => {
    const hub = new Beat({ pingInterval: PING });
    const server = await startServer({ "/beat": hub });
    t.after(() => server.stop());
    const client = await server.connect("/beat", { autoPong: false });
    await waitFor(() => hub.opened.length === 1);
    const conn = hub.opened[0]!;

    const info = await within(client.closed, 2 * PING + SLACK + 2_000, "the heartbeat to drop the client");
    await waitFor(() => hub.disconnects.length === 1, 2_000, "onDisconnect");
    const gone = hub.disconnects[0]!;
    const elapsed = gone.at - conn.connectedAt;
    // At least one full interval to answer a ping, at most two (plus timer lateness).
    assert.ok(elapsed >= PING - 20, `not dropped before it had a ping interval to answer: ${elapsed} ms`);
    assert.ok(elapsed <= 2 * PING + SLACK, `dropped within 2 × ${PING} ms + ${SLACK} ms: took ${elapsed} ms`);
    assert.ok(client.pings >= 1, "the client was pinged before being dropped");
    // The same report on every runtime: the peer is dead, nothing was heard from it.
    assert.equal(gone.code, 1006);
    assert.equal(gone.reason, "Heartbeat timeout");
    assert.equal((await hub.stats()).closesByCode["1006"], 1);
    if (capabilities.terminate) {
      // Bun and Node cut TCP without a close frame.
      assert.equal(info.code, 1006, `client saw ${info.code} ${info.reason}`);
    } else {
      // Deno cannot cut TCP: its idle timeout sends this close frame instead (probe Q2).
      assert.equal(runtime, "deno");
      assert.deepEqual([info.code, info.reason], [1001, "No response from ping frame."]);
    }
  });

  test("a client that answers pings stays connected and keeps being pinged", async (t) => {
    const hub = new Beat({ pingInterval: PING });
    const server = await startServer({ "/beat": hub });
    t.after(() => server.stop());
    const client = await server.connect("/beat"); // answers pings, sends nothing else
    await waitFor(() => hub.opened.length === 1);
    const conn = hub.opened[0]!;

    await delay(2.5 * PING);
    const early = client.pings;
    await delay(2.5 * PING);
    assert.ok(early >= 1, `pinged within 2.5 intervals: ${early}`);
    assert.ok(client.pings > early, `pings keep coming: ${early} then ${client.pings}`);
    assert.ok(client.pings >= 3, `about one ping per interval over 5 intervals: ${client.pings}`);
    assert.equal(hub.disconnects.length, 0, "not dropped");
    assert.equal(conn.readyState, 1);
    if (capabilities.pingPong) {
      // Each heartbeat pong reaches onPong, with the (empty) payload of the ping.
      assert.ok(hub.pongs.length >= 3, `onPong for the heartbeat pongs: ${hub.pongs.length}`);
      assert.ok(hub.pongs.every((p) => p.id === conn.id && p.data === ""));
    } else {
      // Deno answers its own pings' pongs internally and never shows them.
      assert.equal(hub.pongs.length, 0);
    }
    client.close(1000);
    await client.closed;
  });

  test("conn.ping() returns whether the runtime can send a ping, and it reaches the client", async (t) => {
    // No heartbeat, so the only ping the client can see is ours.
    const hub = new Beat({ pingInterval: 0 });
    const server = await startServer({ "/beat": hub });
    t.after(() => server.stop());
    const client = await server.connect("/beat");
    await waitFor(() => hub.opened.length === 1);
    const conn = hub.opened[0]!;

    const sent = conn.ping(new TextEncoder().encode("are-you-there"));
    assert.equal(sent, capabilities.pingPong, `ping() returned ${sent} on ${runtime}`);
    if (sent) {
      await waitFor(() => client.pings === 1, 2_000, "the ping to reach the client");
      // The raw client answers with the same payload, which reaches onPong.
      await waitFor(() => hub.pongs.length === 1, 2_000, "onPong");
      assert.deepEqual(hub.pongs[0], { id: conn.id, data: "are-you-there" });
    } else {
      // Deno: nothing is sent. Prove it with a message that would arrive after a ping.
      conn.sendText("after");
      assert.equal((await client.nextMessage()).text(), "after");
      assert.equal(client.pings, 0);
    }
    client.close(1000);
    await client.closed;
  });

  test("a ping from the client reaches onPing with its payload", {
    skip: !capabilities.pingPong && "Deno answers pings itself and exposes no ping event",
  }, async (t) => {
    const hub = new Beat({ pingInterval: 0 });
    const server = await startServer({ "/beat": hub });
    t.after(() => server.stop());
    const client = await server.connect("/beat");
    await waitFor(() => hub.opened.length === 1);

    client.ping(new TextEncoder().encode("client-ping"));
    await waitFor(() => hub.pings.length === 1, 2_000, "onPing");
    assert.deepEqual(hub.pings[0], { id: hub.opened[0]!.id, data: "client-ping" });
    // The runtime answered it already (onPing is informational).
    await waitFor(() => client.pongs === 1, 2_000, "the automatic pong");
    client.close(1000);
    await client.closed;
  });

  test("idleTimeout closes with 1001 a client that answers pings but sends no messages; an active one stays", async (t) => {
    const idle = 500;
    const hub = new Beat({ pingInterval: 100, idleTimeout: idle });
    const server = await startServer({ "/beat": hub });
    t.after(() => server.stop());
    const quiet = await server.connect("/beat?who=quiet");
    const active = await server.connect("/beat?who=active");
    await waitFor(() => hub.opened.length === 2);
    const [quietConn, activeConn] = ["quiet", "active"].map((who) => hub.opened.find((c) => c.request.query.get("who") === who)!);

    // The active client sends a message every 100 ms, for well over two idle periods.
    const ticker = setInterval(() => active.sendText("tick"), 100);
    t.after(() => clearInterval(ticker));
    const info = await within(quiet.closed, idle * 3, "the idle close");
    assert.deepEqual([info.code, info.reason], [1001, "Idle timeout"], "a close frame 1001 reaches the client");
    await waitFor(() => hub.disconnects.length === 1, 2_000, "onDisconnect");
    const gone = hub.disconnects[0]!;
    assert.equal(gone.id, quietConn!.id);
    assert.deepEqual([gone.code, gone.reason], [1001, "Idle timeout"]);
    // The check runs every idleTimeout / 4, so the close comes between idle and 1.25 × idle.
    const elapsed = gone.at - quietConn!.connectedAt;
    assert.ok(elapsed >= idle - 5, `not closed before idleTimeout: ${elapsed} ms`);
    assert.ok(elapsed <= idle * 1.25 + SLACK, `closed soon after idleTimeout: ${elapsed} ms`);
    assert.ok(quiet.pings >= 1, "the quiet client was pinged (and answered), which does not count as activity");

    await waitFor(() => Date.now() - activeConn!.connectedAt > idle * 2.2, 5_000, "two idle periods");
    clearInterval(ticker);
    assert.equal(activeConn!.readyState, 1, "the active client is still open");
    assert.equal(hub.disconnects.length, 1);
    active.close(1000);
    await active.closed;
  });

  test("pingInterval 0 turns the heartbeat off", async (t) => {
    const hub = new Beat({ pingInterval: 0 });
    const server = await startServer({ "/beat": hub });
    t.after(() => server.stop());
    const client = await server.connect("/beat", { autoPong: false });
    await waitFor(() => hub.opened.length === 1);

    // Three of the intervals that dropped a silent client in the first test.
    await delay(3 * PING);
    assert.equal(client.pings, 0, "no ping was sent");
    assert.equal(hub.disconnects.length, 0, "the silent client was not dropped");
    assert.equal(hub.opened[0]!.readyState, 1);
    client.close(1000);
    await client.closed;
  });
});
