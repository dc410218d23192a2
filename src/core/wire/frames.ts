/**
 * The shapes of the switchboard wire protocol (version 1): what a server that
 * speaks it and `switchboard/client` say to each other about rooms, positions,
 * resync, acknowledgements and liveness. Every frame is a JSON text frame
 * holding an object with a string `type`. The server's frames are built by
 * the helpers of `server-frames.ts`; the client reads them.
 *
 * Frames the protocol does not name (any other `type`, text that is not a
 * JSON object, binary) are the application's own and pass through untouched.
 *
 * @module
 */

/** The version of the protocol these types describe. */
export const WIRE_VERSION = 1;

/** The query parameter in which a reconnecting client sends its positions (see `resume.ts`). */
export const RESUME_PARAM = "resume";

/** The field of a client's application frame that asks for an acknowledgement; its value is the idempotency key. */
export const ACK_FIELD = "ack";

/** An idempotency key: 1 to 64 of A-Z, a-z, 0-9, "_" and "-". */
export const ACK_KEY: RegExp = /^[A-Za-z0-9_-]{1,64}$/;

/** Rooms a client may name in one `resume` parameter; past it the rest are ignored. */
export const MAX_RESUME_ROOMS = 64;

/** Where a client stands in a room: the epoch and id of the last message it has of it (0: none yet). */
export interface WirePosition {
  /** The run of ids the position belongs to; an id means nothing in another epoch. */
  readonly epoch: string;
  /** The last message's id; ids increase by one within an epoch. */
  readonly id: number;
}

// --- Server to client ------------------------------------------------------------

/**
 * A recorded message of a room, live or in a catch-up: the application's own
 * fields plus `room`, `epoch` and `id`, which say where it stands. A client
 * takes a frame for one when `type` is "message" and those three are a
 * string, a string and a positive integer.
 */
export interface MessageFrame {
  /** Always "message". */
  readonly type: "message";
  /** The room it was recorded in. */
  readonly room: string;
  /** The room's run of ids it belongs to. */
  readonly epoch: string;
  /** Its id in the room: one more than the message before it, within the epoch. */
  readonly id: number;
  /** The application's own fields. */
  readonly [field: string]: unknown;
}

/**
 * Where a client stands in one room after a welcome or a join: `messages`
 * are the recorded messages to take first (oldest first), and `epoch`/`id`
 * is the room's position after them, from which live messages continue.
 * `resumed: true` means `messages` are exactly those after the position the
 * client sent; `false` means they are the room's latest, to be shown instead
 * of what the client had (a first visit, a gap no longer fillable, another
 * epoch).
 */
export interface RoomState {
  /** The epoch of the room's position after `messages`. */
  readonly epoch: string;
  /** The id of the room's position after `messages` (0: the room has none yet). */
  readonly id: number;
  /** `true`: `messages` are exactly those after the position the client sent; `false`: the latest. */
  readonly resumed: boolean;
  /** Recorded messages to take first, oldest first. */
  readonly messages: readonly MessageFrame[];
}

/** The server's first frame: the rooms it joined the connection to, and any fields of the application. */
export interface WelcomeFrame {
  /** Always "welcome". */
  readonly type: "welcome";
  /** Each room the server joined the connection to, with where the client stands in it. */
  readonly rooms: Readonly<Record<string, RoomState>>;
  /** The application's own fields. */
  readonly [field: string]: unknown;
}

/**
 * The connection is in `room` from here: the answer to a client's `join`, a
 * room the server joined it to later, or (with `resumed: false`) the same
 * room started again after the server lost its continuity (a resync).
 */
export interface JoinedFrame extends RoomState {
  /** Always "joined". */
  readonly type: "joined";
  /** The room the connection is in from here. */
  readonly room: string;
}

/** The connection is no longer in `room`: a refused `join`, an answered `leave`, or the server's choice. */
export interface LeftFrame {
  /** Always "left". */
  readonly type: "left";
  /** The room the connection is not in. */
  readonly room: string;
  /** Why, for people. */
  readonly reason?: string;
}

/** Why an acknowledged send was refused. */
export interface AckError {
  /** Machine-readable, such as "rate_limited". */
  readonly code: string;
  /** For people. */
  readonly message: string;
}

/** The answer to a client frame that carried an idempotency key in {@linkcode ACK_FIELD}. */
export type AckFrame =
  | { readonly type: "ack"; readonly key: string; readonly ok: true }
  | { readonly type: "ack"; readonly key: string; readonly ok: false; readonly error: AckError };

/** The answer to a client's `ping`. */
export interface PongFrame {
  /** Always "pong". */
  readonly type: "pong";
}

/** Sent just before a close: the client makes its next attempt after exactly `delay` milliseconds. */
export interface ReconnectFrame {
  /** Always "reconnect". */
  readonly type: "reconnect";
  /** Milliseconds to wait before the next attempt. */
  readonly delay: number;
}

/** One thing wrong with a refused client frame, in an {@linkcode ErrorFrame}'s `issues`. */
export interface ErrorFrameIssue {
  /** Where in the frame, as dotted keys and indexes without `type`: "text", "items.0.name"; "" for the frame as a whole. */
  readonly path: string;
  /** What is wrong there, for people. */
  readonly message: string;
}

/**
 * A client frame was refused (too fast, malformed, of an unknown type...);
 * the connection stays open and nothing else changed. Built by `errorFrame`.
 * The core sends it with `code` "rate_limited" past `rateLimit`; other codes
 * are the application's (or `switchboard/protocol`'s).
 */
export interface ErrorFrame {
  /** Always "error". */
  readonly type: "error";
  /** Machine-readable, such as "rate_limited". */
  readonly code: string;
  /** What could not be done and why, for people. */
  readonly message: string;
  /** The `type` of the refused frame, when it had one. */
  readonly messageType?: string;
  /** Each thing wrong with the refused frame, when it was invalid. */
  readonly issues?: readonly ErrorFrameIssue[];
}

/** Every frame the protocol names from server to client. */
export type ServerFrame = WelcomeFrame | MessageFrame | JoinedFrame | LeftFrame | AckFrame | PongFrame | ReconnectFrame | ErrorFrame;

// --- Client to server ------------------------------------------------------------

/** Liveness: the client heard nothing for a while; the server answers with a {@linkcode PongFrame}. */
export interface PingFrame {
  /** Always "ping". */
  readonly type: "ping";
}

/** Asks to be in `room`, continuing from `since` when the client has a position there. */
export interface JoinFrame {
  /** Always "join". */
  readonly type: "join";
  /** The room to join. */
  readonly room: string;
  /** The client's position in the room, if it has one. */
  readonly since?: WirePosition;
}

/** Asks to be out of `room`. */
export interface LeaveFrame {
  /** Always "leave". */
  readonly type: "leave";
  /** The room to leave. */
  readonly room: string;
}

/** Every frame the protocol names from client to server (acknowledged sends are the application's frames plus {@linkcode ACK_FIELD}). */
export type ClientFrame = PingFrame | JoinFrame | LeaveFrame;

/** Whether `value` is a position: a string epoch and an integer id of at least 0. */
export function isWirePosition(value: unknown): value is WirePosition {
  if (typeof value !== "object" || value === null) return false;
  const { epoch, id } = value as Record<string, unknown>;
  return typeof epoch === "string" && typeof id === "number" && Number.isSafeInteger(id) && id >= 0;
}

/** Whether a parsed frame is a {@linkcode MessageFrame}: `type` "message", a string room and epoch, an id of at least 1. */
export function isMessageFrame(value: unknown): value is MessageFrame {
  if (typeof value !== "object" || value === null) return false;
  const frame = value as Record<string, unknown>;
  return frame.type === "message" && typeof frame.room === "string" && typeof frame.epoch === "string" &&
    typeof frame.id === "number" && Number.isSafeInteger(frame.id) && frame.id >= 1;
}
