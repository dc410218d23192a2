// Raw Deno baseline: Deno.serve + Deno.upgradeWebSocket, broadcast with a JS loop.
// Deno's default idleTimeout (30 s: a ping after 15 s idle) is its heartbeat.
import { isFanout, nameOf, ready } from "./control.mjs";

const clients = new Set();

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
  if (req.headers.get("upgrade") !== "websocket") return new Response("Upgrade Required", { status: 426 });
  const { socket, response } = Deno.upgradeWebSocket(req);
  if (isFanout(req.url)) {
    const name = nameOf(req.url);
    socket.onopen = () => clients.add(socket);
    socket.onmessage = (event) => {
      const out = `${name}: ${event.data}`;
      for (const client of clients) client.send(out);
    };
    socket.onclose = () => clients.delete(socket);
  } else {
    socket.onmessage = (event) => socket.send(event.data);
  }
  return response;
});

ready(server.addr.port);
