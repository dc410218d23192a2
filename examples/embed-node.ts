/**
 * A `node:http` server the app already has (a tiny JSON API, and its own
 * WebSocket-free upgrade handling elsewhere) gains a WebSocket endpoint
 * without handing the server over: `attach` serves upgrades on its routes
 * and leaves every other request and upgrade to the app.
 *
 *   npx tsx examples/embed-node.ts
 *   curl http://127.0.0.1:8788/api/time
 *   # a WebSocket client on ws://127.0.0.1:8788/ws/echo
 *
 * PORT sets the port (0 picks a free one).
 */
import { createServer } from "node:http";
// In your app: from "switchboard" and "switchboard/node".
import { type Connection, WebSocketController } from "../mod.ts";
import { attach } from "../src/adapters/node/mod.ts";

// --- The server as it was ---------------------------------------------------

const server = createServer((req, res) => {
  if (req.url === "/api/time") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ now: new Date().toISOString() }));
    return;
  }
  res.writeHead(404).end("not found");
});

// --- What it gains ------------------------------------------------------------

class Echo extends WebSocketController {
  override onConnect(conn: Connection) {
    conn.sendJson({ type: "welcome", id: conn.id, online: this.connections.size });
  }
  override onTextMessage(conn: Connection, text: string) {
    conn.sendJson({ type: "echo", text });
  }
}

const echo = new Echo();
// Upgrades on /ws/echo go to the controller; any other upgrade is left to other
// `upgrade` listeners (or refused with 404 when there are none).
const detach = attach(server, { "/ws/echo": echo });

const port = Number(process.env.PORT ?? 8788);
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on http://127.0.0.1:${typeof address === "object" && address ? address.port : port}`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    detach();
    await echo.shutdown({ timeout: 2_000 }); // 1001 to every client
    server.close(() => process.exit(0));
  });
}
