// Raw Node baseline: node:http + ws (noServer, no compression), broadcast with a JS loop.
// ws has no heartbeat of its own, so this runs the one from ws's README (isAlive + ping every
// 30 s + terminate): the comparisons are "heartbeat on" for every variant.
import { createServer } from "node:http";
import { WebSocketServer } from "ws";
import { isFanout, nameOf, ready } from "./control.mjs";

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const fanout = new Set();

function heartbeat() {
  this.isAlive = true;
}

const http = createServer((_req, res) => {
  res.writeHead(426);
  res.end();
});

http.on("upgrade", (req, socket, head) => {
  socket.on("error", () => socket.destroy());
  const broadcast = isFanout(req.url);
  const name = broadcast ? nameOf(req.url) : "";
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.isAlive = true;
    ws.on("pong", heartbeat);
    ws.on("error", () => {});
    if (broadcast) {
      fanout.add(ws);
      ws.on("message", (data) => {
        const out = `${name}: ${data}`;
        for (const client of fanout) client.send(out);
      });
      ws.on("close", () => fanout.delete(ws));
    } else {
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
  });
});

setInterval(() => {
  for (const ws of wss.clients) {
    if (ws.isAlive === false) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, 30_000).unref();

http.listen(0, "127.0.0.1", () => ready(http.address().port));
