// The server of the idle-heap probe: an echo endpoint at /echo, through switchboard's serve() when
// given its exports, or the runtime's own WebSocket server when given null. compare.mjs runs it
// through an entry file that trees.mjs writes; it is not run on its own.
//
//   stdout "READY <port>"                       once listening on 127.0.0.1
//   stdin  "gc"   -> "HEAP heapUsed=<n> heapTotal=<n> external=<n>" after a forced full GC
//   stdin  "exit", or EOF                       exit
import process from "node:process";
import { createRequire } from "node:module";
import { onRunnerLines } from "../../lib/stdin.mjs";

// deno-lint-ignore no-explicit-any
type Any = any;
const G: Any = globalThis;
const runtime: "bun" | "deno" | "node" = "Bun" in G ? "bun" : "Deno" in G ? "deno" : "node";

/** A full GC: Bun.gc(true), or gc() twice (the first pass may only queue finalizers that free more). */
function collect(): void {
  if (runtime === "bun") {
    G.Bun.gc(true);
    return;
  }
  if (typeof G.gc !== "function") throw new Error("run with --expose-gc (Node) or --v8-flags=--expose-gc (Deno)");
  G.gc();
  G.gc();
}

/** Listens on 127.0.0.1 with an OS-chosen port; returns the port. */
async function listen(lib: Any): Promise<number> {
  if (lib) {
    class Echo extends lib.WebSocketController {
      override onTextMessage(conn: Any, text: string): void {
        conn.sendText(text);
      }
    }
    return (await lib.serve({ port: 0, hostname: "127.0.0.1", routes: { "/echo": new Echo() } })).port;
  }
  // Raw servers keep a reference to each socket as an app would (Bun's server holds them itself).
  const kept = new Set<unknown>();
  if (runtime === "bun") {
    return G.Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req: Request, srv: Any) => (srv.upgrade(req) ? undefined : new Response("Upgrade Required", { status: 426 })),
      websocket: { perMessageDeflate: false, message: (ws: Any, message: unknown) => ws.send(message) },
    }).port;
  }
  if (runtime === "deno") {
    return G.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req: Request) => {
      const { socket, response } = G.Deno.upgradeWebSocket(req);
      socket.onmessage = (event: MessageEvent) => socket.send(event.data);
      kept.add(socket);
      socket.onclose = () => kept.delete(socket);
      return response;
    }).addr.port;
  }
  const http = await import("node:http");
  // Resolved from the bundle's location (.tmp/probes/idle-heap/ in the repository).
  const { WebSocketServer } = createRequire(import.meta.url)("ws");
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws: Any) => {
      kept.add(ws);
      ws.on("message", (data: unknown, isBinary: boolean) => ws.send(data, { binary: isBinary }));
      ws.on("close", () => kept.delete(ws));
    }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

export async function main(lib: unknown): Promise<void> {
  const port = await listen(lib);
  process.stdout.write(`READY ${port}\n`);
  onRunnerLines((line: string) => {
    if (line !== "gc") return;
    collect();
    const { heapUsed, heapTotal, external } = process.memoryUsage();
    process.stdout.write(`HEAP heapUsed=${heapUsed} heapTotal=${heapTotal} external=${external}\n`);
  });
}
