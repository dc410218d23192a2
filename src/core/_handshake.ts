/**
 * The opening handshake of RFC 6455 (section 4.2.1), checked in the core
 * before `onUpgrade` runs, so that every runtime refuses the same requests
 * with the same status, and the application never sees one the runtime
 * would then refuse.
 *
 * @module
 */

/** Reads one request header (any letter case), or null. */
export type HeaderReader = (name: string) => string | null;

/** Whether a comma-separated header value has `token`, ignoring case. */
function hasToken(value: string | null, token: string): boolean {
  if (!value) return false;
  for (const part of value.split(",")) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** Whether a request asks for a WebSocket (`Upgrade: websocket`); route dispatch sends the others to HTTP. */
export function wantsWebSocket(header: HeaderReader): boolean {
  return hasToken(header("upgrade"), "websocket");
}

/** A base64 encoding of 16 bytes: 22 characters of the alphabet and "==". */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

function refuse(status: 400 | 426, message: string, extra?: Record<string, string>): Response {
  return new Response(`${message}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", ...extra } });
}

/**
 * The refusal for a request that is not a valid WebSocket opening handshake,
 * or undefined when it is one: 400 for a method other than GET, a missing
 * `Host`, `Connection` without `Upgrade`, or a `Sec-WebSocket-Key` that is not
 * 16 bytes of base64; 426 with `Upgrade: websocket` for a request that asks
 * for no WebSocket at all, and with `Sec-WebSocket-Version: 13` for any version but 13.
 */
export function checkHandshake(method: string, header: HeaderReader): Response | undefined {
  if (method !== "GET") return refuse(400, `Cannot upgrade as the method must be GET: current value is ${method}`);
  if (!wantsWebSocket(header)) {
    return refuse(426, "Upgrade Required: this endpoint speaks WebSocket", { upgrade: "websocket" });
  }
  if (!hasToken(header("connection"), "upgrade")) {
    return refuse(400, "Cannot upgrade as the 'Connection' header must include Upgrade");
  }
  if (!header("host")) return refuse(400, "Cannot upgrade as the 'Host' header is missing");
  const version = header("sec-websocket-version");
  if (version?.trim() !== "13") {
    return refuse(426, `Cannot upgrade as 'Sec-WebSocket-Version' must be 13: current value is ${version ?? "missing"}`, {
      "sec-websocket-version": "13",
    });
  }
  const key = header("sec-websocket-key");
  if (!key || !KEY.test(key.trim())) {
    return refuse(400, "Cannot upgrade as 'Sec-WebSocket-Key' must be 16 bytes in base64");
  }
  return undefined;
}
