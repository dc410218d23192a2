// Hono's WebSocket helper on the runtime this runs on:
//   Bun   hono/bun   upgradeWebSocket + websocket (deprecated in hono 4.13 in favour of @hono/bun,
//                    which is not installed; same code)
//   Deno  hono/deno  upgradeWebSocket
//   Node  @hono/node-server v2 upgradeWebSocket, with a ws WebSocketServer in noServer mode
// Hono has no pub/sub and no client registry, so fan-out is the usual Map of contexts and a loop.
// Heartbeat: whatever the runtime does by default (Bun 120 s pings, Deno 30 s idleTimeout,
// none on Node: Hono's Node helper has no heartbeat).
import { Hono } from "hono";
import { nameOf, ready, runtime } from "./control.mjs";

const { upgradeWebSocket, websocket } = runtime === "bun"
  ? await import("hono/bun")
  : runtime === "deno"
  ? await import("hono/deno")
  : await import("@hono/node-server");

// Keyed by the runtime socket: on Bun Hono builds a new context object for every event.
const fanout = new Map();

const app = new Hono();
app.get(
  "/fanout",
  upgradeWebSocket((c) => {
    const name = nameOf(c.req.url);
    return {
      onOpen(_event, ws) {
        fanout.set(ws.raw, ws);
      },
      onMessage(event, ws) {
        const out = `${name}: ${event.data}`;
        for (const client of fanout.values()) client.send(out);
      },
      onClose(_event, ws) {
        fanout.delete(ws.raw);
      },
    };
  }),
);
app.get(
  "/echo",
  upgradeWebSocket(() => ({
    onMessage(event, ws) {
      ws.send(event.data);
    },
  })),
);

if (runtime === "bun") {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, websocket });
  ready(server.port);
} else if (runtime === "deno") {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  ready(server.addr.port);
} else {
  const { serve } = await import("@hono/node-server");
  const { WebSocketServer } = await import("ws");
  serve(
    { fetch: app.fetch, port: 0, hostname: "127.0.0.1", websocket: { server: new WebSocketServer({ noServer: true, perMessageDeflate: false }) } },
    (info) => ready(info.port),
  );
}
