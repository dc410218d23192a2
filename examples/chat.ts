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
 * and `HOST` say where to listen. The protocol is described in the README.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { Hono } from "hono";
import {
  type CatchUp,
  CloseCode,
  type Connection,
  currentRuntime,
  type History,
  parsePosition,
  type Position,
  serve,
  type Server,
  type UpgradeRequest,
  type UpgradeResult,
  WebSocketController,
} from "../mod.ts";

// --- The rules of the chat ---------------------------------------------------

/** The room of `/chat`. */
const DEFAULT_ROOM = "general";
/** Room names: 1 to 32 of a-z, 0-9, "-" and "_". */
const ROOM_NAME = /^[a-z0-9_-]{1,32}$/;
/** Usernames: 1 to 32 letters, digits, spaces, "_", "-" and ".". */
const USERNAME = /^[\p{L}\p{Nd} _.\-]{1,32}$/u;
/** Characters (code points) in one chat message, after trimming. */
const MAX_TEXT_LENGTH = 2000;
/** Messages a new connection gets in `welcome.history`, and messages kept per room. */
const HISTORY_SIZE = 100;
/** Largest WebSocket message accepted; the library closes bigger ones with 1009. */
const MAX_MESSAGE_BYTES = 10 * 1024;

/** Chat messages one connection may send in any window of `windowMs`. */
const DEFAULT_RATE_LIMIT: RateLimit = { messages: 20, windowMs: 10_000 };

// --- The protocol ------------------------------------------------------------

/** A chat message as the server sends it, in `message` and in `welcome.history`. */
export interface ChatMessage {
  type: "message";
  /** The room's history id; ids increase by one within an epoch. */
  id: number;
  /**
   * The history's run of ids the message belongs to. A reconnecting client
   * sends the last id and epoch it saw as `?since=<id>&epoch=<epoch>`.
   */
  epoch: string;
  connectionId: string;
  username: string;
  text: string;
  room: string;
  timestamp: string;
}

/** The `code` of an `error` reply. The connection stays open and nothing else changes. */
export type ChatErrorCode =
  | "invalid_json"
  | "unknown_type"
  | "empty_text"
  | "text_too_long"
  | "rate_limited"
  | "invalid_username"
  | "username_taken"
  | "binary_not_supported";

/** How many chat messages one connection may send: `messages` in any `windowMs` (sliding). */
export interface RateLimit {
  messages: number;
  windowMs: number;
}

/** Options of {@linkcode ChatController}. */
export interface ChatOptions {
  /** Default: 20 messages in any 10 s. */
  rateLimit?: RateLimit;
  /** Where messages are kept: by default in memory, the newest 100 per room. */
  history?: History;
}

/** Who is in one room, as the lobby reports it. */
export interface RoomOccupancy {
  users: number;
  usernames: string[];
}

/** The answer of `GET /chat/stats`. */
export interface ChatStats {
  /** Open chat connections (lobby watchers are not counted). */
  activeConnections: number;
  messagesInHistory: number;
  rooms: Record<string, { users: number; messagesInHistory: number }>;
  timestamp: string;
}

/** What the chat keeps for each connection. */
interface ChatUser {
  room: string;
  username: string;
  /** The `?since=<id>&epoch=<epoch>` of the upgrade: the last message the client saw. */
  since: Position | number | undefined;
  /** When this connection's recent chat messages were accepted, oldest first, for the rate limit. */
  sentAt: number[];
  /** Whether the room was told this user joined, so that leaving is announced only then. */
  announced: boolean;
}

// --- The chat ----------------------------------------------------------------

/**
 * `/chat` and `/chat/<room>`: one controller for every room. It owns the
 * `/lobby` controller, which it tells about every join, leave and rename.
 */
export class ChatController extends WebSocketController<ChatUser> {
  /** The `/lobby` endpoint: who is in which room. */
  readonly lobby: LobbyController = new LobbyController(this);
  readonly #rateLimit: RateLimit;
  /**
   * The users of each room as the chat announced them: from their welcome to
   * their `user_left`. The library's own room membership starts a moment
   * after the welcome (once the catch-up has been delivered), so the user
   * list, the names taken and the lobby are kept here instead.
   */
  readonly #members = new Map<string, Set<Connection<ChatUser>>>();

  constructor(options: ChatOptions = {}) {
    super({ maxMessageSize: MAX_MESSAGE_BYTES, historySize: HISTORY_SIZE, history: options.history });
    this.#rateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  }

  // --- Hooks ---------------------------------------------------------------

  override onUpgrade(request: UpgradeRequest): UpgradeResult<ChatUser> {
    const room = roomOf(request);
    if (room === undefined || !ROOM_NAME.test(room)) {
      return new Response("Cannot join room as its name must be 1 to 32 of a-z, 0-9, '-' and '_'\n", { status: 400 });
    }
    // A bare ?since=<id> (an older page) means the room's current epoch.
    const since = parsePosition(request.query.get("since"), request.query.get("epoch"));
    return { userData: { room, username: "", since, sentAt: [], announced: false } };
  }

  override async onConnect(conn: Connection<ChatUser>): Promise<void> {
    const { room, since } = conn.userData;
    let catchUp: CatchUp;
    try {
      // One step: every recorded message of the room is either in the catch-up or delivered
      // live after this hook, never both, never neither, even with a slow History.
      catchUp = await conn.join(room, { since, limit: HISTORY_SIZE });
    } catch (error) {
      // Without a welcome the page would wait forever; closed, it reconnects with backoff.
      conn.close(CloseCode.InternalError, "History unavailable");
      throw error; // on to onError, which logs it
    }
    if (conn.readyState !== 1) return; // it left while the history was read
    this.#enter(conn, catchUp);
  }

  override async onTextMessage(conn: Connection<ChatUser>, text: string): Promise<void> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.#reject(conn, "invalid_json", "Cannot read message as it is not valid JSON");
    }
    const fields = isObject(message) ? message : {};
    switch (fields.type) {
      case "chat":
        return await this.#chat(conn, fields.text);
      case "username":
        return this.#rename(conn, fields.username);
      case "typing":
        return this.#typing(conn);
      default:
        return this.#reject(conn, "unknown_type", "Cannot handle message as its 'type' is not chat, username or typing");
    }
  }

  override onBinaryMessage(conn: Connection<ChatUser>): void {
    this.#reject(conn, "binary_not_supported", "Cannot handle message as it is binary: send JSON text");
  }

  override onDisconnect(conn: Connection<ChatUser>): void {
    const { room, username, announced } = conn.userData;
    if (!announced) return;
    const userCount = this.#removeMember(room, conn);
    this.broadcastJson({ type: "user_left", connectionId: conn.id, username, userCount, timestamp: now() }, { room });
    this.lobby.announce();
  }

  // --- Joining -------------------------------------------------------------

  /** Names the connection, welcomes it with its catch-up and tells the others. */
  #enter(conn: Connection<ChatUser>, { complete, entries, position }: CatchUp): void {
    const user = conn.userData;
    user.username = this.#guestName(user.room);
    const userCount = this.#addMember(user.room, conn);
    user.announced = true;
    conn.sendJson({
      type: "welcome",
      connectionId: conn.id,
      username: user.username,
      room: user.room,
      userCount,
      users: this.#users(user.room),
      timestamp: now(),
      history: entries.map((entry) => JSON.parse(entry.data as string) as ChatMessage),
      // false: `history` is the room's latest, not what followed `since` (none given, another
      // epoch, or a gap): the page then replaces what it shows rather than adding to it.
      resumed: complete,
      epoch: position.epoch,
    });
    this.broadcastJson(
      { type: "user_joined", connectionId: conn.id, username: user.username, userCount, timestamp: now() },
      { room: user.room, except: conn },
    );
    this.lobby.announce();
  }

  /** `Guest-` and 4 random characters, free in the room. */
  #guestName(room: string): string {
    for (;;) {
      const name = `Guest-${randomCode(4)}`;
      if (!this.#isTaken(room, name)) return name;
    }
  }

  // --- Client messages -------------------------------------------------------

  /** `{"type":"chat","text"}`: checked, rate limited, then recorded and sent to the whole room. */
  async #chat(conn: Connection<ChatUser>, value: unknown): Promise<void> {
    const text = typeof value === "string" ? value.trim() : "";
    const length = [...text].length; // characters, not UTF-16 units
    if (length === 0) {
      return this.#reject(conn, "empty_text", "Cannot send message as 'text' is empty");
    }
    if (length > MAX_TEXT_LENGTH) {
      return this.#reject(conn, "text_too_long", `Cannot send message as 'text' must be at most ${MAX_TEXT_LENGTH} characters: current length is ${length}`);
    }
    if (!this.#withinRateLimit(conn.userData)) {
      const { messages, windowMs } = this.#rateLimit;
      return this.#reject(conn, "rate_limited", `Cannot send message as the limit is ${messages} messages in ${windowMs / 1000} s: wait a little`);
    }
    await this.#record(conn, text);
  }

  /**
   * Records the message in its room's history, then sends it to the room,
   * sender included; the library keeps recorded messages of a room in order.
   * The message is built from the position the history gives it, so that it
   * carries its own id and epoch.
   */
  async #record(conn: Connection<ChatUser>, text: string): Promise<void> {
    const { room, username } = conn.userData;
    await this.broadcastJson(
      ({ id, epoch, timestamp }) =>
        ({ type: "message", id, epoch, connectionId: conn.id, username, text, room, timestamp: iso(timestamp) }) satisfies ChatMessage,
      { room, record: true },
    );
  }

  /** `{"type":"username","username"}`: a valid name nobody else in the room has (ignoring case). */
  #rename(conn: Connection<ChatUser>, value: unknown): void {
    const username = typeof value === "string" ? value.trim() : "";
    if (!USERNAME.test(username)) {
      return this.#reject(conn, "invalid_username", "Cannot change username as it must be 1 to 32 letters, digits, spaces, '_', '-' or '.'");
    }
    const user = conn.userData;
    if (username === user.username) return;
    if (this.#isTaken(user.room, username, conn)) {
      return this.#reject(conn, "username_taken", `Cannot change username as '${username}' is taken in this room`);
    }
    const oldUsername = user.username;
    user.username = username;
    this.broadcastJson(
      { type: "username_changed", connectionId: conn.id, oldUsername, username, timestamp: now() },
      { room: user.room },
    );
    this.lobby.announce();
  }

  /** `{"type":"typing"}`: passed on to the others in the room. */
  #typing(conn: Connection<ChatUser>): void {
    const { room, username } = conn.userData;
    this.broadcastJson({ type: "typing", connectionId: conn.id, username }, { room, except: conn });
  }

  /** Sliding window: at most `messages` accepted in any `windowMs`. */
  #withinRateLimit(user: ChatUser): boolean {
    const { messages, windowMs } = this.#rateLimit;
    const timestamp = Date.now();
    const sentAt = user.sentAt;
    while (sentAt.length > 0 && sentAt[0]! <= timestamp - windowMs) sentAt.shift();
    if (sentAt.length >= messages) return false;
    sentAt.push(timestamp);
    return true;
  }

  #reject(conn: Connection<ChatUser>, code: ChatErrorCode, message: string): void {
    conn.sendJson({ type: "error", code, message });
  }

  // --- Rooms -----------------------------------------------------------------

  /** Adds an announced user to its room; returns the room's new user count. */
  #addMember(room: string, conn: Connection<ChatUser>): number {
    let members = this.#members.get(room);
    if (!members) this.#members.set(room, (members = new Set()));
    members.add(conn);
    return members.size;
  }

  /** Removes a user from its room; returns the room's new user count. */
  #removeMember(room: string, conn: Connection<ChatUser>): number {
    const members = this.#members.get(room);
    if (!members) return 0;
    members.delete(conn);
    if (members.size === 0) this.#members.delete(room);
    return members.size;
  }

  #isTaken(room: string, username: string, except?: Connection<ChatUser>): boolean {
    const wanted = username.toLowerCase();
    for (const member of this.#members.get(room) ?? []) {
      if (member !== except && member.userData.username.toLowerCase() === wanted) return true;
    }
    return false;
  }

  #users(room: string): { connectionId: string; username: string }[] {
    return [...this.#members.get(room) ?? []].map((member) => ({ connectionId: member.id, username: member.userData.username }));
  }

  /** Who is in each room that has someone in it. */
  occupancy(): Record<string, RoomOccupancy> {
    const rooms: Record<string, RoomOccupancy> = {};
    for (const [name, members] of this.#members) {
      rooms[name] = { users: members.size, usernames: [...members].map((member) => member.userData.username) };
    }
    return rooms;
  }

  /** The numbers of `GET /chat/stats`: every room with users or history. */
  async chatStats(): Promise<ChatStats> {
    const rooms: ChatStats["rooms"] = {};
    for (const name of new Set([...this.#members.keys(), ...await this.history.rooms()])) {
      rooms[name] = { users: this.#members.get(name)?.size ?? 0, messagesInHistory: await this.history.count(name) };
    }
    return {
      activeConnections: this.connections.size,
      messagesInHistory: await this.history.count(),
      rooms,
      timestamp: now(),
    };
  }
}

/** `/lobby`: which rooms have whom, sent on connect and after every join, leave and rename. */
export class LobbyController extends WebSocketController {
  readonly #chat: ChatController;

  constructor(chat: ChatController) {
    super({ maxMessageSize: 1024 }); // lobby clients only listen
    this.#chat = chat;
  }

  override onConnect(conn: Connection): void {
    conn.sendJson(this.#roomsUpdate());
  }

  /** Sends the current rooms to every lobby client. */
  announce(): void {
    if (this.connections.size > 0) this.broadcastJson(this.#roomsUpdate());
  }

  #roomsUpdate(): { type: "rooms_update"; rooms: Record<string, RoomOccupancy>; timestamp: string } {
    return { type: "rooms_update", rooms: this.#chat.occupancy(), timestamp: now() };
  }
}

// --- HTTP ------------------------------------------------------------------------

/** The plain HTTP side: the page, `/health` and `/chat/stats`. */
export function createApp(chat: ChatController, page: string): Hono {
  const startedAt = Date.now();
  const app = new Hono();
  app.get("/", (c) => c.html(page));
  app.get("/chat/page", (c) => c.html(page));
  app.get("/health", (c) => c.json({ status: "ok", uptime: Math.floor((Date.now() - startedAt) / 1000) }));
  app.get("/chat/stats", async (c) => c.json(await chat.chatStats()));
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
  const page = await readFile(new URL("./chat/index.html", import.meta.url), "utf8");
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
    fetch: createApp(chat, page).fetch,
  });
  return { server, chat, lobby: chat.lobby };
}

// --- Helpers -------------------------------------------------------------------------

/** `/chat` is the default room; `/chat/<room>` names one; anything else names none. */
function roomOf(request: UpgradeRequest): string | undefined {
  return request.params.room ?? (request.path === "/chat" ? DEFAULT_ROOM : undefined);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const GUEST_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; // no 0/O or 1/I

function randomCode(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (byte) => GUEST_ALPHABET[byte % GUEST_ALPHABET.length]).join("");
}

function iso(milliseconds: number): string {
  return new Date(milliseconds).toISOString();
}

function now(): string {
  return new Date().toISOString();
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

/** Deno without the permissions: the user refused them, or there was no terminal to ask on. */
function isPermissionError(error: unknown): boolean {
  return error instanceof Error && (error.name === "NotCapable" || error.name === "PermissionDenied");
}

async function main(): Promise<void> {
  let running: RunningChat;
  try {
    running = await startChat(listenConfig(process.argv.slice(2), process.env));
  } catch (error) {
    if (isPermissionError(error)) {
      console.error("chat: Deno needs network, read and env permissions: deno run --allow-net --allow-read --allow-env examples/chat.ts (or -A)");
    } else {
      console.error(`chat: ${error instanceof Error ? error.message : String(error)}`);
    }
    process.exit(1);
  }
  const { server } = running;
  console.log(`Chat (${currentRuntime()}) on ${server.url}/`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    // Closes every client with 1001 before exiting, so their pages reconnect to the next server.
    process.once(signal, () => void server.stop().finally(() => process.exit(0)));
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
