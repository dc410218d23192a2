/**
 * Conformance 1 and 6: the Connection object, its data across hooks, and
 * onDisconnect (once, with the client's code, after leaving every room).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Connection, type UpgradeRequest, WebSocketController } from "../mod.ts";
import { deferred, delay, startServer, waitFor } from "./helpers/server.ts";

interface Player {
  name: string;
}

class Recorder extends WebSocketController<Player> {
  readonly seen: Connection<Player>[] = [];
  readonly activity: number[] = [];
  readonly disconnects: { id: string; code: number; reason: string; rooms: number; registered: boolean }[] = [];

  override onUpgrade(request: UpgradeRequest) {
    return { userData: { name: request.query.get("name") ?? "anon" } };
  }
  override onConnect(conn: Connection<Player>) {
    this.seen.push(conn);
    conn.customData.set("joined", "yes");
    conn.join("lobby");
    conn.join(`team-${conn.userData.name}`);
  }
  override onTextMessage(conn: Connection<Player>, text: string) {
    this.activity.push(conn.lastActivity);
    if (text.startsWith("rename:")) conn.userData = { name: text.slice(7) };
    conn.customData.set("last", text);
    conn.sendJson({ name: conn.userData.name, joined: conn.customData.get("joined"), last: conn.customData.get("last") });
  }
  override onDisconnect(conn: Connection<Player>, code: number, reason: string) {
    this.disconnects.push({
      id: conn.id,
      code,
      reason,
      rooms: [...this.rooms.values()].filter((members) => members.has(conn)).length,
      registered: this.connections.has(conn.id),
    });
  }
}

describe("connection", () => {
  test("onConnect gets a Connection with a unique id, connectedAt and the userData from onUpgrade", async (t) => {
    const controller = new Recorder();
    const server = await startServer({ "/game": controller });
    t.after(() => server.stop());
    const before = Date.now();
    const clients = await Promise.all(["ada", "bob", "cy"].map((name) => server.connect(`/game?name=${name}`)));
    await waitFor(() => controller.seen.length === 3, 5_000, "three connections");
    const ids = new Set(controller.seen.map((c) => c.id));
    assert.equal(ids.size, 3);
    for (const conn of controller.seen) {
      assert.match(conn.id, /^[A-Za-z0-9_-]+$/, "id is URL-safe");
      assert.ok(conn.connectedAt >= before - 5 && conn.connectedAt <= Date.now());
      assert.equal(conn.lastActivity, conn.connectedAt);
      assert.equal(conn.remoteAddress, "127.0.0.1");
      assert.equal(conn.readyState, 1);
      assert.equal(controller.connections.get(conn.id), conn);
    }
    assert.deepEqual(controller.seen.map((c) => c.userData.name).sort(), ["ada", "bob", "cy"]);
    for (const client of clients) client.close();
    await Promise.all(clients.map((c) => c.closed));
  });

  test("lastActivity moves with each message", async (t) => {
    const controller = new Recorder();
    const server = await startServer({ "/game": controller });
    t.after(() => server.stop());
    const client = await server.connect("/game?name=ada");
    for (let i = 0; i < 3; i++) {
      await delay(15);
      client.sendText(`m${i}`);
      await client.nextMessage();
    }
    const [first, second, third] = controller.activity;
    assert.ok(first! > controller.seen[0]!.connectedAt, "first message moved lastActivity");
    assert.ok(second! > first! && third! > second!, `lastActivity increases: ${controller.activity}`);
    client.close();
    await client.closed;
  });

  test("userData and customData persist across hooks", async (t) => {
    const controller = new Recorder();
    const server = await startServer({ "/game": controller });
    t.after(() => server.stop());
    const client = await server.connect("/game?name=ada");
    client.sendText("hello");
    assert.deepEqual(JSON.parse((await client.nextMessage()).text()), { name: "ada", joined: "yes", last: "hello" });
    client.sendText("rename:eve");
    assert.deepEqual(JSON.parse((await client.nextMessage()).text()), { name: "eve", joined: "yes", last: "rename:eve" });
    client.sendText("again");
    assert.deepEqual(JSON.parse((await client.nextMessage()).text()), { name: "eve", joined: "yes", last: "again" });
    client.close();
    await client.closed;
  });

  for (const [code, reason] of [[1000, "done"], [4000, "app-defined"], [4999, "üñíçødé reason"]] as const) {
    test(`onDisconnect fires once with the client's code ${code} and reason, after leaving the registry and every room`, async (t) => {
      const controller = new Recorder();
      const server = await startServer({ "/game": controller });
      t.after(() => server.stop());
      const client = await server.connect("/game?name=ada");
      const stay = await server.connect("/game?name=bob");
      await waitFor(() => controller.seen.length === 2);
      assert.equal(controller.room("lobby").size, 2);
      client.close(code, reason);
      const closeInfo = await client.closed;
      assert.equal(closeInfo.code, code, "the server echoes the code");
      await waitFor(() => controller.disconnects.length === 1);
      await delay(50);
      assert.equal(controller.disconnects.length, 1, "exactly once");
      const [gone] = controller.disconnects;
      assert.equal(gone!.code, code);
      assert.equal(gone!.reason, reason);
      assert.equal(gone!.registered, false, "left the registry");
      assert.equal(gone!.rooms, 0, "left every room");
      assert.equal(controller.room("lobby").size, 1);
      assert.equal(controller.rooms.has("team-ada"), false, "an empty room disappears");
      assert.equal(controller.connections.size, 1);
      const stats = await controller.stats();
      assert.equal(stats.closesByCode[String(code)], 1);
      stay.close();
      await stay.closed;
    });
  }

  test("a client that drops the TCP connection is reported as 1006, once", async (t) => {
    const controller = new Recorder();
    const server = await startServer({ "/game": controller });
    t.after(() => server.stop());
    const client = await server.connect("/game?name=ada");
    await waitFor(() => controller.seen.length === 1);
    client.destroy();
    await waitFor(() => controller.disconnects.length === 1);
    await delay(50);
    assert.equal(controller.disconnects.length, 1);
    assert.equal(controller.disconnects[0]!.code, 1006);
    assert.equal(controller.connections.size, 0);
  });

  test("a server-side close reaches the client and onDisconnect with the server's code", async (t) => {
    const done = deferred<[number, string]>();
    class Closer extends WebSocketController {
      override onTextMessage(conn: Connection) {
        conn.close(4321, "server says bye");
      }
      override onDisconnect(_conn: Connection, code: number, reason: string) {
        done.resolve([code, reason]);
      }
    }
    const server = await startServer({ "/close": new Closer() });
    t.after(() => server.stop());
    const client = await server.connect("/close");
    client.sendText("close me");
    const info = await client.closed;
    assert.equal(info.code, 4321);
    assert.equal(info.reason, "server says bye");
    assert.deepEqual(await done.promise, [4321, "server says bye"]);
  });

  test("close() refuses codes an application may not send", async (t) => {
    const errors: string[] = [];
    class BadCloser extends WebSocketController {
      override onConnect(conn: Connection) {
        for (const code of [1005, 1006, 999, 5000, 2000]) {
          try {
            conn.close(code);
          } catch (error) {
            errors.push((error as Error).name);
          }
        }
        conn.sendText("still open");
      }
    }
    const server = await startServer({ "/bad": new BadCloser() });
    t.after(() => server.stop());
    const client = await server.connect("/bad");
    assert.equal((await client.nextMessage()).text(), "still open");
    assert.deepEqual(errors, ["RangeError", "RangeError", "RangeError", "RangeError", "RangeError"]);
    client.close();
    await client.closed;
  });
});
