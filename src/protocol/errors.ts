/**
 * The dispatcher's error replies: the codes, the frame, and
 * {@linkcode MessageRefused}, by which a handler answers one of its own.
 *
 * @module
 */
import { describe } from "../core/_check.ts";

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
