// switchboard for the scale-out bench, through its public API: one controller named "bench",
// served by `serve()` (Bun.serve on Bun, node:http + ws on Node), every connection in the room
// "bench". Modes (--mode=):
//   local        no engine: one process, the reference
//   unrecorded   RedisEngine; broadcastText(text, { room })                local sockets + PUBLISH
//   recorded     RedisEngine; broadcastText(text, { room, record: true })  one Lua call: XADD + PUBLISH,
//                delivered to every process (this one too) from the channel, in id order
// A message's hook does not await the recorded broadcast (one publisher connection per server sends
// hundreds a second; awaiting each would serialise them on its round trip to Redis): failures are counted.
import { Redis } from "ioredis";
import { type Connection, serve, WebSocketController } from "../../../mod.ts";
import { RedisEngine } from "../../../src/redis/mod.ts";
import { arg, ready, redisReady, ROOM } from "./common.mjs";

const mode = arg("mode", "local");
const redisPort = Number(arg("redis-port", "0"));
if (!["local", "unrecorded", "recorded"].includes(mode)) throw new Error(`unknown --mode=${mode}`);

let client: Redis | undefined;
let engine: RedisEngine | undefined;
if (mode !== "local") {
  client = new Redis({ host: "127.0.0.1", port: redisPort, maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  engine = new RedisEngine({ client });
  await redisReady(client);
  const started = Date.now();
  while (engine.state !== "up" && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
  if (engine.state !== "up") throw new Error("the engine is not up after 10 s");
}

let received = 0;
let failed = 0;
let firstError = "";
const record = mode === "recorded";

class Bench extends WebSocketController {
  override onConnect(conn: Connection): void {
    conn.join(ROOM);
  }

  override onTextMessage(_conn: Connection, text: string): void {
    received++;
    if (!record) {
      this.broadcastText(text, { room: ROOM });
      return;
    }
    this.broadcastText(text, { room: ROOM, record: true }).catch((error: unknown) => {
      failed++;
      firstError ||= String((error as Error)?.message ?? error);
    });
  }
}

const bench = new Bench({ name: "bench", engine });
const server = await serve({ port: 0, hostname: "127.0.0.1", routes: { "/room": bench } });
ready(server.port, async () => {
  const stats = await bench.stats();
  return { mode, received, failed, firstError, connections: stats.connections, engine: stats.engine ?? null, closesByCode: stats.closesByCode };
});
