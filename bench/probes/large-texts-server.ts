// The echo server of large-texts.mjs, which runs it through an entry file that trees.mjs writes
// (not run on its own). /echo sends every text message back to its sender:
//   switchboard (given its exports): a controller with maxMessageSize 32 MiB, otherwise the
//     defaults, echoing with conn.sendText, served by serve()
//   raw (given null): the runtime's own echo, as bench/servers/{bun,deno}-raw.mjs and node-ws.mjs
//     do it; every limit raised to 32 MiB. With --raw=string on Node, ws's Buffer is decoded and
//     the string sent back (what an app that wants the text as a string pays on raw ws).
// stdout "READY <port>" once listening on 127.0.0.1; stdin "exit" or EOF: exit.
import process from "node:process";
import { createRequire } from "node:module";
import { onRunnerLines } from "../lib/stdin.mjs";

// deno-lint-ignore no-explicit-any
type Any = any;
const G: Any = globalThis;
const runtime: "bun" | "deno" | "node" = "Bun" in G ? "bun" : "Deno" in G ? "deno" : "node";
const MAX = 32 * 1024 * 1024;

async function listen(lib: Any): Promise<number> {
  if (lib) {
    class Echo extends lib.WebSocketController {
      constructor() {
        super({ maxMessageSize: MAX });
      }
      override onTextMessage(conn: Any, text: string): void {
        conn.sendText(text);
      }
    }
    return (await lib.serve({ port: 0, hostname: "127.0.0.1", routes: { "/echo": new Echo() } })).port;
  }
  if (runtime === "bun") {
    return G.Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req: Request, srv: Any) => (srv.upgrade(req) ? undefined : new Response("Upgrade Required", { status: 426 })),
      websocket: {
        perMessageDeflate: false,
        maxPayloadLength: MAX,
        backpressureLimit: MAX,
        message: (ws: Any, message: unknown) => ws.send(message),
      },
    }).port;
  }
  if (runtime === "deno") {
    return G.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req: Request) => {
      const { socket, response } = G.Deno.upgradeWebSocket(req);
      socket.onmessage = (event: MessageEvent) => socket.send(event.data);
      return response;
    }).addr.port;
  }
  const http = await import("node:http");
  // Resolved from the bundle's location (.tmp/probes/large-texts/ in the repository).
  const { WebSocketServer } = createRequire(import.meta.url)("ws");
  const asString = process.argv.includes("--raw=string");
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX });
  const server = http.createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws: Any) => {
      ws.on("error", () => {});
      ws.on("message", (data: Any, isBinary: boolean) => {
        if (asString && !isBinary) ws.send(data.toString("utf8"));
        else ws.send(data, { binary: isBinary });
      });
    }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

export async function main(lib: unknown): Promise<void> {
  const port = await listen(lib);
  process.stdout.write(`READY ${port}\n`);
  onRunnerLines(() => {}); // exit, or the end of stdin, ends the server
}
