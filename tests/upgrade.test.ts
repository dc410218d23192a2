/**
 * Conformance: the upgrade. What `onUpgrade` sees, refusals with any status,
 * headers and body, async and failing `onUpgrade`, extra 101 headers,
 * subprotocol negotiation (raw and standard clients), routing (404, 426,
 * plain HTTP through `fetch`), refusal counting and refusals after shutdown.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Connection, type UpgradeRequest, type UpgradeResult, WebSocketController } from "../mod.ts";
import { type HttpRejection, rawConnect, type RawConnectOptions, RawWebSocket } from "./helpers/raw-client.ts";
import { capabilities, deferred, delay, standardWebSocket, startServer, waitFor, within } from "./helpers/server.ts";

/** Opens a raw client and fails the test unless the server refused the upgrade. */
async function expectRefusal(url: string, options?: RawConnectOptions): Promise<HttpRejection> {
  const result = await rawConnect(url, options);
  if (result instanceof RawWebSocket) {
    result.destroy();
    assert.fail(`expected the upgrade to ${url} to be refused, but it was accepted`);
  }
  return result;
}

/**
 * An echo controller whose `onUpgrade` is given per test; it records what each
 * hook saw so the tests can assert on it.
 */
class Probe<UserData = undefined> extends WebSocketController<UserData> {
  readonly upgrades: UpgradeRequest[] = [];
  readonly connected: Connection<UserData>[] = [];
  readonly errors: { connection: Connection<UserData> | undefined; error: Error }[] = [];
  #decide: (request: UpgradeRequest) => UpgradeResult<UserData> | Promise<UpgradeResult<UserData>>;

  constructor(
    decide: (request: UpgradeRequest) => UpgradeResult<NoInfer<UserData>> | Promise<UpgradeResult<NoInfer<UserData>>> = () =>
      undefined as UpgradeResult<UserData>,
    protocols?: string[],
  ) {
    super({ protocols });
    this.#decide = decide;
  }
  override onUpgrade(request: UpgradeRequest) {
    this.upgrades.push(request);
    return this.#decide(request);
  }
  override onConnect(conn: Connection<UserData>) {
    this.connected.push(conn);
  }
  override onTextMessage(conn: Connection<UserData>, text: string) {
    conn.sendText(`echo:${text}`);
  }
  override onError(connection: Connection<UserData> | undefined, error: Error) {
    this.errors.push({ connection, error });
  }
}

describe("upgrade", () => {
  test("onUpgrade sees path, query, headers, cookies, path params and the remote address; the connection keeps them", async (t) => {
    const controller = new Probe<{ room: string }>((request) => ({ userData: { room: request.params.room! } }));
    const server = await startServer({ "/rooms/:room": controller });
    t.after(() => server.stop());
    const client = await server.connect("/rooms/lobby%20one?token=abc&n=1&n=2", {
      headers: { "x-client": "probe/1", cookie: "sid=s3cr3t; theme=dark; quoted=\"a%20b\"" },
    });
    await waitFor(() => controller.connected.length === 1, 5_000, "onConnect");
    const [request] = controller.upgrades;
    assert.equal(request!.path, "/rooms/lobby%20one");
    assert.deepEqual(request!.params, { room: "lobby one" }, "path params are decoded");
    assert.equal(request!.query.get("token"), "abc");
    assert.deepEqual(request!.query.getAll("n"), ["1", "2"]);
    assert.equal(request!.headers.get("x-client"), "probe/1");
    assert.equal(request!.headers.get("upgrade")?.toLowerCase(), "websocket");
    assert.deepEqual({ ...request!.cookies }, { sid: "s3cr3t", theme: "dark", quoted: "a b" });
    assert.equal(request!.remoteAddress, "127.0.0.1");
    assert.match(request!.url, /^http:\/\/127\.0\.0\.1:\d+\/rooms\/lobby%20one\?token=abc&n=1&n=2$/);

    // The copied request stays readable after the upgrade (Deno invalidates the original).
    client.sendText("hi");
    assert.equal((await client.nextMessage()).text(), "echo:hi");
    const [conn] = controller.connected;
    assert.equal(conn!.userData.room, "lobby one");
    assert.equal(conn!.request.params.room, "lobby one");
    assert.equal(conn!.request.headers.get("x-client"), "probe/1");
    assert.equal(conn!.request.cookies.sid, "s3cr3t");
    assert.equal(conn!.remoteAddress, "127.0.0.1");
    client.close();
    await client.closed;
  });

  test("a Response from onUpgrade reaches the client as exactly that status, headers and body", async (t) => {
    const controller = new Probe(() =>
      new Response("go away", { status: 401, headers: { "www-authenticate": "Bearer", "x-why": "no token" } })
    );
    const server = await startServer({ "/secure": controller });
    t.after(() => server.stop());
    const refusal = await expectRefusal(server.ws("/secure"));
    assert.equal(refusal.status, 401);
    assert.equal(refusal.headers["www-authenticate"], "Bearer");
    assert.equal(refusal.headers["x-why"], "no token");
    assert.equal(refusal.body, "go away");
    assert.equal(controller.upgrades.length, 1);
    await delay(20);
    assert.equal(controller.connected.length, 0, "a refused upgrade never connects");
    assert.equal(controller.connections.size, 0);
  });

  test("an async onUpgrade can await before accepting or refusing", async (t) => {
    const controller = new Probe<{ user: string }>(async (request) => {
      await delay(30);
      const token = request.query.get("token");
      if (token !== "good") return new Response("bad token", { status: 403 });
      await Promise.resolve();
      return { userData: { user: "ada" } };
    });
    const server = await startServer({ "/auth": controller });
    t.after(() => server.stop());
    const refusal = await expectRefusal(server.ws("/auth?token=bad"));
    assert.equal(refusal.status, 403);
    assert.equal(refusal.body, "bad token");
    const client = await server.connect("/auth?token=good");
    // A message sent right after the 101 is not lost behind the awaited onUpgrade.
    client.sendText("first");
    assert.equal((await client.nextMessage()).text(), "echo:first");
    assert.equal(controller.connected.length, 1);
    assert.equal(controller.connected[0]!.userData.user, "ada");
    client.close();
    await client.closed;
  });

  test("an onUpgrade that throws refuses with 500 and reaches onError with no connection", async (t) => {
    const boom = new Error("onUpgrade exploded");
    const controller = new Probe((request) => {
      if (request.query.has("async")) return Promise.reject(boom);
      throw boom;
    });
    const ok = new Probe();
    const server = await startServer({ "/fail": controller, "/ok": ok });
    t.after(() => server.stop());
    for (const path of ["/fail", "/fail?async"]) {
      const refusal = await expectRefusal(server.ws(path));
      assert.equal(refusal.status, 500, path);
      assert.doesNotMatch(refusal.body, /exploded/, "the error message does not leak to the client");
    }
    assert.equal(controller.errors.length, 2);
    for (const { connection, error } of controller.errors) {
      assert.equal(connection, undefined);
      assert.equal(error, boom);
    }
    assert.equal(controller.connected.length, 0);
    // The process and the server survived.
    const client = await server.connect("/ok");
    client.sendText("alive");
    assert.equal((await client.nextMessage()).text(), "echo:alive");
    client.close();
    await client.closed;
  });

  test(
    "an accepted upgrade carries the extra response headers from onUpgrade",
    { skip: !capabilities.upgradeHeaders && `${capabilities.runtime} cannot add headers to the 101 response` },
    async (t) => {
      // Deno has no option for this; the adapter writes them onto the 101 Response, which Deno 2.9.6
      // sends as is (undocumented, so this test is the guard if a later Deno stops doing so).
      const controller = new Probe(() => ({ headers: { "x-session": "abc", "x-node": "n1" } }));
      const server = await startServer({ "/hdr": controller });
      t.after(() => server.stop());
      const client = await server.connect("/hdr");
      assert.equal(client.responseHeaders["x-session"], "abc");
      assert.equal(client.responseHeaders["x-node"], "n1");
      // And the socket works: the extra headers did not break the upgrade.
      client.sendText("after-headers");
      assert.equal((await client.nextMessage()).text(), "echo:after-headers");
      client.close();
      await client.closed;
    },
  );

  describe("subprotocols", () => {
    test("the `protocols` option picks the first supported one the client offered", async (t) => {
      const controller = new Probe(undefined, ["chat.v1"]);
      const server = await startServer({ "/chat": controller });
      t.after(() => server.stop());
      const client = await server.connect("/chat", { protocols: ["chat.v2", "chat.v1"] });
      assert.equal(client.protocol, "chat.v1");
      await waitFor(() => controller.connected.length === 1);
      assert.equal(controller.connected[0]!.protocol, "chat.v1");
      assert.deepEqual(controller.upgrades[0]!.protocols, ["chat.v2", "chat.v1"]);
      client.close();
      await client.closed;
    });

    test("the server's order of preference wins over the client's", async (t) => {
      const controller = new Probe(undefined, ["chat.v2", "chat.v1"]);
      const server = await startServer({ "/chat": controller });
      t.after(() => server.stop());
      const client = await server.connect("/chat", { protocols: ["chat.v1", "chat.v2"] });
      // Documented as "in order of preference": the first supported protocol the client offered.
      assert.equal(client.protocol, "chat.v2");
      await waitFor(() => controller.connected.length === 1);
      assert.equal(controller.connected[0]!.protocol, client.protocol);
      client.close();
      await client.closed;
    });

    test("without the option, the first protocol offered is chosen", async (t) => {
      const controller = new Probe();
      const server = await startServer({ "/chat": controller });
      t.after(() => server.stop());
      const client = await server.connect("/chat", { protocols: ["chat.v2", "chat.v1"] });
      assert.equal(client.protocol, "chat.v2");
      await waitFor(() => controller.connected.length === 1);
      assert.equal(controller.connected[0]!.protocol, "chat.v2");
      client.close();
      await client.closed;
    });

    test("a protocol returned by onUpgrade is the one chosen", async (t) => {
      const controller = new Probe(() => ({ protocol: "chat.v1" }), ["chat.v2"]);
      const server = await startServer({ "/chat": controller });
      t.after(() => server.stop());
      const client = await server.connect("/chat", { protocols: ["chat.v2", "chat.v1"] });
      assert.equal(client.protocol, "chat.v1");
      await waitFor(() => controller.connected.length === 1);
      assert.equal(controller.connected[0]!.protocol, "chat.v1");
      client.close();
      await client.closed;
    });

    test("a comma list without spaces (`a,b`, as `ws` sends it) negotiates the second protocol", async (t) => {
      // Deno splits the offer on ", " only; the adapter shadows the request's headers to fix that.
      const controller = new Probe(() => ({ protocol: "b" }));
      const server = await startServer({ "/p": controller });
      t.after(() => server.stop());
      const client = await server.connect("/p", { headers: { "sec-websocket-protocol": "a,b" } });
      assert.equal(client.protocol, "b");
      client.sendText("over-b");
      assert.equal((await client.nextMessage()).text(), "echo:over-b");
      assert.equal(controller.connected[0]!.protocol, "b");
      client.close();
      await client.closed;
    });

    test("offering only unsupported protocols is refused with 400 when `protocols` is set", async (t) => {
      const controller = new Probe(undefined, ["chat.v1"]);
      const server = await startServer({ "/chat": controller });
      t.after(() => server.stop());
      const refusal = await expectRefusal(server.ws("/chat"), { protocols: ["chat.v3", "mqtt"] });
      assert.equal(refusal.status, 400);
      assert.equal(controller.connected.length, 0);
      // Offering nothing at all is still accepted, with no protocol.
      const client = await server.connect("/chat");
      assert.equal(client.protocol, "");
      await waitFor(() => controller.connected.length === 1);
      assert.equal(controller.connected[0]!.protocol, "");
      client.close();
      await client.closed;
    });

    test("onUpgrade choosing a protocol the client did not offer is a 500 and an onError", async (t) => {
      const controller = new Probe(() => ({ protocol: "not-offered" }));
      const server = await startServer({ "/chat": controller });
      t.after(() => server.stop());
      const refusal = await expectRefusal(server.ws("/chat"), { protocols: ["a"] });
      assert.equal(refusal.status, 500);
      assert.equal(controller.errors.length, 1);
      assert.equal(controller.errors[0]!.connection, undefined);
      assert.match(controller.errors[0]!.error.message, /not-offered/);
    });

    for (const [label, options, decide, expected] of [
      ["the first offered by default", undefined, undefined, "a"],
      ["the one onUpgrade returns", undefined, () => ({ protocol: "b" }), "b"],
      ["the supported one from `protocols`", ["b"], undefined, "b"],
    ] as const) {
      test(`the standard WebSocket client ends up with ${label}`, async (t) => {
        const WebSocketClass = await standardWebSocket();
        const controller = new Probe(decide, options ? [...options] : undefined);
        const server = await startServer({ "/std": controller });
        t.after(() => server.stop());
        // Each runtime's client formats the offer its own way (`ws` sends "a,b").
        const ws = new WebSocketClass(server.ws("/std"), ["a", "b"]);
        const opened = deferred<void>();
        const closed = deferred<number>();
        const reply = deferred<string>();
        ws.onopen = () => opened.resolve();
        ws.onerror = () => closed.resolve(-1);
        ws.onclose = (event) => closed.resolve(event.code);
        ws.onmessage = (event) => reply.resolve(String(event.data));
        await within(Promise.race([opened.promise, closed.promise.then((code) => assert.fail(`closed with ${code} before open`))]), 5_000, "open");
        assert.equal(ws.protocol, expected);
        ws.send("std");
        assert.equal(await within(reply.promise, 5_000, "echo"), "echo:std");
        assert.equal(controller.connected[0]!.protocol, expected);
        ws.close(1000);
        assert.equal(await within(closed.promise, 5_000, "close"), 1000);
      });
    }
  });

  describe("routing", () => {
    test("an upgrade to an unknown path is refused with 404", async (t) => {
      const controller = new Probe();
      const server = await startServer({ "/ws": controller, "/rooms/:room": controller });
      t.after(() => server.stop());
      for (const path of ["/nope", "/ws/extra", "/rooms", "/"]) {
        const refusal = await expectRefusal(server.ws(path));
        assert.equal(refusal.status, 404, path);
      }
      assert.equal(controller.upgrades.length, 0, "onUpgrade never ran");
    });

    test("a plain HTTP GET on a WebSocket route is answered 426 Upgrade Required", async (t) => {
      const controller = new Probe();
      const server = await startServer({ "/ws": controller, "/rooms/:room": controller });
      t.after(() => server.stop());
      for (const path of ["/ws", "/rooms/lobby"]) {
        const response = await fetch(server.http(path));
        assert.equal(response.status, 426, path);
        assert.equal(response.headers.get("upgrade")?.toLowerCase(), "websocket");
        await response.body?.cancel();
      }
      const missing = await fetch(server.http("/elsewhere"));
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      assert.equal(controller.upgrades.length, 0);
    });

    test("serve({ fetch }) answers plain HTTP next to the WebSocket routes", async (t) => {
      const controller = new Probe();
      const seen: string[] = [];
      const server = await startServer({ "/ws": controller }, async (request) => {
        const url = new URL(request.url);
        seen.push(`${request.method} ${url.pathname}`);
        if (url.pathname === "/api/info") return Response.json({ ok: true, q: url.searchParams.get("q") });
        if (url.pathname === "/api/echo" && request.method === "POST") {
          return new Response(await request.text(), { headers: { "x-echo": "1" } });
        }
        return new Response("custom not found", { status: 404 });
      });
      t.after(() => server.stop());
      const info = await fetch(server.http("/api/info?q=42"));
      assert.equal(info.status, 200);
      assert.match(info.headers.get("content-type") ?? "", /application\/json/);
      assert.deepEqual(await info.json(), { ok: true, q: "42" });
      const echo = await fetch(server.http("/api/echo"), { method: "POST", body: "payload ü" });
      assert.equal(echo.headers.get("x-echo"), "1");
      assert.equal(await echo.text(), "payload ü");
      const other = await fetch(server.http("/missing"));
      assert.equal(other.status, 404);
      assert.equal(await other.text(), "custom not found");
      // ServeOptions.fetch serves "every request that is not a WebSocket upgrade on a route",
      // including a plain GET on the WebSocket route itself.
      const plainOnRoute = await fetch(server.http("/ws"));
      assert.equal(plainOnRoute.status, 404);
      await plainOnRoute.body?.cancel();
      assert.deepEqual(seen, ["GET /api/info", "POST /api/echo", "GET /missing", "GET /ws"]);
      // The WebSocket route still upgrades on the same server.
      const client = await server.connect("/ws");
      client.sendText("mixed");
      assert.equal((await client.nextMessage()).text(), "echo:mixed");
      client.close();
      await client.closed;
      // An upgrade to a path with no WebSocket route is never upgraded: it goes to `fetch` on every
      // runtime (on Node the adapter hands the `upgrade` event to `fetch` itself).
      const refusal = await expectRefusal(server.ws("/api/info"));
      assert.equal(refusal.status, 200);
    });
  });

  test("stats().rejectedUpgrades counts every refusal and nothing else", async (t) => {
    const controller = new Probe((request) => {
      const mode = request.query.get("mode");
      if (mode === "deny") return new Response("no", { status: 403 });
      if (mode === "throw") throw new Error("nope");
      return undefined;
    }, ["v1"]);
    const server = await startServer({ "/ws": controller });
    t.after(() => server.stop());
    assert.equal((await controller.stats()).rejectedUpgrades, 0);
    assert.equal((await expectRefusal(server.ws("/ws?mode=deny"))).status, 403);
    assert.equal((await expectRefusal(server.ws("/ws?mode=throw"))).status, 500);
    assert.equal((await expectRefusal(server.ws("/ws"), { protocols: ["v9"] })).status, 400);
    const accepted = await server.connect("/ws", { protocols: ["v1"] });
    // Not an upgrade for this controller: these are no refusals of its own.
    assert.equal((await expectRefusal(server.ws("/other"))).status, 404);
    await (await fetch(server.http("/ws"))).body?.cancel();
    const stats = await controller.stats();
    assert.equal(stats.rejectedUpgrades, 3);
    assert.equal(stats.connections, 1);
    accepted.close();
    await accepted.closed;
    await controller.shutdown({ timeout: 1_000 });
    assert.equal((await expectRefusal(server.ws("/ws"))).status, 503);
    assert.equal((await controller.stats()).rejectedUpgrades, 4, "a refusal during shutdown counts too");
  });

  test("after shutdown() new upgrades are refused with 503, without running onUpgrade", async (t) => {
    const disconnected = deferred<number>();
    class Closing extends Probe {
      override onDisconnect(_conn: Connection, code: number) {
        disconnected.resolve(code);
      }
    }
    const controller = new Closing();
    const server = await startServer({ "/ws": controller });
    t.after(() => server.stop());
    const client = await server.connect("/ws");
    await waitFor(() => controller.connected.length === 1);
    await within(controller.shutdown({ timeout: 2_000 }), 5_000, "shutdown");
    assert.equal(await disconnected.promise, 1001);
    assert.equal((await client.closed).code, 1001);
    const upgradesBefore = controller.upgrades.length;
    const refusal = await expectRefusal(server.ws("/ws"));
    assert.equal(refusal.status, 503);
    assert.equal(controller.upgrades.length, upgradesBefore, "onUpgrade is not consulted once shutting down");
    assert.equal(controller.connections.size, 0);
  });
});
