/**
 * `switchboard/client` against a real switchboard server on the runtime the
 * test runs on, over loopback: it connects (the global WebSocket on Bun and
 * Deno, `ws` on Node 20), takes the welcome, pings and gets pongs, sends and
 * receives, gets an acked send acknowledged, reconnects with its position
 * after the server terminates the connection, and `close()` ends cleanly.
 * The server's frames are written by hand here, as any server could.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Connection, WebSocketController } from "../mod.ts";
import { type ClientMessageEvent, type ClientState, connect } from "../src/client/mod.ts";
import { startServer, waitFor, within } from "./helpers/server.ts";

/** Welcome on connect, pong for ping, ack for an acked frame, and an echo of everything else. */
class Echo extends WebSocketController {
  readonly conns: Connection[] = [];
  readonly urls: string[] = [];
  readonly pings: string[] = [];
  readonly disconnects: { code: number; reason: string }[] = [];

  constructor() {
    // Deno cannot cut a socket: terminate() there is a close the core stops waiting for after closeTimeout.
    super({ closeTimeout: 200 });
  }

  override onConnect(conn: Connection): void {
    this.conns.push(conn);
    this.urls.push(conn.request.url);
    conn.sendText(JSON.stringify({ type: "welcome", rooms: {} }));
  }
  override onTextMessage(conn: Connection, text: string): void {
    let frame: { type?: string; ack?: string } = {};
    try {
      frame = JSON.parse(text) ?? {};
    } catch {
      // Not JSON: echoed as it is.
    }
    if (frame.type === "ping") {
      this.pings.push(conn.id);
      conn.sendText(JSON.stringify({ type: "pong" }));
    } else if (typeof frame.ack === "string") conn.sendText(JSON.stringify({ type: "ack", key: frame.ack, ok: true }));
    else conn.sendText(text);
  }
  override onDisconnect(_conn: Connection, code: number, reason: string): void {
    this.disconnects.push({ code, reason });
  }
}

describe("client over a real socket", () => {
  test("connects, pings, echoes, acks, reconnects with its position after terminate(), and closes cleanly", async (t) => {
    const hub = new Echo();
    const server = await startServer({ "/echo": hub });
    t.after(() => server.stop());
    const client = connect(server.ws("/echo"), { minDelay: 20, maxDelay: 50, pingInterval: 80, pongTimeout: 500 });
    t.after(() => client.close());
    const states: ClientState[] = [];
    const messages: ClientMessageEvent[] = [];
    let welcomes = 0;
    client.addEventListener("state", (e) => states.push(e.state));
    client.addEventListener("message", (e) => messages.push(e));
    client.addEventListener("welcome", () => welcomes++);

    await waitFor(() => client.state === "open" && welcomes === 1, 5_000, "the first connection");
    client.send({ type: "hello" });
    await waitFor(() => messages.length === 1, 5_000, "the echo");
    assert.deepEqual(messages[0]!.data, { type: "hello" });
    await within(client.send({ type: "say" }, { ack: true }), 5_000, "the ack");
    await waitFor(() => hub.pings.length >= 1, 5_000, "a ping after 80 ms of silence");
    assert.equal(client.state, "open", "the pong kept it open");

    // A recorded message gives the client a position, which the next connection resumes from.
    hub.conns[0]!.sendText(JSON.stringify({ type: "message", room: "r", epoch: "e1", id: 1, text: "kept" }));
    await waitFor(() => client.position("r")?.id === 1, 5_000, "the position");
    assert.equal(messages.at(-1)!.room, "r");

    // Bun and Node cut the TCP connection (the client sees 1006); Deno cannot (capabilities.terminate is
    // false), so there the server goes silent and the client's liveness gives the link up ("No pong").
    hub.conns[0]!.terminate();
    await waitFor(() => hub.conns.length === 2 && client.state === "open" && welcomes === 2, 5_000, "the reconnection");
    assert.deepEqual(states.slice(0, 3), ["open", "reconnecting", "open"]);
    const resume = new URL(hub.urls[1]!).searchParams.get("resume");
    assert.deepEqual(JSON.parse(resume!), { r: ["e1", 1] });
    client.send("again");
    await waitFor(() => messages.at(-1)?.data === "again", 5_000, "the echo on the new connection");

    client.close(1000, "done");
    assert.equal(client.state, "closed");
    await waitFor(() => hub.disconnects.length === 2, 5_000, "the server to see the close");
    assert.deepEqual(hub.disconnects[1], { code: 1000, reason: "done" });
    assert.equal(hub.conns.length, 2, "no attempt after close()");
  });
});
