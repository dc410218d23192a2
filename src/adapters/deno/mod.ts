/**
 * The Deno adapter: serves controllers with `Deno.serve` and
 * `Deno.upgradeWebSocket`. The core supplies what Deno lacks: the message
 * size limit, the send high-water mark, and code 1006 where Deno reports 0.
 *
 * @example
 * ```ts
 * import { serve } from "switchboard/deno";
 * import { WebSocketController } from "switchboard";
 *
 * const server = await serve({ port: 8080, routes: { "/chat/:room": new WebSocketController() } });
 * ```
 *
 * @example Embedding in a `Deno.serve` you already have
 * ```ts
 * import { type DenoServeInfo, upgrade } from "switchboard/deno";
 * import { WebSocketController } from "switchboard";
 *
 * declare const Deno: { serve(handler: (req: Request, info: DenoServeInfo) => Response | Promise<Response>): unknown };
 * const chat = new WebSocketController();
 * Deno.serve((req, info) => new URL(req.url).pathname === "/ws" ? upgrade(req, info, chat) : new Response("hi"));
 * ```
 *
 * @module
 */
import {
  type AnyController,
  type Capabilities,
  copyHeaders,
  prepareUpgrade,
  type ServeOptions,
  type Server,
  serveWith,
} from "../../adapter/mod.ts";
import { DenoTransport } from "./transport.ts";
import { denoGlobal, type DenoServeInfo } from "./types.ts";

export type { DenoServeInfo, DenoWebSocket } from "./types.ts";
export type { Routes, ServeOptions, Server } from "../../adapter/mod.ts";

/** What Deno's WebSocket server can do; see the README's capability table. */
export const capabilities: Capabilities = {
  runtime: "deno",
  pingPong: false,
  nativePubSub: false,
  runtimeMaxMessageSize: false,
  invalidUtf8CloseFrame: false,
  upgradeHeaders: true,
  terminate: false,
  headersTimeout: false,
  httpIdleTimeout: false,
};

/**
 * Upgrades a request to a WebSocket served by `controller`, from inside a
 * `Deno.serve` handler; resolves with the `Response` to return (the 101, or a
 * refusal). Request data and the remote address are copied before the
 * upgrade, since Deno invalidates the request afterwards. `context` becomes
 * the request's `context` (values from earlier middleware).
 */
export async function upgrade(
  request: Request,
  info: DenoServeInfo | undefined,
  controller: AnyController,
  params: Record<string, string> = {},
  context?: Readonly<Record<string, unknown>>,
): Promise<Response> {
  const deno = denoGlobal();
  if (!deno) throw new TypeError("Cannot upgrade as this is not Deno: use the adapter of this runtime");
  const decision = await prepareUpgrade(controller, {
    method: request.method,
    url: request.url,
    // A plain copy, made now: Deno closes the Request at upgrade, after which even `get()` on
    // its headers throws "Request closed". (Copying makes Deno cache a sorted list of the
    // headers on the Request, which it keeps with the socket: ~700 B per connection, measured;
    // a clone to copy from costs more.)
    headers: copyHeaders(request.headers),
    params,
    remoteAddress: info?.remoteAddr?.hostname ?? "",
    context,
  });
  if (!decision.accept) return decision.response;
  if (decision.protocol) {
    // Deno splits the offered list on ", " only, and clients such as `ws` send "a,b". Incoming
    // headers are immutable and a copied Request loses the upgrade, so shadow the headers.
    const normalised = new Headers(request.headers);
    normalised.set("sec-websocket-protocol", decision.request.protocols.join(", "));
    Object.defineProperty(request, "headers", { value: normalised });
  }
  const { pingInterval } = controller.options;
  let upgraded;
  try {
    upgraded = deno.upgradeWebSocket(request, {
      protocol: decision.protocol || undefined,
      // Deno has no ping API but pings after idleTimeout/2 and closes after another idleTimeout/2
      // without an answer: the same bound as the core's heartbeat on the other runtimes.
      idleTimeout: (pingInterval * 2) / 1000,
    });
  } catch {
    // The core checked the handshake already; Deno refusing one it passed is still a client error.
    return new Response("WebSocket upgrade failed", { status: 400 });
  }
  new DenoTransport(upgraded.socket, decision);
  if (decision.headers) appendHeaders(upgraded.response, decision.headers);
  return upgraded.response;
}

/**
 * Deno has no option for upgrade headers, but the 101 response's headers are
 * written as they are. A separate function, so no closure in `upgrade` keeps
 * the response alive for the life of the socket.
 */
function appendHeaders(response: Response, headers: Headers): void {
  headers.forEach((value, name) => response.headers.append(name, value));
}

/**
 * Starts `Deno.serve` with the routes (and `fetch` for plain HTTP).
 *
 * @example
 * ```ts
 * import { serve } from "switchboard/deno";
 * import { WebSocketController } from "switchboard";
 *
 * const server = await serve({ port: 0, routes: { "/ws": new WebSocketController() } });
 * await server.stop();
 * ```
 */
export function serve(options: ServeOptions): Promise<Server> {
  const deno = denoGlobal();
  if (!deno) return Promise.reject(new TypeError("Cannot start server as this is not Deno: use the adapter of this runtime"));
  return serveWith(options, ({ port, hostname, router, fetch }) => {
    const server = deno.serve({ port, hostname, onListen() {} }, (request, info) =>
      router.dispatch(
        request.url,
        (name) => request.headers.get(name),
        (route) => upgrade(request, info, route.controller, route.params),
        fetch && (() => fetch(request)),
      ));
    return { port: server.addr.port, close: () => server.shutdown() };
  });
}
