// V8 heap snapshots of idle connections on Deno, for FINDINGS.md ("Idle memory on Deno").
//
//   deno run -A --v8-flags=--expose-gc bench/probes/heap-deno.ts switchboard|raw|raw-copy
//   node bench/probes/heap-diff.mjs .tmp/probes/<mode>-0.heapsnapshot .tmp/probes/<mode>-1.heapsnapshot 2000
//
// Opens 50 clients (base snapshot), then 2,000 more (second snapshot); clients run in a separate
// Node process so they are not in this heap. raw-copy is the raw server plus one headers copy.
import v8 from "node:v8";
import { type Connection, serve, WebSocketController } from "../../mod.ts";

const mode = Deno.args[0] ?? "switchboard";
const N = 2000;
const outDir = new URL("../../.tmp/probes/", import.meta.url);
await Deno.mkdir(outDir, { recursive: true });

class Echo extends WebSocketController {
  override onTextMessage(conn: Connection<undefined>, text: string): void {
    conn.sendText(text);
  }
}

let port: number;
if (mode === "switchboard") {
  port = (await serve({ port: 0, hostname: "127.0.0.1", routes: { "/echo": new Echo() } })).port;
} else {
  const kept = new Set<unknown>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const copy: Record<string, string> = {};
    if (mode === "raw-copy") req.headers.forEach((value, name) => (copy[name] = value));
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(e.data);
    if (mode === "raw-copy") kept.add(copy);
    return response;
  });
  port = server.addr.port;
}

async function openClients(n: number): Promise<void> {
  const child = new Deno.Command("node", { args: [new URL("clients.mjs", import.meta.url).pathname, String(port), String(n)], stdout: "piped" }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("OPEN")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("clients exited early");
    seen += value;
  }
}

async function snapshot(name: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000));
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  v8.writeHeapSnapshot(new URL(`${mode}-${name}.heapsnapshot`, outDir).pathname);
}

await openClients(50);
await snapshot("0");
await openClients(N);
await snapshot("1");
console.log(`snapshots in .tmp/probes/: ${mode}-0 and ${mode}-1 (${N} connections apart)`);
Deno.exit(0);
