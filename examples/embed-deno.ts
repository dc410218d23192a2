/**
 * A `Deno.serve` app the app already has (routes in its own handler) gains a
 * WebSocket endpoint without handing the server over: the handler calls
 * `upgrade` for one path and returns its response.
 *
 *   npx deno run -A examples/embed-deno.ts
 *   curl http://127.0.0.1:8790/api/time
 *   # a WebSocket client on ws://127.0.0.1:8790/ws/echo
 *
 * PORT sets the port (0 picks a free one).
 */
// In your app: from "switchboard" and "switchboard/deno" (jsr:@switchboard/switchboard/deno).
import { type Connection, WebSocketController } from "../mod.ts";
import { type DenoServeInfo, upgrade } from "../src/adapters/deno/mod.ts";

// Just enough of Deno's global for this file to type-check with Node's types too; Deno declares it itself.
declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
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

const server = Deno.serve(
  {
    port: Number(process.env.PORT ?? 8790),
    hostname: "127.0.0.1",
    onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`),
  },
  (request, info) => {
    const { pathname } = new URL(request.url);
    // The one new line in the app's router:
    if (pathname === "/ws/echo") return upgrade(request, info, echo);
    // --- the routes the app already had
    if (pathname === "/api/time") return Response.json({ now: new Date().toISOString() });
    return new Response("not found", { status: 404 });
  },
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await echo.shutdown({ timeout: 2_000 }); // 1001 to every client
    await server.shutdown();
    process.exit(0);
  });
}
