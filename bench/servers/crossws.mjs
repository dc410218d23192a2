// crossws 0.4 with its adapter for the runtime this runs on (crossws/adapters/bun|deno|node),
// written the way crossws's chat example is: subscribe on open, then peer.send + peer.publish.
// crossws defaults otherwise: idleTimeout 30 s (Bun's pings on Bun, crossws's own ping sweep on
// Node, Deno's idleTimeout on Deno); on Bun peer.publish is Bun's native publish.
import { createServer } from "node:http";
import { isFanout, nameOf, ready, runtime } from "./control.mjs";

const hooks = {
  upgrade(request) {
    const fanout = isFanout(request.url);
    return { context: { fanout, name: fanout ? nameOf(request.url) : "" } };
  },
  open(peer) {
    if (peer.context.fanout) peer.subscribe("room");
  },
  message(peer, message) {
    const text = message.text();
    if (!peer.context.fanout) {
      peer.send(text);
      return;
    }
    const out = `${peer.context.name}: ${text}`;
    peer.send(out);
    peer.publish("room", out);
  },
};

if (runtime === "bun") {
  const { default: crossws } = await import("crossws/adapters/bun");
  const ws = crossws({ hooks });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    websocket: ws.websocket,
    fetch: (request, srv) => ws.handleUpgrade(request, srv),
  });
  ready(server.port);
} else if (runtime === "deno") {
  const { default: crossws } = await import("crossws/adapters/deno");
  const ws = crossws({ hooks });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request, info) => ws.handleUpgrade(request, info));
  ready(server.addr.port);
} else {
  const { default: crossws } = await import("crossws/adapters/node");
  const ws = crossws({ hooks, serverOptions: { perMessageDeflate: false } });
  const http = createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  http.on("upgrade", (req, socket, head) => {
    socket.on("error", () => socket.destroy());
    ws.handleUpgrade(req, socket, head);
  });
  http.listen(0, "127.0.0.1", () => ready(http.address().port));
}
