/**
 * `/chat` and `/chat/<room>`: one controller for every room, on one process
 * or on several sharing an engine, speaking the chat's protocol. Messages
 * are recorded broadcasts; who is in a room is presence, keyed by the page's
 * session, so that a page that reconnects within the grace (to any process)
 * is not announced as gone and back.
 *
 * @module
 */
import {
  type CatchUp, CloseCode, type Connection, errorFrame, joinedFrame, leftFrame, MemoryDedupe, parsePosition, type Position, type PresenceChange,
  type PresenceEntry, readResume, type ShutdownOptions, type UpgradeRequest, type UpgradeResult, welcomeFrame,
} from "../../mod.ts";
import { type MessageLimits, MessageRefused, ProtocolController, type ProtocolHandlers, type Refusal, type RefusalReply } from "../../src/protocol/mod.ts";
import { DEFAULT_LOBBY_INTERVAL, LobbyController } from "./lobby.ts";
import {
  type ChatMessageKind, type ChatOptions, chatProtocol, type ChatProtocol, type ChatStats, type ChatUser, DEDUPE_TTL, DEFAULT_ROOM, DIRECTORY,
  EMPTY_TEXT, HISTORY_SIZE, isObject, iso, MAX_MESSAGE_BYTES, now, type RateLimit, ROOM_NAME, type RoomOccupancy, SESSION, USERNAME, usernameOf,
} from "./protocol.ts";
import { guestName, isTaken, roomUsers, sessionUserId } from "./users.ts";

/**
 * Every kind is limited, per connection and per client address (so that
 * reconnecting does not start a fresh budget), because every kind is sent on
 * to the whole room: unlimited renames or typing notices let one client make
 * the server send to every member at its own rate. The page renames once per
 * connection and sends a typing notice at most every 2 s, far below these;
 * the address limits leave room for about three busy tabs (or people behind
 * one NAT) at once.
 */
const DEFAULT_LIMITS: Readonly<Record<ChatMessageKind, [own: number, perAddress: number]>> = { chat: [20, 60], username: [5, 20], typing: [10, 30] };
const DEFAULT_WINDOW_MS = 10_000;
const DEFAULT_MAX_ADDRESSES = 10_000;
/** What each kind is called in a `rate_limited` error. */
const KIND_WORDS: Readonly<Record<ChatMessageKind, string[]>> = {
  chat: ["send message", "messages"],
  username: ["change username", "renames"],
  typing: ["send typing", "typing notices"],
};

/**
 * The chat. It owns the `/lobby` controller, which it tells about every
 * change of who is where. With an engine, both are named ("chat", "lobby")
 * so that they are one endpoint each on every process.
 */
export class ChatController extends ProtocolController<ChatProtocol, ChatUser> {
  /** The `/lobby` endpoint: who is in which room. */
  readonly lobby: LobbyController;
  #stopping = false;

  /** Creates the chat; see {@linkcode ChatOptions} for the defaults. A RangeError for a bad limit. */
  constructor(options: ChatOptions = {}) {
    const lobbyInterval = checkedNumber("lobbyInterval", options.lobbyInterval, DEFAULT_LOBBY_INTERVAL, 0, false);
    super(chatProtocol, {
      name: "chat",
      engine: options.engine,
      maxMessageSize: MAX_MESSAGE_BYTES,
      historySize: HISTORY_SIZE,
      history: options.history,
      presenceGrace: options.presenceGrace,
      limits: chatLimits(options),
      // Only a chat message is remembered by its key, by user: it is the one whose repeat would
      // show twice. A refused one is not (the dedupe keeps only what was done): its repeat is judged
      // afresh. Shared by every process when it is a `RedisDedupe` (as `npm run chat` with `REDIS_URL` makes it).
      dedupe: { store: options.dedupe ?? new MemoryDedupe({ ttl: DEDUPE_TTL }), scope: (conn) => conn.userData.userId, types: ["chat"] },
    });
    this.lobby = new LobbyController(this, lobbyInterval, options.engine);
  }

  /** Rate-limit budgets of client addresses kept now: one per address and kind it sent (at most `maxAddresses` per kind). */
  get trackedAddresses(): number {
    return this.rateLimitKeys;
  }

  /** Closes every connection, then the presences (see `WebSocketController.shutdown`). */
  override shutdown(options?: ShutdownOptions): Promise<void> {
    this.#stopping = true;
    return super.shutdown(options);
  }

  // --- Hooks ---------------------------------------------------------------

  override async onUpgrade(request: UpgradeRequest): Promise<UpgradeResult<ChatUser>> {
    const room = request.params.room ?? (request.path === "/chat" ? DEFAULT_ROOM : undefined);
    if (room === undefined || !ROOM_NAME.test(room)) {
      return new Response("Cannot join room as its name must be 1 to 32 of a-z, 0-9, '-' and '_'\n", { status: 400 });
    }
    // The client's position in the room (the wire protocol's ?resume=); else an older page's
    // ?since=<id>&epoch=<epoch>, where a bare id means the room's current epoch. A position in no
    // epoch (["", 0]: the room had no log when the client came) is not read as the current one:
    // the room's log may have started and been lost since, so the answer is the latest, with
    // resumed: false, which the client takes without a resync (it had nothing to replace).
    const since = readResume(request.query).get(room) ?? parsePosition(request.query.get("since"), request.query.get("epoch"));
    // Without a valid session (an older page, a script) the user is its connection: set in onConnect.
    const session = request.query.get("session");
    const userId = session !== null && SESSION.test(session) ? await sessionUserId(session) : "";
    const wanted = request.query.get("username")?.trim();
    const wantedName = wanted !== undefined && USERNAME.test(wanted) ? wanted : undefined;
    return { userData: { room, username: "", userId, wantedName, since, welcomed: false } };
  }

  override async onConnect(conn: Connection<ChatUser>): Promise<void> {
    const user = conn.userData;
    user.userId ||= conn.id;
    // One step: every recorded message of the room is either in the catch-up or delivered live
    // after this hook, never both, never neither, even with a slow History, and whichever process recorded it.
    const catchUp = await joinOrClose(conn, user.since);
    await this.#welcome(conn, catchUp);
  }

  /**
   * The engine lost messages of the room for this connection: rather than
   * closing it (the default), start the room again in-band with a `joined`
   * frame of its latest messages (`resumed: false`: a resync), which the page
   * shows in place of what it showed. Its presence stays: nobody is told anything.
   */
  override async onResync(conn: Connection<ChatUser>, room: string, position: Position): Promise<void> {
    if (room !== conn.userData.room || conn.readyState !== 1) return;
    if (!conn.userData.welcomed) return super.onResync(conn, room, position); // not welcomed yet: closed, to reconnect
    conn.leave(room); // its presence waits for the grace, and the join below takes it up again
    const catchUp = await joinOrClose(conn, undefined);
    if (conn.readyState === 1) conn.sendText(joinedFrame(room, catchUp));
  }

  // One room per connection: another room is not joined (`left` says so, and is true), and the
  // connection's own is neither joined again nor left (an error, as `left` would be false).
  protected override onJoinRequest(conn: Connection<ChatUser>, room: string): void {
    this.#inBand(conn, room, "join");
  }

  protected override onLeaveRequest(conn: Connection<ChatUser>, room: string): void {
    this.#inBand(conn, room, "leave");
  }

  #inBand(conn: Connection<ChatUser>, room: string, action: string): void {
    if (room !== conn.userData.room) conn.sendText(leftFrame(room, "Cannot join or leave rooms in-band: connect to /chat/<room>"));
    else conn.sendText(errorFrame("invalid_frame", `Cannot ${action} this connection's own room in-band: close it, or connect to /chat/<room>`));
  }

  /**
   * The chat's codes and words for what the protocol refuses (see
   * `ChatErrorCode`), in `{ type, code, message }` frames as before the protocol had more fields.
   */
  protected override refusal(_conn: Connection<ChatUser>, { code, message, messageType, issues, data, limit }: Refusal<ChatUser>): RefusalReply {
    if (limit !== undefined) {
      const [action, noun] = KIND_WORDS[messageType as ChatMessageKind];
      return { code, message: `Cannot ${action} as the limit is ${limit.messages} ${noun} in ${limit.interval / 1000} s${limit.per ? " per address" : ""}: wait a little` };
    }
    if (code === "invalid_message" && messageType === "username") {
      return { code: "invalid_username", message: "Cannot change username as it must be 1 to 32 letters, digits, spaces, '_', '-' or '.'" };
    }
    if (code === "invalid_message") return { code: issues?.[0]?.message === EMPTY_TEXT ? "empty_text" : "text_too_long", message: issues![0]!.message };
    // JSON that is not an object has no type the chat knows of.
    if (code === "invalid_frame" && data !== undefined) return { code: "unknown_type", message: "Cannot handle message as its 'type' is not chat, username or typing" };
    return { code, message };
  }

  /**
   * A user joined or left a room, on whichever process: announced to the
   * room from here, once. A page back within the grace made no change, so
   * nothing is announced. A change of the directory is a change for the lobby.
   */
  override async onPresence({ type, room, key, data }: PresenceChange): Promise<void> {
    if (room === DIRECTORY) return this.lobby.announce();
    // Updates are renames, announced by the rename itself, which knows the old name.
    const username = usernameOf(data);
    if (type === "update" || username === undefined) return;
    let userCount: number;
    try {
      userCount = (await this.presence(room)).length;
    } catch (error) {
      if (this.#stopping) return; // a leave made by the shutdown itself, whose engine closes meanwhile
      throw error;
    }
    // The user's own connections here (the one that joined) have it in their welcome.
    const except = [...this.room(room)].filter((member) => member.userData.userId === key);
    this.broadcast(type === "join" ? "user_joined" : "user_left", { userId: key, username, userCount, timestamp: now() }, { room, except });
  }

  // --- Client messages (validated and rate limited by the protocol) ---------------------

  protected readonly handlers: ProtocolHandlers<ChatProtocol, ChatUser> = {
    /**
     * Recorded in the room's history, then sent to the room, sender included;
     * the library keeps recorded messages of a room in order (with an engine,
     * one order and the same ids on every process). The message is built from
     * the position the history gives it, so that it carries its own id and epoch.
     */
    chat: async (conn, { text }) => {
      const { room, username, userId } = conn.userData;
      const message = ({ id, epoch, timestamp }: { id: number; epoch: string; timestamp: number }) => ({
        id, epoch, connectionId: conn.id, userId, username, text, room, timestamp: iso(timestamp),
      });
      await this.broadcast("message", message, { room, record: true });
    },
    /** A name nobody else in the room has (ignoring case), on any process. */
    username: async (conn, { username }) => {
      const user = conn.userData;
      if (username === user.username) return;
      // Two processes may grant one name at the same moment: an example's trade-off, not a lock.
      if (isTaken(await this.presence(user.room), username, user.userId)) {
        throw new MessageRefused("username_taken", `Cannot change username as '${username}' is taken in this room`);
      }
      await this.#setPresence(conn, username);
      const oldUsername = user.username;
      // Every connection of the user here takes the name (tabs that share a session are one user);
      // one on another process keeps its old name in its own messages until it renames too.
      for (const member of this.room(user.room)) if (member.userData.userId === user.userId) member.userData.username = username;
      this.broadcast("username_changed", { userId: user.userId, connectionId: conn.id, oldUsername, username, timestamp: now() }, { room: user.room });
    },
    typing: (conn) => {
      const { room, username, userId } = conn.userData;
      this.broadcast("typing", { connectionId: conn.id, userId, username }, { room, except: conn });
    },
  };

  // --- Joining -------------------------------------------------------------

  /**
   * Names the connection (its name from before if it is back within the
   * grace, else the one it asked for if free, else a guest name), sets its
   * presence and welcomes it with its catch-up.
   */
  async #welcome(conn: Connection<ChatUser>, catchUp: CatchUp): Promise<void> {
    const user = conn.userData;
    let users: PresenceEntry[];
    try {
      if (conn.readyState !== 1) return; // it left while the history was read
      users = await this.presence(user.room);
      if (!user.welcomed) user.username = nameFor(user, users);
      if (!conn.rooms.has(DIRECTORY)) conn.join(DIRECTORY);
      await this.#setPresence(conn, user.username);
      users = await this.presence(user.room);
    } catch (error) {
      if (conn.readyState !== 1) return; // it left meanwhile: nobody to welcome
      conn.close(CloseCode.InternalError, "Presence unavailable");
      throw error;
    }
    if (conn.readyState !== 1) return;
    user.welcomed = true;
    const { room, userId, username } = user;
    const fields = { connectionId: conn.id, userId, username, room, userCount: users.length, users: roomUsers(users), timestamp: now() };
    conn.sendText(welcomeFrame({ [room]: catchUp }, fields));
  }

  /** The user's presence in its room and in the directory, under `username`. */
  async #setPresence(conn: Connection<ChatUser>, username: string): Promise<void> {
    const { room, userId } = conn.userData;
    await Promise.all([
      conn.setPresence(room, { username }, { key: userId }),
      conn.setPresence(DIRECTORY, { room, username }, { key: `${room}/${userId}` }),
    ]);
  }

  // --- Rooms, across processes ---------------------------------------------------

  /** Who is in each room that has someone in it, on every process: from the directory's presences. */
  async occupancy(): Promise<Record<string, RoomOccupancy>> {
    return Object.fromEntries(await this.#occupancy()); // not `rooms[name] = …`: a room may be called "__proto__"
  }

  async #occupancy(): Promise<Map<string, RoomOccupancy>> {
    const rooms = new Map<string, RoomOccupancy>();
    for (const { data } of await this.presence(DIRECTORY)) {
      if (!isObject(data) || typeof data.room !== "string" || typeof data.username !== "string") continue;
      let room = rooms.get(data.room);
      if (!room) rooms.set(data.room, (room = { users: 0, usernames: [] }));
      room.users++;
      room.usernames.push(data.username);
    }
    return rooms;
  }

  /** The numbers of `GET /chat/stats`: every room with users or history, from the shared presences and history. */
  async chatStats(): Promise<ChatStats> {
    const occupancy = await this.#occupancy();
    const names = new Set([...occupancy.keys(), ...await this.history.rooms()]);
    const rooms = await Promise.all(
      [...names].map(async (name) => [name, { users: occupancy.get(name)?.users ?? 0, messagesInHistory: await this.history.count(name) }] as const),
    );
    return {
      users: [...occupancy.values()].reduce((sum, room) => sum + room.users, 0),
      messagesInHistory: await this.history.count(),
      rooms: Object.fromEntries(rooms),
      timestamp: now(),
    };
  }
}

/** Joins the connection's room from `since`; if the history fails it is closed (the page reconnects with backoff), rather than left waiting for a welcome. */
async function joinOrClose(conn: Connection<ChatUser>, since: Position | number | undefined): Promise<CatchUp> {
  try {
    return await conn.join(conn.userData.room, { since, limit: HISTORY_SIZE });
  } catch (error) {
    conn.close(CloseCode.InternalError, "History unavailable");
    throw error; // on to onError, which logs it
  }
}

/** The name a connection starts with: see `#welcome`. */
function nameFor(user: ChatUser, users: readonly PresenceEntry[]): string {
  const before = usernameOf(users.find((entry) => entry.key === user.userId)?.data);
  if (before !== undefined) return before;
  if (user.wantedName !== undefined && !isTaken(users, user.wantedName, user.userId)) return user.wantedName;
  return guestName(users);
}

/**
 * The protocol's limits from the chat's options: each kind per connection and per address, both
 * counted only when both have room. Typing past them is dropped without a reply: a typing notice
 * is a hint that the next one replaces. Asking for one's own name counts for none.
 */
function chatLimits(options: ChatOptions): MessageLimits<ChatProtocol, ChatUser> {
  const maxKeys = checkedNumber("maxAddresses", options.maxAddresses, DEFAULT_MAX_ADDRESSES, 1, true);
  const own = { ...options.limits, chat: options.limits?.chat ?? options.rateLimit };
  const limits: Record<string, unknown> = {};
  for (const kind of ["chat", "username", "typing"] as const) {
    const [ownMessages, addressMessages] = DEFAULT_LIMITS[kind];
    const extra = kind === "typing" ? { action: "drop" } : kind === "username" ? { counts: renames } : {};
    limits[kind] = [
      { ...checkedLimit(`limits.${kind}`, own[kind], ownMessages), ...extra },
      { ...checkedLimit(`addressLimits.${kind}`, options.addressLimits?.[kind], addressMessages), ...extra, per: (conn: Connection) => conn.remoteAddress, maxKeys },
    ];
  }
  return limits;
}

function renames(conn: Connection<ChatUser>, { username }: { username: string }): boolean {
  return username !== conn.userData.username;
}

function checkedLimit(option: string, limit: RateLimit | undefined, messages: number): { messages: number; interval: number } {
  if (limit === undefined) return { messages, interval: DEFAULT_WINDOW_MS };
  if (!Number.isInteger(limit.messages) || limit.messages < 0 || !(limit.windowMs > 0 && Number.isFinite(limit.windowMs))) {
    throw new RangeError(`Cannot create chat as '${option}' must have a whole 'messages' of 0 or more and a finite 'windowMs' above 0: current value is ${JSON.stringify(limit)}`);
  }
  return { messages: limit.messages, interval: limit.windowMs };
}

/** A whole or finite number of at least `min`, or its default; a RangeError otherwise. */
function checkedNumber(option: string, value: number | undefined, fallback: number, min: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`Cannot create chat as '${option}' must be a ${integer ? "whole" : "finite"} number of at least ${min}: current value is ${value}`);
  }
  return value;
}
