// socket.io 4.8 on Node (engine.io with ws underneath), websocket transport only, no compression.
// Fan-out is a "chat" event re-emitted to everyone with io.emit; echo is an "echo" event sent back.
// socket.io's own heartbeat is on (pingInterval 25 s). The load generator speaks raw Engine.IO v4
// framing ("0" open, "40" connect, "42[...]" events, "2"/"3" ping/pong), so it is as lean as for
// the others; figures are reported separately because each message carries socket.io framing.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { ready } from "./control.mjs";

const http = createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
const io = new Server(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false });

io.on("connection", (socket) => {
  const name = String(socket.handshake.query.name ?? "anon");
  socket.on("chat", (text) => io.emit("chat", `${name}: ${text}`));
  socket.on("echo", (text) => socket.emit("echo", text));
});

http.listen(0, "127.0.0.1", () => ready(http.address().port));
