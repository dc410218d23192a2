// socket.io 4.8 for the scale-out bench: websocket transport only, no compression, every socket in
// the room "bench", and each "m" event re-emitted to the room with io.to("bench").emit("m", text).
// Adapters (--adapter=):
//   local     socket.io's in-memory adapter: one process, the reference
//   redis     @socket.io/redis-adapter (PUBLISH / PSUBSCRIBE, ioredis pub and sub clients)
//   streams   @socket.io/redis-streams-adapter (XADD to one stream, each process XREADs it)
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { arg, ready, redisReady, ROOM } from "./common.mjs";

const adapterName = arg("adapter", "local");
const redisPort = Number(arg("redis-port", "0"));

let adapter;
if (adapterName !== "local") {
  const pub = new Redis({ host: "127.0.0.1", port: redisPort, maxRetriesPerRequest: 1 });
  pub.on("error", () => {});
  await redisReady(pub);
  if (adapterName === "redis") {
    const { createAdapter } = await import("@socket.io/redis-adapter");
    const sub = pub.duplicate();
    sub.on("error", () => {});
    await redisReady(sub);
    adapter = createAdapter(pub, sub);
  } else if (adapterName === "streams") {
    const { createAdapter } = await import("@socket.io/redis-streams-adapter");
    adapter = createAdapter(pub);
  } else {
    throw new Error(`unknown --adapter=${adapterName}`);
  }
}

const http = createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
const io = new Server(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false, ...(adapter ? { adapter } : {}) });

let received = 0;
io.on("connection", (socket) => {
  socket.join(ROOM);
  socket.on("m", (text) => {
    received++;
    io.to(ROOM).emit("m", text);
  });
});

http.listen(0, "127.0.0.1", () => ready(http.address().port, () => ({ adapter: adapterName, received })));
