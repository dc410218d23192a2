/** Data copied out of an upgrade request before the runtime takes the socket over. */
export interface UpgradeRequestInit {
  /** The HTTP method (default "GET"); the handshake check refuses any other, so the request keeps none. */
  method?: string;
  /** The full request URL. */
  url: string;
  /**
   * The request headers, copied: the runtime's request may be gone later. A
   * plain object (lowercase names, as `node:http` gives them) is turned into
   * `Headers` only when `headers` is first read, which keeps idle connections
   * light.
   */
  headers: Headers | Readonly<Record<string, string | string[] | undefined>>;
  /** Path parameters from the route pattern, e.g. `{ room: "lobby" }` for `/chat/:room`. */
  params?: Record<string, string>;
  /** The client's IP address, without port. */
  remoteAddress?: string;
  /** Values that earlier middleware attached to the request (Hono's `c.var`). */
  context?: Readonly<Record<string, unknown>>;
}

const NONE: Readonly<Record<string, never>> = Object.freeze({});

/**
 * An upgrade request, copied out of the runtime's request at upgrade time, so it
 * stays readable for the life of the connection on every runtime (Deno
 * invalidates the original `Request` once it upgrades).
 *
 * @example
 * ```ts
 * import { type UpgradeRequest, WebSocketController } from "switchboard";
 *
 * class Rooms extends WebSocketController<{ room: string }> {
 *   override onUpgrade(req: UpgradeRequest) {
 *     if (req.query.get("token") !== "secret") return new Response("no", { status: 401 });
 *     return { userData: { room: req.params.room ?? "general" } };
 *   }
 * }
 * ```
 */
export class UpgradeRequest {
  /** The full request URL. */
  readonly url: string;
  readonly #rawHeaders: Headers | Readonly<Record<string, string | string[] | undefined>>;
  #headers: Headers | undefined;
  /** Path parameters from the route pattern. */
  readonly params: Readonly<Record<string, string>>;
  /** The client's IP address ("" when unknown). */
  readonly remoteAddress: string;
  /** Values earlier middleware attached (Hono's `c.var`); empty elsewhere. */
  readonly context: Readonly<Record<string, unknown>>;
  #parsed: URL | undefined;
  #cookies: Record<string, string> | undefined;

  /** Builds a request from data an adapter copied. */
  constructor(init: UpgradeRequestInit) {
    this.url = init.url;
    this.#rawHeaders = init.headers;
    // Shared empty objects: most connections have no params or context, and each keeps its request.
    this.params = init.params ?? NONE;
    this.remoteAddress = init.remoteAddress ?? "";
    this.context = init.context ?? NONE;
  }

  /**
   * The HTTP method: always GET, since the core refuses any other before
   * `onUpgrade` (a getter, not a field: every connection keeps its request).
   */
  get method(): string {
    return "GET";
  }

  /** The request headers. */
  get headers(): Headers {
    if (this.#headers) return this.#headers;
    const raw = this.#rawHeaders;
    if (raw instanceof Headers) return (this.#headers = raw);
    const headers = new Headers();
    for (const name in raw) {
      const value = raw[name];
      if (typeof value === "string") headers.append(name, value);
      else if (value) for (const item of value) headers.append(name, item);
    }
    return (this.#headers = headers);
  }

  /** One header's value (several joined with ", "), or null; reads without building `headers`. */
  header(name: string): string | null {
    const raw = this.#rawHeaders;
    if (raw instanceof Headers) return raw.get(name);
    const value = raw[name.toLowerCase()];
    if (value === undefined) return null;
    return typeof value === "string" ? value : value.join(", ");
  }

  #urlObject(): URL {
    return (this.#parsed ??= new URL(this.url));
  }

  /** The path, e.g. `/chat/lobby`. */
  get path(): string {
    return this.#urlObject().pathname;
  }

  /** The query string parameters. */
  get query(): URLSearchParams {
    return this.#urlObject().searchParams;
  }

  /** Cookies from the `Cookie` header. */
  get cookies(): Readonly<Record<string, string>> {
    return (this.#cookies ??= parseCookies(this.header("cookie")));
  }

  /** The subprotocols the client offered, in its order of preference. */
  get protocols(): string[] {
    return parseProtocols(this.header("sec-websocket-protocol"));
  }
}

/** Parses a `Cookie` header into name/value pairs; a malformed pair is skipped. */
export function parseCookies(header: string | null): Record<string, string> {
  const cookies: Record<string, string> = {};
  if (!header) return cookies;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      cookies[name] = decodeURIComponent(value);
    } catch {
      cookies[name] = value;
    }
  }
  return cookies;
}

/** Splits a `Sec-WebSocket-Protocol` header on commas, with or without spaces. */
export function parseProtocols(header: string | null): string[] {
  if (!header) return [];
  return header.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
}

/**
 * What `onUpgrade` may return to accept a connection: its user data, the
 * subprotocol (one the client offered), and extra 101 response headers.
 * `userData` is required when the controller's `UserData` type does not
 * include `undefined`.
 */
export type UpgradeAccept<UserData> =
  & {
    /** The chosen subprotocol; must be one the client offered. */
    protocol?: string;
    /** Extra headers for the 101 response, such as `set-cookie`. */
    headers?: HeadersInit;
  }
  & (undefined extends UserData ? {
      /** The connection's initial `userData`. */
      userData?: UserData;
    }
    : {
      /** The connection's initial `userData`. */
      userData: UserData;
    });

/**
 * What `onUpgrade` returns: an {@linkcode UpgradeAccept} to accept (or, when
 * `UserData` may be `undefined`, nothing), or a `Response` to refuse with
 * that status, headers and body.
 */
export type UpgradeResult<UserData> =
  | UpgradeAccept<UserData>
  | Response
  | (undefined extends UserData ? undefined | void : never);
