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
  type ShutdownOptions,
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

/**
 * What one connection may send of each kind. Every kind is limited because
 * every kind is sent on to the whole room: unlimited renames or typing
 * notices let one client make the server send to every member at its own
 * rate. The page renames once per connection and sends a typing notice at
 * most every 2 s, far below these.
 */
const DEFAULT_LIMITS: Readonly<Record<ChatMessageKind, RateLimit>> = {
  chat: { messages: 20, windowMs: 10_000 },
  username: { messages: 5, windowMs: 10_000 },
  typing: { messages: 10, windowMs: 10_000 },
};
/**
 * What one client address may send of each kind over all its connections,
 * so that reconnecting does not start a fresh budget. Room for about three
 * busy tabs (or people behind one NAT) at once.
 */
const DEFAULT_ADDRESS_LIMITS: Readonly<Record<ChatMessageKind, RateLimit>> = {
  chat: { messages: 60, windowMs: 10_000 },
  username: { messages: 20, windowMs: 10_000 },
  typing: { messages: 30, windowMs: 10_000 },
};
/** Addresses whose budgets are kept at once (about 1 KiB each with the default limits). */
const DEFAULT_MAX_ADDRESSES = 10_000;
/** Milliseconds between two `rooms_update`s to the lobby. */
const DEFAULT_LOBBY_INTERVAL = 1_000;
const MESSAGE_KINDS: readonly ChatMessageKind[] = ["chat", "username", "typing"];

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

/** The kinds of message a client sends (`type`), each with its own rate limits. */
export type ChatMessageKind = "chat" | "username" | "typing";

/** A sliding-window rate limit: at most `messages` accepted in any `windowMs`. */
export interface RateLimit {
  messages: number;
  windowMs: number;
}

/** A {@linkcode RateLimit} per message kind; a kind left out keeps its default. */
export type RateLimits = Partial<Record<ChatMessageKind, RateLimit>>;

/** Options of {@linkcode ChatController}; every field has a default. */
export interface ChatOptions {
  /** Chat messages per connection: the same as `limits.chat`, which wins when both are given. Default 20 in any 10 s. */
  rateLimit?: RateLimit;
  /**
   * Per connection, for each kind. Defaults: `chat` 20, `username` 5 and
   * `typing` 10, each in any 10 s.
   */
  limits?: RateLimits;
  /**
   * Per client address (`conn.remoteAddress`) over all of its connections,
   * for each kind. Defaults: `chat` 60, `username` 20 and `typing` 30, each
   * in any 10 s. Behind a reverse proxy every client has the proxy's address
   * and so shares one budget: raise these there.
   */
  addressLimits?: RateLimits;
  /**
   * Addresses whose budgets are kept at once; past it the one least recently
   * heard from is forgotten (and starts afresh). Default 10 000.
   */
  maxAddresses?: number;
  /** Milliseconds between two `rooms_update`s to the lobby: changes in between go out as one. Default 1 000. */
  lobbyInterval?: number;
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
  /** This connection's own rate limits, one window per kind. */
  windows: Record<ChatMessageKind, SlidingWindow>;
  /** Whether the room was told this user joined, so that leaving is announced only then. */
  announced: boolean;
}

// --- Rate limits -------------------------------------------------------------

/**
 * An exact sliding-window limit. It keeps the times of the last `messages`
 * it accepted, in a ring: one more fits when fewer than `messages` were
 * accepted, or when the oldest of them has left the window. So a check is
 * O(1) and the memory is `messages` numbers.
 */
export class SlidingWindow {
  readonly #messages: number;
  readonly #windowMs: number;
  readonly #times: number[] = [];
  /** Where the oldest time is once the ring is full. */
  #oldest = 0;

  /** An empty window for this limit. */
  constructor({ messages, windowMs }: RateLimit) {
    this.#messages = messages;
    this.#windowMs = windowMs;
  }

  /** Whether one more message would be accepted at `now` (milliseconds). */
  allows(now: number): boolean {
    if (this.#times.length < this.#messages) return true;
    if (this.#messages === 0) return false;
    return this.#times[this.#oldest]! <= now - this.#windowMs;
  }

  /** Counts one accepted message at `now`; call it only after {@linkcode allows} said yes. */
  take(now: number): void {
    if (this.#times.length < this.#messages) {
      this.#times.push(now);
      return;
    }
    this.#times[this.#oldest] = now;
    this.#oldest = (this.#oldest + 1) % this.#messages;
  }
}

/** One sliding window per message kind. */
function newWindows(limits: Readonly<Record<ChatMessageKind, RateLimit>>): Record<ChatMessageKind, SlidingWindow> {
  return { chat: new SlidingWindow(limits.chat), username: new SlidingWindow(limits.username), typing: new SlidingWindow(limits.typing) };
}

/**
 * Rate-limit windows per client address, shared by all of its connections.
 * Bounded in memory: an address not heard from for the longest window is
 * forgotten (its windows are empty by then, so nothing is lost), and past
 * `maxAddresses` the one heard from least recently is forgotten early.
 */
export class AddressBudgets {
  readonly #limits: Readonly<Record<ChatMessageKind, RateLimit>>;
  readonly #maxAddresses: number;
  /** After this long without a message an address's windows are all empty. */
  readonly #idleMs: number;
  /** Windows by address, in the order they were last used: the first is the stalest. */
  readonly #byAddress = new Map<string, { windows: Record<ChatMessageKind, SlidingWindow>; usedAt: number }>();

  /** No address kept yet; each one gets a window per kind of these `limits`. */
  constructor(limits: Readonly<Record<ChatMessageKind, RateLimit>>, maxAddresses: number) {
    this.#limits = limits;
    this.#maxAddresses = maxAddresses;
    this.#idleMs = Math.max(...MESSAGE_KINDS.map((kind) => limits[kind].windowMs));
  }

  /** Addresses kept now. */
  get size(): number {
    return this.#byAddress.size;
  }

  /** The windows of `address` at `now` (milliseconds), new ones if it was not kept. */
  windowsOf(address: string, now: number): Record<ChatMessageKind, SlidingWindow> {
    this.#forgetStale(now);
    let budget = this.#byAddress.get(address);
    if (budget) this.#byAddress.delete(address); // re-inserted below: the Map's order is the order of use
    else budget = { windows: newWindows(this.#limits), usedAt: now };
    budget.usedAt = now;
    this.#byAddress.set(address, budget);
    if (this.#byAddress.size > this.#maxAddresses) this.#byAddress.delete(this.#byAddress.keys().next().value!);
    return budget.windows;
  }

  #forgetStale(now: number): void {
    for (const [address, { usedAt }] of this.#byAddress) {
      if (now - usedAt < this.#idleMs) break; // the rest were used later
      this.#byAddress.delete(address);
    }
  }
}

/** The limits in force: the defaults, replaced kind by kind by those given; a RangeError for a bad one. */
function resolveLimits(
  option: string,
  given: RateLimits | undefined,
  defaults: Readonly<Record<ChatMessageKind, RateLimit>>,
): Record<ChatMessageKind, RateLimit> {
  const limits = { ...defaults };
  for (const kind of MESSAGE_KINDS) {
    const limit = given?.[kind];
    if (limit === undefined) continue;
    const { messages, windowMs } = limit;
    if (!Number.isInteger(messages) || messages < 0 || !(windowMs > 0 && Number.isFinite(windowMs))) {
      throw new RangeError(
        `Cannot create chat as '${option}.${kind}' must have a whole 'messages' of 0 or more and a finite 'windowMs' above 0: current value is ${JSON.stringify(limit)}`,
      );
    }
    limits[kind] = { messages, windowMs };
  }
  return limits;
}

/** A whole or finite number of at least `min`, or its default; a RangeError otherwise. */
function checkedNumber(option: string, value: number | undefined, fallback: number, min: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`Cannot create chat as '${option}' must be a ${integer ? "whole" : "finite"} number of at least ${min}: current value is ${value}`);
  }
  return value;
}

/** What each kind is called in a `rate_limited` error. */
const KIND_WORDS: Readonly<Record<ChatMessageKind, { action: string; noun: string }>> = {
  chat: { action: "send message", noun: "messages" },
  username: { action: "change username", noun: "renames" },
  typing: { action: "send typing", noun: "typing notices" },
};

// --- The chat ----------------------------------------------------------------

/**
 * `/chat` and `/chat/<room>`: one controller for every room. It owns the
 * `/lobby` controller, which it tells about every join, leave and rename.
 */
export class ChatController extends WebSocketController<ChatUser> {
  /** The `/lobby` endpoint: who is in which room. */
  readonly lobby: LobbyController;
  readonly #limits: Readonly<Record<ChatMessageKind, RateLimit>>;
  readonly #addressLimits: Readonly<Record<ChatMessageKind, RateLimit>>;
  readonly #addresses: AddressBudgets;

  /** Creates the chat; see {@linkcode ChatOptions} for the defaults. A RangeError for a bad limit. */
  constructor(options: ChatOptions = {}) {
    super({ maxMessageSize: MAX_MESSAGE_BYTES, historySize: HISTORY_SIZE, history: options.history });
    const perConnection = { ...options.limits, chat: options.limits?.chat ?? options.rateLimit };
    this.#limits = resolveLimits("limits", perConnection, DEFAULT_LIMITS);
    this.#addressLimits = resolveLimits("addressLimits", options.addressLimits, DEFAULT_ADDRESS_LIMITS);
    const maxAddresses = checkedNumber("maxAddresses", options.maxAddresses, DEFAULT_MAX_ADDRESSES, 1, true);
    this.#addresses = new AddressBudgets(this.#addressLimits, maxAddresses);
    const lobbyInterval = checkedNumber("lobbyInterval", options.lobbyInterval, DEFAULT_LOBBY_INTERVAL, 0, false);
    this.lobby = new LobbyController(this, lobbyInterval);
  }

  /** Client addresses whose rate limits are kept now (bounded by `maxAddresses`). */
  get trackedAddresses(): number {
    return this.#addresses.size;
  }

  // --- Hooks ---------------------------------------------------------------

  override onUpgrade(request: UpgradeRequest): UpgradeResult<ChatUser> {
    const room = roomOf(request);
    if (room === undefined || !ROOM_NAME.test(room)) {
      return new Response("Cannot join room as its name must be 1 to 32 of a-z, 0-9, '-' and '_'\n", { status: 400 });
    }
    // A bare ?since=<id> (an older page) means the room's current epoch.
    const since = parsePosition(request.query.get("since"), request.query.get("epoch"));
    return { userData: { room, username: "", since, windows: newWindows(this.#limits), announced: false } };
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
    // The connection has already left the room, so the count is the new one.
    const userCount = this.#members(room).length;
    this.broadcastJson({ type: "user_left", connectionId: conn.id, username, userCount, timestamp: now() }, { room });
    this.lobby.announce();
  }

  // --- Joining -------------------------------------------------------------

  /** Names the connection, welcomes it with its catch-up and tells the others. */
  #enter(conn: Connection<ChatUser>, { complete, entries, position }: CatchUp): void {
    const user = conn.userData;
    user.username = this.#guestName(user.room);
    user.announced = true;
    const userCount = this.#members(user.room).length;
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
    if (!this.#allow(conn, "chat", true)) return;
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
    // Limited before the name is looked up in the room, which costs a pass over its members.
    if (!this.#allow(conn, "username", true)) return;
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

  /**
   * `{"type":"typing"}`: passed on to the others in the room. Past the limit
   * it is dropped without a reply: a typing notice is a hint that the next
   * one replaces, and the page sends them on keystrokes, not on request.
   */
  #typing(conn: Connection<ChatUser>): void {
    if (!this.#allow(conn, "typing", false)) return;
    const { room, username } = conn.userData;
    this.broadcastJson({ type: "typing", connectionId: conn.id, username }, { room, except: conn });
  }

  /**
   * Whether the connection may send one more message of this kind now: both
   * its own window and its address's must have room, and only then is it
   * counted in both. When refused and `reply` is set, the sender gets a
   * `rate_limited` error naming the limit that refused it.
   */
  #allow(conn: Connection<ChatUser>, kind: ChatMessageKind, reply: boolean): boolean {
    const time = Date.now();
    const own = conn.userData.windows[kind];
    const shared = this.#addresses.windowsOf(conn.remoteAddress, time)[kind];
    const refusedBy = !own.allows(time) ? "" : !shared.allows(time) ? " per address" : undefined;
    if (refusedBy === undefined) {
      own.take(time);
      shared.take(time);
      return true;
    }
    if (reply) {
      const { messages, windowMs } = refusedBy === "" ? this.#limits[kind] : this.#addressLimits[kind];
      const { action, noun } = KIND_WORDS[kind];
      this.#reject(conn, "rate_limited", `Cannot ${action} as the limit is ${messages} ${noun} in ${windowMs / 1000} s${refusedBy}: wait a little`);
    }
    return false;
  }

  #reject(conn: Connection<ChatUser>, code: ChatErrorCode, message: string): void {
    conn.sendJson({ type: "error", code, message });
  }

  // --- Rooms -----------------------------------------------------------------

  /**
   * The users of a room the chat has announced (welcomed, with a name). The
   * library counts a connection as a member from the start of its join, while
   * its catch-up is still being read; the user list starts at its welcome.
   */
  #members(room: string): Connection<ChatUser>[] {
    return [...this.room(room)].filter((member) => member.userData.announced);
  }

  #isTaken(room: string, username: string, except?: Connection<ChatUser>): boolean {
    const wanted = username.toLowerCase();
    for (const member of this.#members(room)) {
      if (member !== except && member.userData.username.toLowerCase() === wanted) return true;
    }
    return false;
  }

  #users(room: string): { connectionId: string; username: string }[] {
    return this.#members(room).map((member) => ({ connectionId: member.id, username: member.userData.username }));
  }

  /** Who is in each room that has someone in it. */
  occupancy(): Record<string, RoomOccupancy> {
    const rooms: Record<string, RoomOccupancy> = {};
    for (const name of this.rooms.keys()) {
      const members = this.#members(name);
      if (members.length > 0) rooms[name] = { users: members.length, usernames: members.map((member) => member.userData.username) };
    }
    return rooms;
  }

  /** The numbers of `GET /chat/stats`: every room with users or history. */
  async chatStats(): Promise<ChatStats> {
    const rooms: ChatStats["rooms"] = {};
    for (const name of new Set([...this.rooms.keys(), ...await this.history.rooms()])) {
      rooms[name] = { users: this.#members(name).length, messagesInHistory: await this.history.count(name) };
    }
    return {
      activeConnections: this.connections.size,
      messagesInHistory: await this.history.count(),
      rooms,
      timestamp: now(),
    };
  }
}

/**
 * `/lobby`: which rooms have whom, sent on connect and after joins, leaves
 * and renames. Those updates are coalesced: the first change after a quiet
 * interval goes out at once, later ones within the interval go out together
 * at its end, so every lobby client sees the final state and one busy room
 * cannot make the lobby resend every room's user list per change.
 */
export class LobbyController extends WebSocketController {
  readonly #chat: ChatController;
  readonly #updates: Coalescer;
  #stopped = false;

  /** The lobby of `chat`, with at most one `rooms_update` per `interval` ms. */
  constructor(chat: ChatController, interval: number = DEFAULT_LOBBY_INTERVAL) {
    super({ maxMessageSize: 1024 }); // lobby clients only listen
    this.#chat = chat;
    this.#updates = new Coalescer(interval, () => this.#sendUpdate());
  }

  override onConnect(conn: Connection): void {
    conn.sendJson(this.#roomsUpdate());
  }

  /** Something the lobby shows changed: every lobby client hears of it within the interval. */
  announce(): void {
    if (!this.#stopped && this.connections.size > 0) this.#updates.request();
  }

  /** Stops the coalesced updates too, so that no timer outlives the server. */
  override shutdown(options?: ShutdownOptions): Promise<void> {
    this.#stopped = true;
    this.#updates.cancel();
    return super.shutdown(options);
  }

  #sendUpdate(): void {
    if (this.connections.size > 0) this.broadcastJson(this.#roomsUpdate());
  }

  #roomsUpdate(): { type: "rooms_update"; rooms: Record<string, RoomOccupancy>; timestamp: string } {
    return { type: "rooms_update", rooms: this.#chat.occupancy(), timestamp: now() };
  }
}

/**
 * Runs `run` at most once per `interval` ms however often it is requested:
 * a request while idle runs it at once; requests in the interval after a run
 * make one more run at the end of the interval, which then reflects all of them.
 */
class Coalescer {
  readonly #interval: number;
  readonly #run: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pending = false;

  constructor(interval: number, run: () => void) {
    this.#interval = interval;
    this.#run = run;
  }

  request(): void {
    if (this.#timer !== undefined) {
      this.#pending = true;
      return;
    }
    this.#runNow();
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = false;
  }

  #runNow(): void {
    this.#timer = setTimeout(() => this.#intervalEnded(), this.#interval);
    this.#run();
  }

  #intervalEnded(): void {
    this.#timer = undefined;
    if (!this.#pending) return;
    this.#pending = false;
    this.#runNow();
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
