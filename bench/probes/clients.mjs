// Opens N idle WebSocket clients to 127.0.0.1:<port>/echo and prints OPEN when all are open (exits after 60 s).
// Usage: node bench/probes/clients.mjs <port> <n>
import WebSocket from "ws";
const [port, n] = process.argv.slice(2).map(Number);
let open = 0; const all = [];
for (let i = 0; i < n; i++) { const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`); ws.on("open", () => { if (++open === n) console.log("OPEN"); }); ws.on("error", () => {}); all.push(ws); }
setTimeout(() => process.exit(0), 60000);
