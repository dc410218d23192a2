/**
 * The chat's protocol, as zod schemas both ways (what the page and the tests
 * rely on; the README's protocol tables say the same in prose), its rules
 * and options. A client can `import type { ChatProtocol }` and get typed
 * sends and messages from `connect<ChatProtocol>(url)`.
 *
 * @module
 */
import { z } from "zod";
import type { Dedupe, Engine, History, Position, RoomState } from "../../mod.ts";
import { defineProtocol, type Protocol, type ServerMessage } from "../../src/protocol/mod.ts";

/** The room of `/chat`. */
export const DEFAULT_ROOM = "general";
/** Room names: 1 to 32 of a-z, 0-9, "-" and "_". */
export const ROOM_NAME: RegExp = /^[a-z0-9_-]{1,32}$/;
/** Usernames: 1 to 32 letters, digits, spaces, "_", "-" and ".". */
export const USERNAME: RegExp = /^[\p{L}\p{Nd} _.\-]{1,32}$/u;
/** The page's session id (`?session=`): 16 to 64 of base64url. Anything else is ignored. */
export const SESSION: RegExp = /^[A-Za-z0-9_-]{16,64}$/;
/** Characters (code points) in one chat message, after trimming. */
export const MAX_TEXT_LENGTH = 2000;
/** Messages a new connection gets in its welcome (`rooms[room].messages`), and messages kept per room. */
export const HISTORY_SIZE = 100;
/** Milliseconds an acknowledged chat message's key is remembered: a page re-sending it within them gets it recorded once. */
export const DEDUPE_TTL: number = 10 * 60_000;
/** Largest WebSocket message accepted; the library closes bigger ones with 1009. */
export const MAX_MESSAGE_BYTES: number = 10 * 1024;
/**
 * The room every chat connection also joins, for the lobby: its presences
 * are everyone in every room, across processes. Not a valid chat room name,
 * so no client can join it or record in it.
 */
export const DIRECTORY = "#rooms";
/** The schema's text for a chat message without text: the controller answers it as `empty_text` (any other as `text_too_long`). */
export const EMPTY_TEXT = "Cannot send message as 'text' is empty";

const string = z.string();
const username = { userId: string, username: string };
const presence = z.object({ ...username, userCount: z.number(), timestamp: string });

// zod's types written out, as isolatedDeclarations wants for an exported value: the schemas below must match them.
type Shape<Keys extends string, Type extends z.ZodType = z.ZodString> = z.ZodObject<Record<Keys, Type>, z.core.$strip>;
type Presence = z.ZodObject<{ userId: z.ZodString; username: z.ZodString; userCount: z.ZodNumber; timestamp: z.ZodString }, z.core.$strip>;

/** The chat's messages. Validated on the way in (refusals: see the README) and, in development, on the way out. */
export const chatProtocol: Protocol<
  { chat: Shape<"text">; username: Shape<"username">; typing: Shape<never> },
  {
    message: z.ZodObject<Record<"epoch" | "connectionId" | "userId" | "username" | "text" | "room" | "timestamp", z.ZodString> & { id: z.ZodNumber }, z.core.$strip>;
    user_joined: Presence;
    user_left: Presence;
    username_changed: Shape<"userId" | "connectionId" | "oldUsername" | "username" | "timestamp">;
    typing: Shape<"connectionId" | "userId" | "username">;
  }
> = defineProtocol({
  client: {
    chat: z.object({
      text: z.string({ error: EMPTY_TEXT }).trim().min(1, EMPTY_TEXT).refine((text) => [...text].length <= MAX_TEXT_LENGTH, {
        // Characters, not UTF-16 units.
        error: (issue) => `Cannot send message as 'text' must be at most ${MAX_TEXT_LENGTH} characters: current length is ${[...String(issue.input)].length}`,
      }),
    }),
    // Any refusal of it is `invalid_username`, in the controller's words.
    username: z.object({ username: z.string().trim().regex(USERNAME) }),
    typing: z.object({}),
  },
  server: {
    message: z.object({ id: z.number(), epoch: string, connectionId: string, ...username, text: string, room: string, timestamp: string }),
    user_joined: presence,
    user_left: presence,
    username_changed: z.object({ ...username, connectionId: string, oldUsername: string, timestamp: string }),
    typing: z.object({ connectionId: string, ...username }),
  },
});
/** The chat's protocol, for `import type` on the client side. */
export type ChatProtocol = typeof chatProtocol;

/** A chat message as the server sends it, live and in the messages of a `welcome` or `joined`: its `id` and `epoch` are its position in the room's history. */
export type ChatMessage = Extract<ServerMessage<ChatProtocol>, { type: "message" }>;

/** One user of a room, as `welcome.users` lists it. */
export interface RoomUser {
  userId: string;
  username: string;
}

/** The `code` of an `error` reply. The connection stays open and nothing else changes. */
export type ChatErrorCode =
  | "invalid_json"
  | "invalid_frame"
  | "unknown_type"
  | "empty_text"
  | "text_too_long"
  | "rate_limited"
  | "invalid_username"
  | "username_taken"
  | "binary_not_supported";

/** The kinds of message a client sends (`type`), each with its own rate limits. */
export type ChatMessageKind = keyof ChatProtocol["client"];

/** A sliding-window rate limit: at most `messages` accepted in any `windowMs`. */
export interface RateLimit {
  messages: number;
  windowMs: number;
}

/** A {@linkcode RateLimit} per message kind; a kind left out keeps its default. */
export type RateLimits = Partial<Record<ChatMessageKind, RateLimit>>;

/** Options of the chat; every field has a default. */
export interface ChatOptions {
  /** Chat messages per connection: the same as `limits.chat`, which wins when both are given. Default 20 in any 10 s. */
  rateLimit?: RateLimit;
  /** Per connection, for each kind. Defaults: `chat` 20, `username` 5 and `typing` 10, each in any 10 s. */
  limits?: RateLimits;
  /**
   * Per client address (`conn.remoteAddress`) over all of its connections to
   * this process, for each kind. Defaults: `chat` 60, `username` 20 and
   * `typing` 30, each in any 10 s. Behind a reverse proxy every client has
   * the proxy's address and so shares one budget: raise these there.
   */
  addressLimits?: RateLimits;
  /** Addresses whose budgets are kept at once, per kind; past it the one least recently heard from is forgotten (and starts afresh). Default 10 000. */
  maxAddresses?: number;
  /** Milliseconds between two `rooms_update`s to the lobby from this process: changes in between go out as one. Default 1 000. */
  lobbyInterval?: number;
  /** Where messages are kept: by default in memory, the newest 100 per room. Not with `engine`, which keeps them. */
  history?: History;
  /**
   * Shares the chat and the lobby with every other process on the same
   * engine (a `RedisEngine`): rooms, history, user lists, the lobby and the
   * stats are then the same on all of them. Default: none, this process only.
   */
  engine?: Engine;
  /**
   * Milliseconds a user stays listed after its connection goes, so that a
   * page that reconnects (to any process) with the same session within them
   * is announced neither as gone nor as back. Default 5 000.
   */
  presenceGrace?: number;
  /**
   * Where the keys of acknowledged chat messages are remembered, so that a
   * page re-sending one after a reconnect has it recorded once. Default: this
   * process's memory, for {@linkcode DEDUPE_TTL}; with an engine, pass a
   * `RedisDedupe` so that a page reconnecting to another process is
   * deduplicated too.
   */
  dedupe?: Dedupe;
}

/** Who is in one room, as the lobby reports it. */
export interface RoomOccupancy {
  users: number;
  usernames: string[];
}

/** The answer of `GET /chat/stats`: the same on every process of one engine. */
export interface ChatStats {
  /** Users present in the chat rooms, across processes (one per session and room; lobby watchers are not counted). */
  users: number;
  messagesInHistory: number;
  rooms: Record<string, { users: number; messagesInHistory: number }>;
  timestamp: string;
}

/** The chat's own fields of its `welcome`, beside the protocol's `type` and `rooms`. */
export interface WelcomeFields {
  connectionId: string;
  userId: string;
  username: string;
  room: string;
  userCount: number;
  users: RoomUser[];
  timestamp: string;
}

/**
 * What the server says first to one connection: the wire protocol's welcome.
 * `rooms[room]` holds the room's catch-up (`messages`), whether it is exactly
 * what followed the client's position (`resumed`), and the position after it.
 */
export interface Welcome extends WelcomeFields {
  type: "welcome";
  rooms: Record<string, RoomState & { messages: ChatMessage[] }>;
}

/** What the chat keeps for each connection. */
export interface ChatUser {
  room: string;
  username: string;
  /**
   * Who the user is, the same across its reconnects: derived from the page's
   * session id (`?session=`), else the connection's id. The key of its
   * presence, and `userId` in what others see. The session id itself is
   * never shown: knowing a user id does not let anyone connect as that user.
   */
  userId: string;
  /** The name the page asked for in `?username=`, used at the welcome when it is free. */
  wantedName: string | undefined;
  /** The client's position in the room from the upgrade (`?resume=`, or an older page's `?since=&epoch=`). */
  since: Position | number | undefined;
  /** Whether the connection was welcomed (and so has a presence in its room). */
  welcomed: boolean;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The username in presence data, if it holds one. */
export function usernameOf(data: unknown): string | undefined {
  return isObject(data) && typeof data.username === "string" ? data.username : undefined;
}

export function iso(milliseconds: number): string {
  return new Date(milliseconds).toISOString();
}

export function now(): string {
  return new Date().toISOString();
}
