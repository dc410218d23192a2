/** Machine-readable codes carried by {@linkcode SwitchboardError}. */
export type SwitchboardErrorCode =
  | "HOOK_FAILED"
  | "UPGRADE_FAILED"
  | "NOT_OPEN"
  | "SHUTTING_DOWN"
  | "RUNTIME_UNSUPPORTED";

/**
 * The one error class switchboard throws or reports for conditions a caller
 * may want to handle; bad arguments use `TypeError` and `RangeError`.
 *
 * @example
 * ```ts
 * override onError(conn, error) {
 *   if (error instanceof SwitchboardError && error.code === "HOOK_FAILED") console.warn(error.cause);
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
