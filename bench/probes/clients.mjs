// Opens N idle WebSocket clients to ws://127.0.0.1:<port>/echo, prints OPEN once all are open,
// and exits after 60 s (the probes take their snapshots well within that).
//
//   node bench/probes/clients.mjs <port> <n>
import process from "node:process";
import WebSocket from "ws";

const [port, count] = process.argv.slice(2).map(Number);
const clients = [];
let open = 0;
for (let i = 0; i < count; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  ws.on("open", () => {
    if (++open === count) console.log("OPEN");
  });
  ws.on("error", () => {});
  clients.push(ws);
}
setTimeout(() => process.exit(0), 60_000);
