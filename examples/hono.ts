/**
 * An existing Hono app (a small REST API behind a bearer-token middleware)
 * that gains a WebSocket route: `/ws/:room` is a chat room per path, for the
 * user the middleware authenticated. The same file runs on all three runtimes:
 *
 *   npx tsx examples/hono.ts            # Node, through @hono/node-server
 *   npx bun examples/hono.ts            # Bun.serve
 *   npx deno run -A examples/hono.ts    # Deno.serve
 *
 *   curl -H "authorization: Bearer alice-token" http://127.0.0.1:8787/api/me
 *   curl -H "authorization: Bearer alice-token" http://127.0.0.1:8787/api/rooms/lobby/messages
 *   # and a WebSocket client on ws://127.0.0.1:8787/ws/lobby with the same header
 *
 * PORT sets the port (0 picks a free one).
 */
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
// In your app: from "switchboard" and "switchboard/hono".
import { type Connection, type UpgradeRequest, WebSocketController } from "../mod.ts";
import { upgradeWebSocket, websocket } from "../src/adapters/hono/mod.ts";

// Just enough of Bun's and Deno's globals for this file to type-check with Node's types too;
// bun-types and Deno's own types declare them in an app for one runtime.
declare const Bun: {
  serve(options: { port: number; hostname: string; fetch: typeof app.fetch; websocket: typeof websocket }): { port: number };
};
declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: (request: Request, info: unknown) => Response | Promise<Response>,
  ): unknown;
};

type Env = { Variables: { user: string } };

// --- The app as it was: REST routes behind an auth middleware --------------

const users: Record<string, string> = { "alice-token": "alice", "bob-token": "bob" };
const app = new Hono<Env>();

/** The app's bearer-token middleware: refuses with 401, or puts the user on the context. */
const auth = createMiddleware<Env>(async (c, next) => {
  const token = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  const user = token ? users[token] : undefined;
  if (!user) return c.json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
  c.set("user", user);
  await next();
});

app.get("/health", (c) => c.json({ ok: true }));
app.use("/api/*", auth);
app.get("/api/me", (c) => c.json({ user: c.var.user }));

// --- What it gains: a chat room per path, for the authenticated user ---------

interface Member {
  user: string;
  room: string;
}

class Chat extends WebSocketController<Member> {
  override onUpgrade(request: UpgradeRequest) {
    // The middleware in front has already refused anyone without a valid token.
    return { userData: { user: request.context.user as string, room: request.params.room ?? "lobby" } };
  }
  override onConnect(conn: Connection<Member>) {
    conn.join(conn.userData.room);
    this.broadcastJson({ type: "joined", user: conn.userData.user }, { room: conn.userData.room, except: conn });
  }
  override async onTextMessage(conn: Connection<Member>, text: string) {
    // Recorded, so the REST route below can show a room's recent messages.
    await this.broadcastJson({ type: "message", from: conn.userData.user, text }, { room: conn.userData.room, record: true });
  }
  override onDisconnect(conn: Connection<Member>) {
    this.broadcastJson({ type: "left", user: conn.userData.user }, { room: conn.userData.room });
  }
}

const chat = new Chat();
app.use("/ws/*", auth);
app.get("/ws/:room", upgradeWebSocket(chat));

// The REST API can reach the WebSocket side too: recent messages and who is online.
app.get("/api/rooms/:room/messages", async (c) => {
  const room = c.req.param("room");
  const recent = await chat.history.recent(room, 20);
  return c.json({
    online: [...chat.room(room)].map((conn) => conn.userData.user),
    messages: recent.map((entry) => JSON.parse(entry.data as string)),
  });
});

// --- Serving: the only part that differs by runtime ------------------------

const port = Number(process.env.PORT ?? 8787);
const hostname = "127.0.0.1";
const listening = (boundPort: number) => console.log(`listening on http://${hostname}:${boundPort}`);

if ("Bun" in globalThis) {
  listening(Bun.serve({ port, hostname, fetch: app.fetch, websocket }).port);
} else if ("Deno" in globalThis) {
  Deno.serve({ port, hostname, onListen: (addr) => listening(addr.port) }, app.fetch);
} else {
  const { serve } = await import("@hono/node-server");
  serve({ fetch: app.fetch, port, hostname, websocket }, (info) => listening(info.port));
}

// Closes every WebSocket with 1001 before the process exits.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void chat.shutdown({ timeout: 2_000 }).then(() => process.exit(0)));
}
