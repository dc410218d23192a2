// Switchboard, through its public API only: one controller per endpoint, served by `serve()`,
// which picks the adapter of the runtime this runs on (Bun.serve, Deno.serve, node:http + ws).
// Default options throughout: heartbeat on (pingInterval 30 s), maxBufferedAmount 4 MiB with
// the "close" slow-consumer policy.
import { type Connection, serve, type UpgradeRequest, WebSocketController } from "../../mod.ts";
import { ready } from "./control.mjs";

interface Chatter {
  name: string;
}

/** Chat fan-out: every message goes to every client, the sender included. */
class FanOut extends WebSocketController<Chatter> {
  override onUpgrade(request: UpgradeRequest): { userData: Chatter } {
    return { userData: { name: request.query.get("name") ?? "anon" } };
  }

  override onTextMessage(conn: Connection<Chatter>, text: string): void {
    this.broadcastText(`${conn.userData.name}: ${text}`);
  }
}

/** Echo: every message goes back to its sender. */
class Echo extends WebSocketController {
  override onTextMessage(conn: Connection<undefined>, text: string): void {
    conn.sendText(text);
  }
}

const server = await serve({ port: 0, hostname: "127.0.0.1", routes: { "/fanout": new FanOut(), "/echo": new Echo() } });
ready(server.port);
