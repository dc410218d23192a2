/**
 * The one error class of `switchboard/client`.
 *
 * @module
 */

/**
 * Why an acknowledged send or a join did not succeed, with a machine-readable
 * `code`: the server's own code from a refused `ack` (such as
 * "rate_limited"), "queue_full" (the send did not fit in `maxQueue`),
 * "closed" (the client was closed before the answer), "left" (the server
 * refused a join, or the room was left), or "protocol" (an `error` event
 * about a frame the client could not make sense of).
 */
export class ClientError extends Error {
  /** Machine-readable: the ack's error code, or "queue_full", "closed", "left", "protocol". */
  readonly code: string;

  /** An error with `code` and a message for people. */
  constructor(code: string, message: string) {
    super(message);
    this.name = "ClientError";
    this.code = code;
  }
}
