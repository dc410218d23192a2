/**
 * The dispatcher's error replies: the codes, the frame, and
 * {@linkcode MessageRefused}, by which a handler answers one of its own.
 *
 * @module
 */
import { describe } from "../core/_check.ts";
import type { MessageIssue } from "./validate.ts";

/**
 * The codes of the error replies the dispatcher sends by itself: text that
 * is not JSON; a malformed frame (not an object, a bad `ack` key, a
 * malformed `join`); a `type` the protocol does not have; fields the schema
 * refused; a binary message; and, for an acknowledged send only, a handler
 * that threw (the error itself goes to `onError`).
 */
export type ProtocolErrorCode =
  | "invalid_json"
  | "invalid_frame"
  | "unknown_type"
  | "invalid_message"
  | "binary_not_supported"
  | "internal_error";

/**
 * The error reply (wire protocol v1): `{"type":"error","code","message",
 * "messageType"?,"issues"?}`. The connection stays open.
 */
export interface ProtocolErrorFrame {
  /** Always "error". */
  readonly type: "error";
  /** Machine-readable: a {@linkcode ProtocolErrorCode} or a handler's own (see {@linkcode MessageRefused}). */
  readonly code: string;
  /** For people. */
  readonly message: string;
  /** The `type` of the message answered, when it had a known or string one. */
  readonly messageType?: string;
  /** With "invalid_message": each problem the schema found. */
  readonly issues?: readonly MessageIssue[];
}

/**
 * Thrown by a handler to refuse a message: the client gets an error reply
 * with `code` and `message` (an `ack` with `ok: false` for an acknowledged
 * send), and nothing reaches `onError`.
 *
 * @example
 * ```ts
 * import { MessageRefused } from "switchboard/protocol";
 *
 * function checkRoom(room: string, allowed: ReadonlySet<string>): void {
 *   if (!allowed.has(room)) throw new MessageRefused("forbidden", `Cannot post in ${room}: join it first`);
 * }
 * ```
 */
export class MessageRefused extends Error {
  /** Machine-readable, sent as the reply's `code`. */
  readonly code: string;

  /** A refusal with its `code` (a non-empty string) and `message`, both sent to the client. */
  constructor(code: string, message: string) {
    if (typeof code !== "string" || code === "") {
      throw new TypeError(`Cannot refuse message as 'code' must be a non-empty string: current value is ${describe(code)}`);
    }
    if (typeof message !== "string") {
      throw new TypeError(`Cannot refuse message as 'message' must be a string: current value is ${describe(message)}`);
    }
    super(message);
    this.name = "MessageRefused";
    this.code = code;
  }
}

/**
 * The error reply's JSON text. Private to the protocol for now: the core's
 * `errorFrame` builder (being added with rate limiting) will replace it,
 * with the same shape.
 */
export function errorReply(code: string, message: string, extra: { messageType?: string | undefined; issues?: readonly MessageIssue[] | undefined } = {}): string {
  const frame: { type: "error"; code: string; message: string; messageType?: string; issues?: readonly MessageIssue[] } = { type: "error", code, message };
  if (extra.messageType !== undefined) frame.messageType = extra.messageType;
  if (extra.issues !== undefined) frame.issues = extra.issues.map(({ path, message }) => ({ path, message }));
  return JSON.stringify(frame);
}
