/**
 * Which closes mean "reconnect" and which mean "stop": the rule
 * `switchboard/client` follows, and the one a server picks its codes by.
 *
 * @module
 */

/** What a client does after a close: try again (with backoff), or stop for good. */
export type CloseClass = "retry" | "stop";

/** First application code that means "stop" (4000-4499 retry, 4500-4999 stop). */
export const FIRST_STOP_CODE = 4500;

/**
 * The class of a close code. "stop" for a close a retry would only repeat:
 * 1000 (the server ended the session on purpose), 1002, 1003, 1007, 1008
 * (policy, such as a refused login), 1009, 1010, and application codes 4500
 * to 4999. "retry" for everything else: 1001 (going away), 1005 and 1006
 * (no close frame: the link broke), 1011, 1012 (restart), 1013 (try again
 * later), 1014, 1015, 3000 to 3999, and 4000 to 4499.
 *
 * A refusal at the upgrade (an HTTP 4xx) cannot be told from a broken link
 * in a browser, which reports both as 1006: refuse after the upgrade, with
 * 1008 or a code from 4500, to make a client stop.
 *
 * @example
 * ```ts
 * import { closeClass } from "switchboard";
 *
 * closeClass(1012); // "retry": the server restarts
 * closeClass(4501); // "stop": the application said so
 * ```
 */
export function closeClass(code: number): CloseClass {
  if (code >= FIRST_STOP_CODE && code <= 4999) return "stop";
  switch (code) {
    case 1000:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
      return "stop";
    default:
      return "retry";
  }
}
