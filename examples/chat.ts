/**
 * The chat example: rooms, a user list, typing indicators, history and
 * catch-up after a reconnect, served to a web page by one controller. The
 * same file runs on Bun, Deno and Node:
 *
 * ```sh
 * npm run chat                                    # Node, through tsx
 * bun run examples/chat.ts
 * deno run -A examples/chat.ts                    # or --allow-net --allow-read --allow-env
 * ```
 *
 * Then open http://127.0.0.1:8080/ (or `/?room=games`). `PORT` or `--port N`
 * and `HOST` say where to listen. With `REDIS_URL` (such as
 * `redis://127.0.0.1:6379`) it shares everything with every other chat
 * process on that Redis: run two on two ports and they are one chat. The
 * protocol is described in the README; the parts are in `examples/chat/`.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { Hono } from "hono";
import { currentRuntime, type Dedupe, type Engine, serve, type Server } from "../mod.ts";
import { RedisDedupe, RedisEngine } from "../src/redis/mod.ts";
import { ChatController } from "./chat/controller.ts";
import type { LobbyController } from "./chat/lobby.ts";
import type { ChatOptions } from "./chat/protocol.ts";

export { ChatController } from "./chat/controller.ts";
export { LobbyController, type RoomDirectory, type RoomsUpdate } from "./chat/lobby.ts";
export { chatProtocol } from "./chat/protocol.ts";
export type { ChatErrorCode, ChatMessage, ChatMessageKind, ChatOptions, ChatProtocol, ChatStats, RateLimit, RateLimits, RoomOccupancy, RoomUser, Welcome, WelcomeFields } from "./chat/protocol.ts";

// --- HTTP ------------------------------------------------------------------------

/**
 * Where the page gets `switchboard/client`: the browser bundle committed in the repo, one ES
 * module without imports, so that the chat runs from a checkout on every runtime with no build.
 */
export const CLIENT_SCRIPT_PATH = "/switchboard-client.js";
const CLIENT_SCRIPT_FILE = new URL("../src/client/browser/switchboard-client.js", import.meta.url);

/** The plain HTTP side: the page, the client it imports, `/health` and `/chat/stats`. */
export function createApp(chat: ChatController, page: string, clientScript: string): Hono {
  const startedAt = Date.now();
  const app = new Hono();
  app.get("/", (c) => c.html(page));
  app.get("/chat/page", (c) => c.html(page));
  app.get(CLIENT_SCRIPT_PATH, (c) => {
    // no-cache: revalidated on each load, so a page never runs with a client older than the server's.
    c.header("Cache-Control", "no-cache");
    return c.body(clientScript, 200, { "Content-Type": "text/javascript; charset=utf-8" });
  });
  app.get("/health", (c) => c.json({ status: "ok", uptime: Math.floor((Date.now() - startedAt) / 1000) }));
  app.get("/chat/stats", async (c) => {
    try {
      return c.json(await chat.chatStats());
    } catch (error) {
      // With an engine, while Redis is unreachable: the shared numbers cannot be read.
      console.error(`chat: /chat/stats failed: ${error instanceof Error ? error.message : String(error)}`);
      return c.json({ error: "Cannot read the stats now: retry" }, 503);
    }
  });
  return app;
}

/** Options of {@linkcode startChat}. */
export interface StartChatOptions extends ChatOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default "127.0.0.1". */
  hostname?: string;
}

/** A running chat. */
export interface RunningChat {
  server: Server;
  chat: ChatController;
  lobby: LobbyController;
}

/** Starts the chat server with the adapter of the runtime this runs on. */
export async function startChat(options: StartChatOptions = {}): Promise<RunningChat> {
  const [page, clientScript] = await Promise.all([
    readFile(new URL("./chat/index.html", import.meta.url), "utf8"),
    readFile(CLIENT_SCRIPT_FILE, "utf8"),
  ]);
  const chat = new ChatController(options);
  const server = await serve({
    port: options.port ?? 8080,
    hostname: options.hostname ?? "127.0.0.1",
    routes: {
      "/chat": chat,
      "/chat/:room": chat,
      // Any other path under /chat/ reaches onUpgrade too, to be refused with 400 rather than 404.
      "/chat/*": chat,
      "/lobby": chat.lobby,
    },
    fetch: createApp(chat, page, clientScript).fetch,
  });
  return { server, chat, lobby: chat.lobby };
}

// --- Running it ------------------------------------------------------------------------

/** Where to listen: `--port N` (or `--port=N`), else `PORT`, else 8080; `HOST`, else 127.0.0.1. */
export function listenConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { port: number; hostname: string } {
  const hostname = env.HOST || "127.0.0.1";
  const flag = args.findIndex((arg) => arg === "--port" || arg.startsWith("--port="));
  const port = flag < 0
    ? env.PORT || undefined
    : args[flag] === "--port"
    ? args[flag + 1] ?? ""
    : args[flag]!.slice("--port=".length);
  if (port === undefined) return { port: 8080, hostname };
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new RangeError(`Cannot start chat as the port must be a number from 0 to 65535: current value is '${port}'`);
  }
  return { port: Number(port), hostname };
}

/** How long the program waits for Redis at start before giving up. */
const REDIS_START_TIMEOUT_MS = 10_000;

/** A Redis engine on `url`, once its connections are up; its outages are logged to stderr. */
async function connectRedis(url: string): Promise<{ engine: Engine; dedupe: Dedupe; close(): Promise<void> }> {
  // Loaded only here, so that the chat runs without ioredis when REDIS_URL is not set.
  const { Redis } = await import("ioredis");
  // A command fails after one reconnect attempt rather than twenty (ioredis's default, over a minute):
  // the engine bounds its history calls itself, but presence calls wait for the client's answer.
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  let lastError = "";
  client.on("error", (error: Error) => void (lastError = error.message)); // the "degraded" event below says it once
  const engine = new RedisEngine({ client });
  const close = async (): Promise<void> => {
    await engine.close();
    client.disconnect();
  };
  if (engine.state !== "up") {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const up = await new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), REDIS_START_TIMEOUT_MS);
      engine.addEventListener("up", () => resolve(true), { once: true });
    });
    clearTimeout(timer);
    if (!up) {
      await close();
      throw new Error(`cannot reach Redis at REDIS_URL within ${REDIS_START_TIMEOUT_MS / 1000} s${lastError ? ` (${lastError})` : ""}`);
    }
  }
  engine.addEventListener("degraded", () => console.error(`chat: Redis is unreachable${lastError ? ` (${lastError})` : ""}; retrying`));
  engine.addEventListener("up", () => console.error("chat: Redis is back"));
  // Acknowledged messages re-sent after a reconnect to another process are recorded once too.
  return { engine, dedupe: new RedisDedupe({ client, prefix: "chat:sent:" }), close };
}

/** Deno without the permissions: the user refused them, or there was no terminal to ask on. */
function isPermissionError(error: unknown): boolean {
  return error instanceof Error && (error.name === "NotCapable" || error.name === "PermissionDenied");
}

async function main(): Promise<void> {
  let running: RunningChat;
  let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
  try {
    const listen = listenConfig(process.argv.slice(2), process.env);
    const url = process.env.REDIS_URL;
    if (url) redis = await connectRedis(url);
    running = await startChat({ ...listen, engine: redis?.engine, dedupe: redis?.dedupe });
  } catch (error) {
    if (isPermissionError(error)) {
      console.error("chat: Deno needs network, read and env permissions: deno run --allow-net --allow-read --allow-env examples/chat.ts (or -A)");
    } else {
      console.error(`chat: ${error instanceof Error ? error.message : String(error)}`);
    }
    await redis?.close();
    process.exit(1);
  }
  const { server } = running;
  // Not the URL itself: it may hold a password.
  console.log(`Chat (${currentRuntime()}${redis ? ", shared through Redis" : ""}) on ${server.url}/`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    // Closes every client with 1001 before exiting, so their pages reconnect to the next server.
    process.once(signal, () => void server.stop().then(() => redis?.close()).finally(() => process.exit(0)));
  }
}

/** Whether this file is the program being run, not a module a test imported. */
function isMainModule(): boolean {
  const main = (import.meta as ImportMeta & { main?: boolean }).main;
  if (typeof main === "boolean") return main; // Bun and Deno
  const script = process.argv[1]; // Node, through tsx
  return script !== undefined && import.meta.url === pathToFileURL(script).href;
}

if (isMainModule()) await main();
