/**
 * The server's side of the wire protocol: the frames it sends, built from
 * what the core gives (a {@linkcode CatchUp}, a {@linkcode HistoryMeta}), and
 * the frames a client sends, read. Each builder returns the frame's JSON text,
 * ready for `conn.sendText`.
 *
 * @module
 */
import { describe } from "../_check.ts";
import type { CatchUp } from "../connection.ts";
import type { HistoryEntry, HistoryMeta } from "../history.ts";
import { ACK_FIELD, ACK_KEY, type AckError, type ErrorFrameIssue, isMessageFrame, isWirePosition, type MessageFrame, type WirePosition } from "./frames.ts";

/** What an acknowledged send came to: done, or refused with a reason. */
export type AckOutcome = { readonly ok: true } | { readonly ok: false; readonly error: AckError };

/** A client frame, read by {@linkcode parseClientFrame}. */
export type ClientFrameRead =
  /** Liveness: answer with {@linkcode PONG_FRAME}. */
  | { readonly kind: "ping" }
  /** Asks to join `room`, continuing from `since` if given. */
  | { readonly kind: "join"; readonly room: string; readonly since: WirePosition | undefined }
  /** Asks to leave `room`. */
  | { readonly kind: "leave"; readonly room: string }
  /**
   * The application's own frame: `data` is the parsed JSON (`undefined` when
   * the text is not JSON), without the `ack` field; `ack` is its idempotency
   * key when the client asked for an acknowledgement.
   */
  | { readonly kind: "message"; readonly text: string; readonly data: unknown; readonly ack: string | undefined }
  /** A protocol frame that is malformed: answer with an error, or close with 1008. */
  | { readonly kind: "invalid"; readonly reason: string };

/** The answer to a `ping`. */
export const PONG_FRAME = '{"type":"pong"}';

const MESSAGE_FIELDS: ReadonlySet<string> = new Set(["type", "room", "epoch", "id"]);

/**
 * A recorded message's frame: `fields` plus the protocol's `type`
 * ("message"), `room`, `epoch` and `id` from `meta`. Build it inside a
 * recorded broadcast, so that the message carries its own position.
 *
 * @example
 * ```ts
 * import { messageFrame, WebSocketController } from "switchboard";
 *
 * class Chat extends WebSocketController {
 *   say(text: string): Promise<unknown> {
 *     return this.broadcastText((meta) => messageFrame(meta, { text }), { room: "general", record: true });
 *   }
 * }
 * ```
 */
export function messageFrame(meta: HistoryMeta, fields: Readonly<Record<string, unknown>>): string {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new TypeError(`Cannot build message frame as 'fields' must be an object: current value is ${describe(fields)}`);
  }
  const frame: Record<string, unknown> = { type: "message", room: meta.room, epoch: meta.epoch, id: meta.id };
  for (const key of Object.keys(fields)) {
    if (MESSAGE_FIELDS.has(key)) {
      throw new TypeError(`Cannot build message frame as '${key}' is the protocol's field: rename the application's`);
    }
    Object.defineProperty(frame, key, { value: fields[key], enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(frame);
}

/**
 * The first frame for a connection: for each room, where it stands and the
 * catch-up to take first, as `conn.join(room, { since })` gave them; plus
 * the application's `fields` (anything but `type` and `rooms`). Send it from
 * the hook that joined, so that live messages follow it.
 *
 * The catch-up entries must be message frames (see {@linkcode messageFrame});
 * a TypeError names one that is not.
 *
 * @example
 * ```ts
 * import { type Connection, readResume, WebSocketController, welcomeFrame } from "switchboard";
 *
 * class Chat extends WebSocketController {
 *   override async onConnect(conn: Connection) {
 *     const since = readResume(conn.request.query).get("general");
 *     const general = await conn.join("general", { since, limit: 100 });
 *     conn.sendText(welcomeFrame({ general }, { you: conn.id }));
 *   }
 * }
 * ```
 */
export function welcomeFrame(rooms: Readonly<Record<string, CatchUp>>, fields: Readonly<Record<string, unknown>> = {}): string {
  if (typeof rooms !== "object" || rooms === null || Array.isArray(rooms)) {
    throw new TypeError(`Cannot build welcome frame as 'rooms' must be an object of catch-ups by room: current value is ${describe(rooms)}`);
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new TypeError(`Cannot build welcome frame as 'fields' must be an object: current value is ${describe(fields)}`);
  }
  const states: Record<string, unknown> = {};
  for (const room of Object.keys(rooms)) {
    Object.defineProperty(states, room, { value: roomState(room, rooms[room]!), enumerable: true, writable: true, configurable: true });
  }
  const frame: Record<string, unknown> = { type: "welcome", rooms: states };
  for (const key of Object.keys(fields)) {
    if (key === "type" || key === "rooms") {
      throw new TypeError(`Cannot build welcome frame as '${key}' is the protocol's field: rename the application's`);
    }
    Object.defineProperty(frame, key, { value: fields[key], enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(frame);
}

/**
 * The connection is in `room` from here, with the catch-up `conn.join` gave:
 * the answer to a client's `join`, or, after a join without `since`, a resync
 * (the client replaces what it showed of the room).
 */
export function joinedFrame(room: string, catchUp: CatchUp): string {
  if (typeof room !== "string") {
    throw new TypeError(`Cannot build joined frame as 'room' must be a string: current value is ${describe(room)}`);
  }
  return JSON.stringify({ type: "joined", room, ...roomState(room, catchUp) });
}

/** The connection is not (or no longer) in `room`; `reason` says why, for people. */
export function leftFrame(room: string, reason?: string): string {
  if (typeof room !== "string") {
    throw new TypeError(`Cannot build left frame as 'room' must be a string: current value is ${describe(room)}`);
  }
  return JSON.stringify(reason === undefined ? { type: "left", room } : { type: "left", room, reason: String(reason) });
}

/** The answer to an acknowledged send with idempotency key `key`. */
export function ackFrame(key: string, outcome: AckOutcome): string {
  if (typeof key !== "string" || !ACK_KEY.test(key)) {
    throw new TypeError(`Cannot build ack frame as 'key' must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-': current value is ${describe(key)}`);
  }
  if (outcome?.ok === true) return JSON.stringify({ type: "ack", key, ok: true });
  const error = outcome?.ok === false ? outcome.error : undefined;
  if (typeof error?.code !== "string" || typeof error.message !== "string") {
    throw new TypeError(`Cannot build ack frame as 'outcome' must be { ok: true } or { ok: false, error: { code, message } }: current value is ${describe(outcome)}`);
  }
  return JSON.stringify({ type: "ack", key, ok: false, error: { code: error.code, message: error.message } });
}

/**
 * A refusal of a client frame: `{"type":"error","code","message"}`, plus
 * `messageType` (the refused frame's `type`) and `issues` (each thing wrong
 * with it: a `path` and a `message`) when given. The connection stays open.
 *
 * @example
 * ```ts
 * import { type Connection, errorFrame, WebSocketController } from "switchboard";
 *
 * class Notes extends WebSocketController {
 *   override onTextMessage(conn: Connection, text: string) {
 *     if (text.length > 280) {
 *       conn.sendText(errorFrame("text_too_long", "Cannot post note as it must be at most 280 characters", {
 *         messageType: "note",
 *         issues: [{ path: "text", message: `${text.length} characters` }],
 *       }));
 *     }
 *   }
 * }
 * ```
 */
export function errorFrame(
  code: string,
  message: string,
  extra?: { readonly messageType?: string; readonly issues?: readonly ErrorFrameIssue[] },
): string {
  if (typeof code !== "string" || code.length === 0) {
    throw new TypeError(`Cannot build error frame as 'code' must be a non-empty string: current value is ${describe(code)}`);
  }
  if (typeof message !== "string") {
    throw new TypeError(`Cannot build error frame as 'message' must be a string: current value is ${describe(message)}`);
  }
  if (extra === undefined) return JSON.stringify({ type: "error", code, message });
  if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
    throw new TypeError(`Cannot build error frame as 'extra' must be an object: current value is ${describe(extra)}`);
  }
  const frame: { type: "error"; code: string; message: string; messageType?: string; issues?: ErrorFrameIssue[] } = { type: "error", code, message };
  const { messageType, issues } = extra;
  if (messageType !== undefined) {
    if (typeof messageType !== "string") {
      throw new TypeError(`Cannot build error frame as 'messageType' must be a string: current value is ${describe(messageType)}`);
    }
    frame.messageType = messageType;
  }
  if (issues !== undefined) {
    if (!Array.isArray(issues)) {
      throw new TypeError(`Cannot build error frame as 'issues' must be an array of { path, message }: current value is ${describe(issues)}`);
    }
    frame.issues = issues.map((issue: ErrorFrameIssue, index: number) => {
      if (typeof issue?.path !== "string" || typeof issue.message !== "string") {
        throw new TypeError(`Cannot build error frame as 'issues[${index}]' must be { path: string, message: string }: current value is ${describe(issue)}`);
      }
      return { path: issue.path, message: issue.message };
    });
  }
  return JSON.stringify(frame);
}

/**
 * Asks the client to make its next attempt after exactly `delay` ms: send it
 * just before closing, with a delay of each connection's own, to spread the
 * reconnects (`shutdown({ reconnectWithin })` does this for every connection).
 */
export function reconnectFrame(delay: number): string {
  if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0) {
    throw new TypeError(`Cannot build reconnect frame as 'delay' must be a number of at least 0: current value is ${describe(delay)}`);
  }
  return JSON.stringify({ type: "reconnect", delay: Math.round(delay) });
}

/**
 * Reads a client's text frame: a protocol frame (`ping`, `join`, `leave`),
 * or the application's own, with its idempotency key split off.
 *
 * @example
 * ```ts
 * import { type Connection, parseClientFrame, PONG_FRAME, WebSocketController } from "switchboard";
 *
 * class Echo extends WebSocketController {
 *   override onTextMessage(conn: Connection, text: string) {
 *     const frame = parseClientFrame(text);
 *     if (frame.kind === "ping") conn.sendText(PONG_FRAME);
 *     else if (frame.kind === "message") conn.sendJson({ type: "echo", data: frame.data });
 *   }
 * }
 * ```
 */
export function parseClientFrame(text: string): ClientFrameRead {
  if (typeof text !== "string") {
    throw new TypeError(`Cannot read client frame as 'text' must be a string: current value is ${describe(text)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: "message", text, data: undefined, ack: undefined };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return { kind: "message", text, data, ack: undefined };
  const frame = data as Record<string, unknown>;
  switch (frame.type) {
    case "ping":
      return { kind: "ping" };
    case "join":
      if (typeof frame.room !== "string") return { kind: "invalid", reason: "Cannot join as 'room' must be a string" };
      if (frame.since !== undefined && !isWirePosition(frame.since)) {
        return { kind: "invalid", reason: "Cannot join as 'since' must be { epoch: string, id: integer >= 0 }" };
      }
      return { kind: "join", room: frame.room, since: frame.since === undefined ? undefined : { epoch: frame.since.epoch, id: frame.since.id } };
    case "leave":
      if (typeof frame.room !== "string") return { kind: "invalid", reason: "Cannot leave as 'room' must be a string" };
      return { kind: "leave", room: frame.room };
  }
  if (!Object.hasOwn(frame, ACK_FIELD)) return { kind: "message", text, data, ack: undefined };
  const ack = frame[ACK_FIELD];
  if (typeof ack !== "string" || !ACK_KEY.test(ack)) {
    return { kind: "invalid", reason: "Cannot acknowledge as 'ack' must be 1 to 64 of A-Z, a-z, 0-9, '_' and '-'" };
  }
  delete frame[ACK_FIELD];
  return { kind: "message", text, data: frame, ack };
}

/** A room's state as the protocol sends it; its entries parsed, each checked to be a message frame of the room. */
function roomState(room: string, catchUp: CatchUp): { epoch: string; id: number; resumed: boolean; messages: MessageFrame[] } {
  const { complete, entries, position } = catchUp ?? {};
  if (typeof complete !== "boolean" || !Array.isArray(entries) || !isWirePosition(position)) {
    throw new TypeError(`Cannot build room state of '${room}' as its catch-up must be what conn.join(room, { since }) resolved with: current value is ${describe(catchUp)}`);
  }
  return { epoch: position.epoch, id: position.id, resumed: complete, messages: entries.map((entry) => messageOf(room, entry)) };
}

function messageOf(room: string, entry: HistoryEntry): MessageFrame {
  let frame: unknown;
  try {
    frame = typeof entry.data === "string" ? JSON.parse(entry.data) : undefined;
  } catch {
    // not JSON: reported below
  }
  // Not compared with the entry's id and epoch: a history may relabel kept entries with a new
  // epoch (Redis after a failover that kept the stream), and such a catch-up is a resync anyway.
  if (!isMessageFrame(frame) || frame.room !== room) {
    throw new TypeError(`Cannot send entry ${entry.id} of room '${room}' in a catch-up as it was not recorded as its message frame: record messages with messageFrame(meta, fields)`);
  }
  return frame;
}
