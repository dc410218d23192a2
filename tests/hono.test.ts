/**
 * switchboard/hono: a WebSocket route in a Hono app, served the way a Hono
 * user serves the app on each runtime (Bun.serve, Deno.serve, and
 * @hono/node-server v2 on Node), behind real Hono middleware.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { type Connection, type UpgradeRequest, WebSocketController } from "../mod.ts";
import { upgradeWebSocket, websocket } from "../src/adapters/hono/mod.ts";
import { type HttpRejection, rawConnect, RawWebSocket } from "./helpers/raw-client.ts";
import { runtime, waitFor } from "./helpers/server.ts";

type Env = { Variables: { user: string; requestId: string } };

interface Member {
  user: string;
  room: string;
}

/** Records what reached onUpgrade and answers every message with who and where it came from. */
class Room extends WebSocketController<Member> {
  readonly upgrades: UpgradeRequest[] = [];

  override onUpgrade(request: UpgradeRequest) {
    this.upgrades.push(request);
    if (request.params.room === "closed") {
      return new Response("room closed", { status: 403, headers: { "x-reason": "closed" } });
    }
    const offered = request.protocols;
    return {
      userData: { user: String(request.context.user ?? "anon"), room: request.params.room ?? "?" },
      protocol: offered.includes("chat.v2") ? "chat.v2" : undefined,
      headers: { "x-room": request.params.room ?? "" },
    };
  }
  override onConnect(conn: Connection<Member>) {
    conn.join(conn.userData.room);
  }
  override onTextMessage(conn: Connection<Member>, text: string) {
    this.broadcastJson({ from: conn.userData.user, room: conn.userData.room, text }, { room: conn.userData.room });
  }
}

/** An "existing" app: REST routes, a request-id middleware, bearer auth on /ws/*, and the WebSocket route. */
function buildApp(controller: Room): Hono<Env> {
  const app = new Hono<Env>();
  const requestId: MiddlewareHandler<Env> = async (c, next) => {
    c.set("requestId", c.req.header("x-request-id") ?? "none");
    await next();
  };
  app.use("*", requestId);
  app.get("/api/health", (c) => c.json({ ok: true, requestId: c.var.requestId }));
  app.use(
    "/ws/*",
    bearerAuth({
      verifyToken: (token, c) => {
        const user = token === "alice-token" ? "alice" : token === "bob-token" ? "bob" : undefined;
        if (user) (c as Context<Env>).set("user", user);
        return user !== undefined;
      },
    }),
  );
  app.get("/ws/:room", upgradeWebSocket(controller));
  app.get("/plain/ws", upgradeWebSocket(controller), (c) => c.text("this is a WebSocket route", 200));
  return app;
}

interface HonoServer {
  readonly port: number;
  ws(path: string): string;
  stop(): Promise<void>;
}

/** Serves the app the way a Hono user does on this runtime, on 127.0.0.1 and a free port. */
async function serveApp(app: Hono<Env>, controller: Room): Promise<HonoServer> {
  let port: number;
  let close: () => Promise<void>;
  if (runtime === "bun") {
    const bun = (globalThis as unknown as {
      Bun: { serve(options: unknown): { port: number; stop(force: boolean): Promise<void> } };
    }).Bun;
    const server = bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch, websocket });
    port = server.port;
    close = () => server.stop(true);
  } else if (runtime === "deno") {
    const deno = (globalThis as unknown as {
      Deno: {
        serve(
          options: { port: number; hostname: string; onListen(): void },
          handler: (request: Request, info: unknown) => Response | Promise<Response>,
        ): { addr: { port: number }; shutdown(): Promise<void> };
      };
    }).Deno;
    const server = deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
    port = server.addr.port;
    close = () => server.shutdown();
  } else {
    const { serve } = await import("@hono/node-server");
    const { server, address } = await new Promise<{ server: ReturnType<typeof serve>; address: { port: number } }>(
      (resolve) => {
        const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", websocket }, (address) => {
          resolve({ server, address });
        });
      },
    );
    port = address.port;
    close = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?(): void }).closeAllConnections?.();
      });
  }
  let stopped = false;
  return {
    port,
    ws: (path) => `ws://127.0.0.1:${port}${path}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await controller.shutdown({ timeout: 1_000 });
      await close();
    },
  };
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function mustConnect(url: string, headers: Record<string, string>, protocols?: string[]): Promise<RawWebSocket> {
  const result = await rawConnect(url, { headers, protocols });
  if (result instanceof RawWebSocket) return result;
  throw new Error(`upgrade to ${url} rejected: HTTP ${result.status} ${result.body}`);
}

async function mustReject(url: string, headers: Record<string, string> = {}): Promise<HttpRejection> {
  const result = await rawConnect(url, { headers });
  if (result instanceof RawWebSocket) {
    result.destroy();
    throw new Error(`upgrade to ${url} was accepted, expected a refusal`);
  }
  return result;
}

describe("hono", () => {
  test("the bearer-token middleware refuses an upgrade without a valid token, before onUpgrade", async (t) => {
    const controller = new Room();
    const server = await serveApp(buildApp(controller), controller);
    t.after(() => server.stop());

    const missing = await mustReject(server.ws("/ws/lobby"));
    assert.equal(missing.status, 401);
    assert.match(missing.headers["www-authenticate"] ?? "", /^Bearer/);
    const wrong = await mustReject(server.ws("/ws/lobby"), bearer("mallory-token"));
    assert.equal(wrong.status, 401);
    assert.equal(controller.upgrades.length, 0, "onUpgrade never ran");
    assert.equal(controller.connections.size, 0);
  });

  test("an upgrade with a valid token is accepted; path params and middleware context reach onUpgrade", async (t) => {
    const controller = new Room();
    const server = await serveApp(buildApp(controller), controller);
    t.after(() => server.stop());

    const alice = await mustConnect(server.ws("/ws/lobby?x=1"), { ...bearer("alice-token"), "x-request-id": "req-42" });
    t.after(() => alice.destroy());
    assert.equal(controller.upgrades.length, 1);
    const request = controller.upgrades[0]!;
    assert.deepEqual({ ...request.params }, { room: "lobby" });
    assert.equal(request.context.user, "alice");
    assert.equal(request.context.requestId, "req-42");
    assert.equal(request.path, "/ws/lobby");
    assert.equal(request.query.get("x"), "1");
    assert.equal(request.headers.get("authorization"), "Bearer alice-token");
    assert.equal(request.remoteAddress, "127.0.0.1");
    assert.equal(alice.responseHeaders["x-room"], "lobby", "onUpgrade's 101 headers are sent");

    alice.sendText("hello");
    const reply = JSON.parse((await alice.nextMessage()).text());
    assert.deepEqual(reply, { from: "alice", room: "lobby", text: "hello" });
  });

  test("connections from two users share the room named by the path", async (t) => {
    const controller = new Room();
    const server = await serveApp(buildApp(controller), controller);
    t.after(() => server.stop());

    const alice = await mustConnect(server.ws("/ws/kitchen"), bearer("alice-token"));
    const bob = await mustConnect(server.ws("/ws/kitchen"), bearer("bob-token"));
    const elsewhere = await mustConnect(server.ws("/ws/garden"), bearer("bob-token"));
    t.after(() => [alice, bob, elsewhere].forEach((c) => c.destroy()));
    await waitFor(() => controller.room("kitchen").size === 2, 5_000, "two members in kitchen");

    bob.sendText("hi all");
    const expected = { from: "bob", room: "kitchen", text: "hi all" };
    assert.deepEqual(JSON.parse((await alice.nextMessage()).text()), expected);
    assert.deepEqual(JSON.parse((await bob.nextMessage()).text()), expected);
    await assert.rejects(elsewhere.nextMessage(150), /no message within/, "another room hears nothing");
  });

  test("onUpgrade can refuse with its own status, headers and body", async (t) => {
    const controller = new Room();
    const server = await serveApp(buildApp(controller), controller);
    t.after(() => server.stop());

    const refused = await mustReject(server.ws("/ws/closed"), bearer("alice-token"));
    assert.equal(refused.status, 403);
    assert.equal(refused.headers["x-reason"], "closed");
    assert.equal(refused.body, "room closed");
    assert.equal(controller.upgrades.length, 1);
    assert.equal(controller.connections.size, 0);
  });

  test("the subprotocol onUpgrade picks is the one negotiated", async (t) => {
    const controller = new Room();
    const server = await serveApp(buildApp(controller), controller);
    t.after(() => server.stop());

    // The client prefers chat.v1; the controller picks chat.v2, which a server echoing the first offer would get wrong.
    const client = await mustConnect(server.ws("/ws/lobby"), bearer("alice-token"), ["chat.v1", "chat.v2"]);
    t.after(() => client.destroy());
    assert.equal(client.protocol, "chat.v2");
    client.sendText("v2?");
    assert.equal(JSON.parse((await client.nextMessage()).text()).text, "v2?");
  });

  test("REST routes keep working, and a plain GET on a WebSocket route falls through to the next handler", async (t) => {
    const controller = new Room();
    const server = await serveApp(buildApp(controller), controller);
    t.after(() => server.stop());
    const base = `http://127.0.0.1:${server.port}`;

    const health = await fetch(`${base}/api/health`, { headers: { "x-request-id": "r1" } });
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { ok: true, requestId: "r1" });

    const next = await fetch(`${base}/plain/ws`);
    assert.equal(next.status, 200);
    assert.equal(await next.text(), "this is a WebSocket route");

    // As with Hono's own upgradeWebSocket: no next handler, so Hono's 404.
    const plain = await fetch(`${base}/ws/lobby`, { headers: bearer("alice-token") });
    assert.equal(plain.status, 404);
    await plain.body?.cancel();
    assert.equal(controller.upgrades.length, 0);
  });

  test("shutdown closes Hono-served connections with 1001", async (t) => {
    const controller = new Room();
    const server = await serveApp(buildApp(controller), controller);
    t.after(() => server.stop());

    const client = await mustConnect(server.ws("/ws/lobby"), bearer("alice-token"));
    await waitFor(() => controller.connections.size === 1, 5_000, "the connection");
    await controller.shutdown({ timeout: 1_000 });
    const closed = await client.closed;
    assert.equal(closed.code, 1001);
    assert.equal(controller.connections.size, 0);
  });
});
