// Idle WebSocket clients for the idle-heap probe, opened on demand (compare.mjs runs this on CPU 1).
//
//   stdin "open <total>"  open clients to ws://127.0.0.1:<port>/echo until <total> are open (at most
//                         100 handshakes in flight), then print "OPENED <open> closed=<closed so far>"
//   stdin "exit", or EOF  exit; exits on its own after 10 minutes in any case
//
//   node bench/probes/idle-heap/clients.mjs <port>
import process from "node:process";
import WebSocket from "ws";
import { onRunnerLines } from "../../lib/stdin.mjs";

const port = Number(process.argv[2]);
const clients = [];
let closed = 0;

function openOne() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: false });
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
    ws.on("close", () => closed++);
  });
}

async function openTo(total) {
  while (clients.length < total) {
    const batch = Math.min(100, total - clients.length);
    clients.push(...(await Promise.all(Array.from({ length: batch }, openOne))));
  }
}

// One command at a time, in order: each "open" waits for the one before.
let previous = Promise.resolve();
onRunnerLines((line) => {
  if (!line.startsWith("open ")) return;
  previous = previous.then(async () => {
    try {
      await openTo(Number(line.slice(5)));
      process.stdout.write(`OPENED ${clients.length} closed=${closed}\n`);
    } catch (error) {
      process.stdout.write(`FAILED ${error.message}\n`);
    }
  });
});
setTimeout(() => process.exit(2), 600_000).unref();
