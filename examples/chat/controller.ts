/**
 * `/chat` and `/chat/<room>`: one controller for every room, on one process
 * or on several sharing an engine. Messages are recorded broadcasts; who is
 * in a room is presence, keyed by the page's session, so that a page that
 * reconnects within the grace (to any process) is not announced as gone and
 * back.
 *
 * @module
 */
import {
  type AckOutcome,
  ackFrame,
  type CatchUp,
  CloseCode,
  type Connection,
  type Dedupe,
  joinedFrame,
  leftFrame,
  MemoryDedupe,
  parseClientFrame,
  parsePosition,
  PONG_FRAME,
  type Position,
  type PresenceChange,
  type PresenceEntry,
  type ShutdownOptions,
  type UpgradeRequest,
  type UpgradeResult,
  readResume,
  WebSocketController,
  welcomeFrame,
} from "../../mod.ts";
import {
  AddressBudgets,
  checkedNumber,
  DEFAULT_ADDRESS_LIMITS,
  DEFAULT_LIMITS,
  DEFAULT_MAX_ADDRESSES,
  KIND_WORDS,
  newWindows,
  resolveLimits,
} from "./limits.ts";
import { DEFAULT_LOBBY_INTERVAL, LobbyController } from "./lobby.ts";
import {
  type ChatErrorCode,
  type ChatMessage,
  type ChatMessageKind,
  type ChatOptions,
  type ChatStats,
  type ChatUser,
  DEDUPE_TTL,
  DEFAULT_ROOM,
  DIRECTORY,
  HISTORY_SIZE,
  isObject,
  iso,
  MAX_MESSAGE_BYTES,
  MAX_TEXT_LENGTH,
  now,
  type RateLimit,
  ROOM_NAME,
  type RoomOccupancy,
  SESSION,
  USERNAME,
  usernameOf,
  type WelcomeFields,
} from "./protocol.ts";
import { guestName, isTaken, roomUsers, sessionUserId } from "./users.ts";

/**
 * The chat. It owns the `/lobby` controller, which it tells about every
 * change of who is where. With an engine, both are named ("chat", "lobby")
 * so that they are one endpoint each on every process.
 */
export class ChatController extends WebSocketController<ChatUser> {
  /** The `/lobby` endpoint: who is in which room. */
  readonly lobby: LobbyController;
  readonly #limits: Readonly<Record<ChatMessageKind, RateLimit>>;
  readonly #addressLimits: Readonly<Record<ChatMessageKind, RateLimit>>;
  readonly #addresses: AddressBudgets;
  /**
   * Acknowledged chat messages already recorded (not refused ones), by
   * user: a page re-sends an unacknowledged one after a reconnect, and it is
   * recorded once. Shared by every process when it is a `RedisDedupe` (as
   * `npm run chat` with `REDIS_URL` makes it).
   */
  readonly #sent: Dedupe;
  #stopping = false;

  /** Creates the chat; see {@linkcode ChatOptions} for the defaults. A RangeError for a bad limit. */
  constructor(options: ChatOptions = {}) {
    super({
      name: "chat",
      engine: options.engine,
      maxMessageSize: MAX_MESSAGE_BYTES,
      historySize: HISTORY_SIZE,
      history: options.history,
      presenceGrace: options.presenceGrace,
    });
    const perConnection = { ...options.limits, chat: options.limits?.chat ?? options.rateLimit };
    this.#limits = resolveLimits("limits", perConnection, DEFAULT_LIMITS);
    this.#addressLimits = resolveLimits("addressLimits", options.addressLimits, DEFAULT_ADDRESS_LIMITS);
    const maxAddresses = checkedNumber("maxAddresses", options.maxAddresses, DEFAULT_MAX_ADDRESSES, 1, true);
    this.#addresses = new AddressBudgets(this.#addressLimits, maxAddresses);
    const lobbyInterval = checkedNumber("lobbyInterval", options.lobbyInterval, DEFAULT_LOBBY_INTERVAL, 0, false);
    this.lobby = new LobbyController(this, lobbyInterval, options.engine);
    this.#sent = options.dedupe ?? new MemoryDedupe({ ttl: DEDUPE_TTL });
  }

  /** Client addresses whose rate limits are kept now (bounded by `maxAddresses`). */
  get trackedAddresses(): number {
    return this.#addresses.size;
  }

  /** Closes every connection, then the presences (see `WebSocketController.shutdown`). */
  override shutdown(options?: ShutdownOptions): Promise<void> {
    this.#stopping = true;
    return super.shutdown(options);
  }

  // --- Hooks ---------------------------------------------------------------

  override async onUpgrade(request: UpgradeRequest): Promise<UpgradeResult<ChatUser>> {
    const room = roomOf(request);
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
    return { userData: { room, username: "", userId, wantedName, since, windows: newWindows(this.#limits), welcomed: false } };
  }

  override async onConnect(conn: Connection<ChatUser>): Promise<void> {
    const user = conn.userData;
    user.userId ||= conn.id;
    let catchUp: CatchUp;
    try {
      // One step: every recorded message of the room is either in the catch-up or delivered
      // live after this hook, never both, never neither, even with a slow History, and
      // whichever process recorded it.
      catchUp = await conn.join(user.room, { since: user.since, limit: HISTORY_SIZE });
    } catch (error) {
      // Without a welcome the page would wait forever; closed, it reconnects with backoff.
      conn.close(CloseCode.InternalError, "History unavailable");
      throw error; // on to onError, which logs it
    }
    await this.#welcome(conn, catchUp);
  }

  /**
   * The engine lost messages of the room for this connection: rather than
   * closing it (the default), start the room again in-band with a `joined`
   * frame of its latest messages (`resumed: false`: a resync), which the page
   * shows in place of what it showed. Its presence stays: nobody is told anything.
   */
  override async onResync(conn: Connection<ChatUser>, room: string, position: Position): Promise<void> {
    const user = conn.userData;
    if (room !== user.room || conn.readyState !== 1) return;
    if (!user.welcomed) return super.onResync(conn, room, position); // not welcomed yet: closed, to reconnect
    conn.leave(room); // its presence waits for the grace, and the join below takes it up again
    let catchUp: CatchUp;
    try {
      catchUp = await conn.join(room, { limit: HISTORY_SIZE });
    } catch (error) {
      conn.close(CloseCode.InternalError, "History unavailable");
      throw error;
    }
    if (conn.readyState === 1) conn.sendText(joinedFrame(room, catchUp));
  }

  /**
   * A frame of the wire protocol (a ping, a join or leave, which this chat
   * answers as it has one room per connection) or one of the chat's. A
   * message with an `ack` key is answered with an `ack` frame, `ok: false`
   * with the reason when refused, instead of an `error`; a repeat of a key
   * already recorded is acknowledged without being recorded again.
   */
  override async onTextMessage(conn: Connection<ChatUser>, text: string): Promise<void> {
    const frame = parseClientFrame(text);
    switch (frame.kind) {
      case "ping":
        conn.sendText(PONG_FRAME);
        return;
      case "join":
      case "leave":
        // One room per connection: another room is not joined (`left` says so, and is true), and
        // the connection's own is neither joined again nor left (an error, as `left` would be false).
        if (frame.room !== conn.userData.room) {
          conn.sendText(leftFrame(frame.room, "Cannot join or leave rooms in-band: connect to /chat/<room>"));
          return;
        }
        return this.#reject(conn, "invalid_frame", `Cannot ${frame.kind} this connection's own room in-band: close it, or connect to /chat/<room>`);
      case "invalid":
        return this.#reject(conn, "invalid_frame", frame.reason);
    }
    if (frame.data === undefined) return this.#reject(conn, "invalid_json", "Cannot read message as it is not valid JSON");
    const fields = isObject(frame.data) ? frame.data : {};
    const { ack } = frame;
    if (ack === undefined) {
      const outcome = await this.#handle(conn, fields);
      if (!outcome.ok) this.#reject(conn, outcome.error.code as ChatErrorCode, outcome.error.message);
      return;
    }
    // Only a chat message is remembered by its key: it is the one whose repeat would show twice.
    // A refused one is not (the dedupe keeps only what was done): its repeat is judged afresh.
    const { outcome } = fields.type === "chat"
      ? await this.#sent.run(conn.userData.userId, ack, () => this.#handle(conn, fields))
      : { outcome: await this.#handle(conn, fields) };
    if (conn.readyState === 1) conn.sendText(ackFrame(ack, outcome));
  }

  /** One chat frame: what it came to. */
  async #handle(conn: Connection<ChatUser>, fields: Record<string, unknown>): Promise<AckOutcome> {
    switch (fields.type) {
      case "chat":
        return await this.#chat(conn, fields.text);
      case "username":
        return await this.#rename(conn, fields.username);
      case "typing":
        this.#typing(conn);
        return OK;
      default:
        return refusal("unknown_type", "Cannot handle message as its 'type' is not chat, username or typing");
    }
  }

  override onBinaryMessage(conn: Connection<ChatUser>): void {
    this.#reject(conn, "binary_not_supported", "Cannot handle message as it is binary: send JSON text");
  }

  /**
   * A user joined or left a room, on whichever process: announced to the
   * room from here, once. A page back within the grace made no change, so
   * nothing is announced. A change of the directory is a change for the lobby.
   */
  override async onPresence({ type, room, key, data }: PresenceChange): Promise<void> {
    if (room === DIRECTORY) return this.lobby.announce();
    // Updates are renames, announced by the rename itself, which knows the old name.
    if (type === "update") return;
    const username = usernameOf(data);
    if (username === undefined) return;
    let userCount: number;
    try {
      userCount = (await this.presence(room)).length;
    } catch (error) {
      if (this.#stopping) return; // a leave made by the shutdown itself, whose engine closes meanwhile
      throw error;
    }
    this.broadcastJson(
      { type: type === "join" ? "user_joined" : "user_left", userId: key, username, userCount, timestamp: now() },
      // The user's own connections here (the one that joined) have it in their welcome.
      { room, except: [...this.room(room)].filter((member) => member.userData.userId === key) },
    );
  }

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
    const fields: WelcomeFields = {
      connectionId: conn.id,
      userId: user.userId,
      username: user.username,
      room: user.room,
      userCount: users.length,
      users: roomUsers(users),
      timestamp: now(),
    };
    conn.sendText(welcomeFrame({ [user.room]: catchUp }, { ...fields }));
  }

  /** The user's presence in its room and in the directory, under `username`. */
  async #setPresence(conn: Connection<ChatUser>, username: string): Promise<void> {
    const { room, userId } = conn.userData;
    await Promise.all([
      conn.setPresence(room, { username }, { key: userId }),
      conn.setPresence(DIRECTORY, { room, username }, { key: `${room}/${userId}` }),
    ]);
  }

  // --- Client messages -------------------------------------------------------

  /** `{"type":"chat","text"}`: checked, rate limited, then recorded and sent to the whole room. */
  async #chat(conn: Connection<ChatUser>, value: unknown): Promise<AckOutcome> {
    const text = typeof value === "string" ? value.trim() : "";
    const length = [...text].length; // characters, not UTF-16 units
    if (length === 0) {
      return refusal("empty_text", "Cannot send message as 'text' is empty");
    }
    if (length > MAX_TEXT_LENGTH) {
      return refusal("text_too_long", `Cannot send message as 'text' must be at most ${MAX_TEXT_LENGTH} characters: current length is ${length}`);
    }
    const refused = this.#allow(conn, "chat");
    if (refused) return refused;
    await this.#record(conn, text);
    return OK;
  }

  /**
   * Records the message in its room's history, then sends it to the room,
   * sender included; the library keeps recorded messages of a room in order
   * (with an engine, one order and the same ids on every process). The
   * message is built from the position the history gives it, so that it
   * carries its own id and epoch.
   */
  async #record(conn: Connection<ChatUser>, text: string): Promise<void> {
    const { room, username, userId } = conn.userData;
    await this.broadcastJson(
      ({ id, epoch, timestamp }) =>
        ({ type: "message", id, epoch, connectionId: conn.id, userId, username, text, room, timestamp: iso(timestamp) }) satisfies ChatMessage,
      { room, record: true },
    );
  }

  /** `{"type":"username","username"}`: a valid name nobody else in the room has (ignoring case), on any process. */
  async #rename(conn: Connection<ChatUser>, value: unknown): Promise<AckOutcome> {
    const username = typeof value === "string" ? value.trim() : "";
    if (!USERNAME.test(username)) {
      return refusal("invalid_username", "Cannot change username as it must be 1 to 32 letters, digits, spaces, '_', '-' or '.'");
    }
    const user = conn.userData;
    if (username === user.username) return OK;
    // Limited before the name is looked up in the room, which costs a read of its presences.
    const refused = this.#allow(conn, "username");
    if (refused) return refused;
    // Two processes may grant one name at the same moment: an example's trade-off, not a lock.
    if (isTaken(await this.presence(user.room), username, user.userId)) {
      return refusal("username_taken", `Cannot change username as '${username}' is taken in this room`);
    }
    await this.#setPresence(conn, username);
    const oldUsername = user.username;
    // Every connection of the user here takes the name (tabs that share a session are one user);
    // one on another process keeps its old name in its own messages until it renames too.
    for (const member of this.room(user.room)) if (member.userData.userId === user.userId) member.userData.username = username;
    this.broadcastJson(
      { type: "username_changed", userId: user.userId, connectionId: conn.id, oldUsername, username, timestamp: now() },
      { room: user.room },
    );
    return OK;
  }

  /**
   * `{"type":"typing"}`: passed on to the others in the room. Past the limit
   * it is dropped without a reply: a typing notice is a hint that the next
   * one replaces, and the page sends them on keystrokes, not on request.
   */
  #typing(conn: Connection<ChatUser>): void {
    if (this.#allow(conn, "typing")) return;
    const { room, username, userId } = conn.userData;
    this.broadcastJson({ type: "typing", connectionId: conn.id, userId, username }, { room, except: conn });
  }

  /**
   * Whether the connection may send one more message of this kind now: both
   * its own window and its address's must have room, and only then is it
   * counted in both. Refused: a `rate_limited` refusal naming the limit.
   */
  #allow(conn: Connection<ChatUser>, kind: ChatMessageKind): AckOutcome | undefined {
    const time = Date.now();
    const own = conn.userData.windows[kind];
    const shared = this.#addresses.windowsOf(conn.remoteAddress, time)[kind];
    const refusedBy = !own.allows(time) ? "" : !shared.allows(time) ? " per address" : undefined;
    if (refusedBy === undefined) {
      own.take(time);
      shared.take(time);
      return undefined;
    }
    const { messages, windowMs } = refusedBy === "" ? this.#limits[kind] : this.#addressLimits[kind];
    const { action, noun } = KIND_WORDS[kind];
    return refusal("rate_limited", `Cannot ${action} as the limit is ${messages} ${noun} in ${windowMs / 1000} s${refusedBy}: wait a little`);
  }

  #reject(conn: Connection<ChatUser>, code: ChatErrorCode, message: string): void {
    conn.sendJson({ type: "error", code, message });
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

const OK: AckOutcome = Object.freeze({ ok: true });


function refusal(code: ChatErrorCode, message: string): AckOutcome {
  return { ok: false, error: { code, message } };
}

/** The name a connection starts with: see `#welcome`. */
function nameFor(user: ChatUser, users: readonly PresenceEntry[]): string {
  const before = usernameOf(users.find((entry) => entry.key === user.userId)?.data);
  if (before !== undefined) return before;
  if (user.wantedName !== undefined && !isTaken(users, user.wantedName, user.userId)) return user.wantedName;
  return guestName(users);
}

/** `/chat` is the default room; `/chat/<room>` names one; anything else names none. */
function roomOf(request: UpgradeRequest): string | undefined {
  return request.params.room ?? (request.path === "/chat" ? DEFAULT_ROOM : undefined);
}
