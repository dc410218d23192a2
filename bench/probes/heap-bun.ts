// A JSC heap snapshot of idle connections on Bun, for FINDINGS.md ("Idle memory on Bun").
//
//   bun bench/probes/heap-bun.ts
//
// Opens 50 clients, then 2,000 more (in a separate Node process), and prints the growth per
// connection by JSC class name, from `Bun.generateHeapSnapshot()`.
import { type Connection, serve, WebSocketController } from "../../mod.ts";

const N = 2000;
class Echo extends WebSocketController {
  override onTextMessage(conn: Connection<undefined>, text: string): void {
    conn.sendText(text);
  }
}
const server = await serve({ port: 0, hostname: "127.0.0.1", routes: { "/echo": new Echo() } });

async function openClients(n: number): Promise<void> {
  const child = Bun.spawn(["node", new URL("clients.mjs", import.meta.url).pathname, String(server.port), String(n)], { stdout: "pipe" });
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("OPEN")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("clients exited early");
    seen += new TextDecoder().decode(value);
  }
}

/** Bytes and object counts per JSC class name. */
function byClass(): Map<string, [number, number]> {
  Bun.gc(true);
  // deno-lint-ignore no-explicit-any
  const snap: any = Bun.generateHeapSnapshot();
  const width = 4; // id, size, class name index, flags
  const totals = new Map<string, [number, number]>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const name = snap.nodeClassNames[snap.nodes[i + 2]];
    const entry = totals.get(name) ?? [0, 0];
    entry[0]++;
    entry[1] += snap.nodes[i + 1];
    totals.set(name, entry);
  }
  return totals;
}

await openClients(50);
await Bun.sleep(500);
const before = byClass();
await openClients(N);
await Bun.sleep(1000);
const after = byClass();
const rows = [...after].map(([name, [count, bytes]]) => {
  const [count0, bytes0] = before.get(name) ?? [0, 0];
  return { name, objects: (count - count0) / N, bytes: (bytes - bytes0) / N };
}).sort((a, b) => b.bytes - a.bytes);
for (const r of rows.slice(0, 12)) console.log(`${r.bytes.toFixed(0).padStart(6)} B ${r.objects.toFixed(2).padStart(6)} objects  ${r.name}`);
console.log(`total ${rows.reduce((sum, r) => sum + r.bytes, 0).toFixed(0)} B per connection`);
process.exit(0);
