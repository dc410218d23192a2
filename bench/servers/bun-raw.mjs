// Raw Bun baseline: Bun.serve's own WebSocket server, no library.
//   --fanout=native  broadcast with Bun's native publish (ws.publishText + publishToSelf), as Bun's own chat bench
//   --fanout=loop    broadcast with a JS loop calling sendText on each client
// Bun's defaults otherwise: idleTimeout 120 s with sendPings (its heartbeat), backpressureLimit 16 MiB.
import { arg, isFanout, nameOf, ready } from "./control.mjs";

const native = arg("fanout", "native") === "native";
const clients = new Set();

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, srv) {
    const fanout = isFanout(req.url);
    if (srv.upgrade(req, { data: { fanout, name: fanout ? nameOf(req.url) : "" } })) return undefined;
    return new Response("Upgrade Required", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    publishToSelf: true,
    open(ws) {
      if (!ws.data.fanout) return;
      if (native) ws.subscribe("room");
      else clients.add(ws);
    },
    message(ws, message) {
      if (!ws.data.fanout) {
        ws.send(message);
        return;
      }
      const out = `${ws.data.name}: ${message}`;
      if (native) ws.publishText("room", out);
      else for (const client of clients) client.sendText(out);
    },
    close(ws) {
      clients.delete(ws);
    },
  },
});

ready(server.port);
