/**
 * A `Bun.serve` app the app already has (routes in its own `fetch`) gains a
 * WebSocket endpoint without handing the server over: its `fetch` calls
 * `upgrade` for one path, and `websocketHandler` becomes the server's
 * `websocket` option.
 *
 *   npx bun examples/embed-bun.ts
 *   curl http://127.0.0.1:8789/api/time
 *   # a WebSocket client on ws://127.0.0.1:8789/ws/echo
 *
 * PORT sets the port (0 picks a free one).
 */
// In your app: from "switchboard" and "switchboard/bun".
import { type Connection, WebSocketController } from "../mod.ts";
import { type BunServer, upgrade, websocketHandler } from "../src/adapters/bun/mod.ts";

// Just enough of Bun's global for this file to type-check with Node's types too; bun-types declares it in a Bun app.
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
    websocket: ReturnType<typeof websocketHandler>;
  }): BunServer & { port: number; stop(force?: boolean): Promise<void> };
};

class Echo extends WebSocketController {
  override onConnect(conn: Connection) {
    conn.sendJson({ type: "welcome", id: conn.id, online: this.connections.size });
  }
  override onTextMessage(conn: Connection, text: string) {
    conn.sendJson({ type: "echo", text });
  }
}
const echo = new Echo();

const server = Bun.serve({
  port: Number(process.env.PORT ?? 8789),
  hostname: "127.0.0.1",
  fetch(request, server) {
    const { pathname } = new URL(request.url);
    // The one new line in the app's router:
    if (pathname === "/ws/echo") return upgrade(request, server, echo);
    // --- the routes the app already had
    if (pathname === "/api/time") return Response.json({ now: new Date().toISOString() });
    return new Response("not found", { status: 404 });
  },
  // Bun has one `websocket` handler per server: give it every controller the server hosts.
  websocket: websocketHandler([echo]),
});
console.log(`listening on http://127.0.0.1:${server.port}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await echo.shutdown({ timeout: 2_000 }); // 1001 to every client
    await server.stop(true);
    process.exit(0);
  });
}
