/**
 * What went wrong, for programs: the `code` of a {@linkcode SwitchboardError}.
 *
 * - `UPGRADE_TIMEOUT`: `onUpgrade` did not settle within `upgradeTimeout`; the upgrade was refused with 503.
 * - `INVALID_UPGRADE_RESULT`: `onUpgrade` returned something other than an accept object, nothing or a
 *   `Response`, or chose a protocol the client did not offer; refused with 500.
 * - `USER_DATA_MISSING`: the controller requires `userData` (`requireUserData`) and `onUpgrade`
 *   accepted without it; refused with 500.
 * - `HOOK_TIMEOUT`: a hook had not settled `hookTimeout` ms after its socket closed; the messages queued
 *   behind it were dropped and `onDisconnect` ran.
 * - `HISTORY_FAILED`: the History rejected an append or a read; `cause` holds its error.
 * - `ALREADY_JOINED`: `join(room, { since })` for a room the connection is in or is joining.
 * - `ENGINE_UNAVAILABLE`: the controller's engine (Redis, say) cannot be reached; it is degraded.
 */
export type SwitchboardErrorCode =
  | "UPGRADE_TIMEOUT"
  | "INVALID_UPGRADE_RESULT"
  | "USER_DATA_MISSING"
  | "HOOK_TIMEOUT"
  | "HISTORY_FAILED"
  | "ALREADY_JOINED"
  | "ENGINE_UNAVAILABLE";

/**
 * An error of switchboard's own, with a machine-readable `code` (and, where
 * another error caused it, `cause`). Bad arguments are `TypeError` and
 * `RangeError` instead; an error a hook throws reaches `onError` as it was thrown.
 *
 * @example
 * ```ts
 * import { type Connection, SwitchboardError, WebSocketController } from "switchboard";
 *
 * class Chat extends WebSocketController {
 *   override onError(conn: Connection | undefined, error: Error) {
 *     if (error instanceof SwitchboardError && error.code === "HISTORY_FAILED") console.warn("history down:", error.cause);
 *     else console.error(error);
 *   }
 * }
 * ```
 */
export class SwitchboardError extends Error {
  /** What went wrong, for programs. */
  readonly code: SwitchboardErrorCode;

  /** Creates an error with a machine-readable `code` and an optional `cause`. */
  constructor(code: SwitchboardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SwitchboardError";
    this.code = code;
  }
}

/** Turns anything thrown into an `Error`, keeping the original as `cause`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === "string" ? thrown : `Non-error thrown: ${String(thrown)}`, { cause: thrown });
}
