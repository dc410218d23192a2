/**
 * The close codes of RFC 6455 (section 7.4.1) and the IANA registry that
 * switchboard uses, by name, so no limit closes with a bare number.
 *
 * @example
 * ```ts
 * import { CloseCode, type Connection, WebSocketController } from "switchboard";
 *
 * class Strict extends WebSocketController {
 *   override onBinaryMessage(conn: Connection) {
 *     conn.close(CloseCode.UnsupportedData, "text only");
 *   }
 * }
 * ```
 */
export const CloseCode = {
  /** 1000: the purpose of the connection has been fulfilled. */
  Normal: 1000,
  /** 1001: the server is shutting down or the page is navigating away. */
  GoingAway: 1001,
  /** 1002: the peer broke the protocol. */
  ProtocolError: 1002,
  /** 1003: a data type the endpoint cannot accept. */
  UnsupportedData: 1003,
  /** 1005: reported (never sent) when a close frame carried no code. */
  NoStatus: 1005,
  /** 1006: reported (never sent) when the connection ended without a close frame. */
  Abnormal: 1006,
  /** 1007: a text message that is not valid UTF-8. */
  InvalidPayload: 1007,
  /** 1008: a message that violates the endpoint's policy. */
  PolicyViolation: 1008,
  /** 1009: a message larger than `maxMessageSize`. */
  MessageTooBig: 1009,
  /** 1011: the server met an unexpected condition. */
  InternalError: 1011,
  /** 1012: the server is restarting. */
  ServiceRestart: 1012,
  /** 1013: try again later; used for slow consumers past `maxBufferedAmount`. */
  TryAgainLater: 1013,
} as const;

/** The numeric value of one of the named {@linkcode CloseCode}s. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether `code` may be sent in a close frame by an application:
 * 1000, 1001, 1002, 1003, 1007 to 1014, or 3000 to 4999.
 */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
