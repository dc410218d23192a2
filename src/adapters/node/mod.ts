/**
 * The Node adapter: serves controllers on a `node:http` server through `ws`
 * (in `noServer` mode, on the server's `upgrade` event). Plain HTTP requests
 * go to a fetch handler through a small bridge (`fetch-bridge.ts`).
 *
 * @example
 * ```ts
 * import { serve } from "switchboard/node";
 * import { WebSocketController } from "switchboard";
 *
 * const server = await serve({ port: 8080, routes: { "/chat/:room": new WebSocketController() } });
 * ```
 *
 * @example Attaching to a `node:http` server you already have
 * ```ts
 * import { createServer } from "node:http";
 * import { attach } from "switchboard/node";
 * import { WebSocketController } from "switchboard";
 *
 * const server = createServer((_req, res) => res.end("hi"));
 * attach(server, { "/ws": new WebSocketController() });
 * server.listen(8080);
 * ```
 *
 * @module
 */
import type { IncomingMessage, Server as HttpServer } from "node:http";
import { createServer } from "node:http";
import type { Duplex } from "node:stream";
import {
  type AcceptedUpgrade,
  type AnyController,
  type Capabilities,
  type FetchHandler,
  prepareUpgrade,
  Router,
  type Routes,
  type ServeOptions,
  type Server,
  serveWith,
} from "../../adapter/mod.ts";
import { requestFrom, requestListener, urlOf } from "./fetch-bridge.ts";
import { writeRawResponse } from "./raw-response.ts";
import { NodeTransport } from "./transport.ts";
import { loadWs, type WsServer, type WsSocket } from "./ws.ts";

export type { Routes, ServeOptions, Server } from "../../adapter/mod.ts";

/** What Node with `ws` can do; see the README's capability table. */
export const capabilities: Capabilities = {
  runtime: "node",
  pingPong: true,
  nativePubSub: false,
  runtimeMaxMessageSize: true,
  invalidUtf8CloseFrame: true,
  upgradeHeaders: true,
  terminate: true,
  headersTimeout: true,
  httpIdleTimeout: true,
};

/**
 * Fragments one message may arrive in: one per 64 bytes of `maxMessageSize`,
 * and at least 1 024. `ws` keeps each fragment as its own Buffer (about 100
 * bytes of heap besides the data), so a bound on fragments keeps a message in
 * 1-byte pieces from costing a hundred times its size; `ws`'s default (16 384)
 * would refuse a 4 MiB message in 64-byte fragments that Bun and Deno take.
 */
export function maxFragmentsFor(maxMessageSize: number): number {
  return Math.max(1024, Math.ceil(maxMessageSize / 64));
}

/** The accepted upgrade in flight, read by `ws`'s protocol and headers callbacks. */
const accepted = new WeakMap<IncomingMessage, AcceptedUpgrade<unknown>>();
/** One `ws` server per controller, so each gets its own `maxPayload`. */
const socketServers = new WeakMap<AnyController, WsServer>();

async function socketServerFor(controller: AnyController): Promise<WsServer> {
  let wss = socketServers.get(controller);
  if (wss) return wss;
  const { WebSocketServer } = await loadWs();
  wss = socketServers.get(controller); // another upgrade may have made it meanwhile
  if (wss) return wss;
  const { maxMessageSize } = controller.options;
  wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    // ws closes oversized messages itself (1009 to the peer) before reading them whole.
    maxPayload: maxMessageSize,
    maxFragments: maxFragmentsFor(maxMessageSize),
    handleProtocols: (_offered: Set<string>, request: IncomingMessage) => accepted.get(request)?.protocol || false,
  });
  wss.on("headers", (headers: string[], request: IncomingMessage) => {
    accepted.get(request)?.headers?.forEach((value, name) => headers.push(`${name}: ${value}`));
  });
  socketServers.set(controller, wss);
  return wss;
}

/**
 * The error listener of an upgrade socket. A module-level function, not a
 * closure: a closure would share the upgrade's scope and keep the request
 * alive for as long as the connection lives.
 */
function destroySocket(this: Duplex): void {
  this.destroy();
}

/** Strips the IPv4-mapped prefix a dual-stack listener puts on IPv4 clients. */
function plainAddress(address: string | undefined): string {
  return address?.startsWith("::ffff:") ? address.slice(7) : address ?? "";
}

/** The core's refusal of a plain request that asked for a WebSocket; it cannot be upgraded from here. */
async function refuseAsHandshake(controller: AnyController, request: Request): Promise<Response> {
  const decision = await prepareUpgrade(controller, { method: request.method, url: request.url, headers: request.headers });
  return decision.accept ? new Response("Cannot upgrade this request", { status: 400 }) : decision.response;
}

/** One header of a Node request, as the handshake check reads it. */
function headerOf(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name];
  if (value === undefined) return null;
  return typeof value === "string" ? value : value.join(", ");
}

/**
 * Upgrades one `upgrade` event to a WebSocket served by `controller`, or
 * answers it with the refusal. For servers that route upgrades themselves;
 * {@linkcode attach} does the routing for you. `context` becomes the
 * request's `context` (values from earlier middleware).
 */
export async function handleUpgrade(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  controller: AnyController,
  params: Record<string, string> = {},
  context?: Readonly<Record<string, unknown>>,
): Promise<void> {
  // A client that resets during an async onUpgrade must not crash the process.
  socket.on("error", destroySocket);
  let url: string;
  try {
    url = urlOf(request);
  } catch (error) {
    // A Host that is no host would give onUpgrade another path than the one routed.
    return writeRawResponse(socket, new Response(`${(error as Error).message}\n`, { status: 400 }));
  }
  const decision = await prepareUpgrade(controller, {
    method: request.method,
    url,
    // Node's own parsed headers: turned into Headers only if the application reads them.
    headers: request.headers,
    params,
    remoteAddress: plainAddress(request.socket.remoteAddress),
    context,
  });
  if (!decision.accept) return writeRawResponse(socket, decision.response);
  const wss = await socketServerFor(controller);
  if (socket.destroyed) return;
  accepted.set(request, decision);
  wss.handleUpgrade(request, socket, head, (ws: WsSocket) => {
    accepted.delete(request);
    const transport = new NodeTransport(ws);
    decision.open(transport, (events) => transport.bind(events));
  });
}

/** The routes attached to one HTTP server, by every `attach()` call: one `upgrade` listener serves them all. */
interface Attachment {
  readonly router: Router;
  fallback: FetchHandler | undefined;
  readonly listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

const attachments = new WeakMap<HttpServer, Attachment>();

/**
 * Serves the routes on an existing `node:http` server's `upgrade` event.
 * Several calls on one server compose: their routes are served together,
 * and a path routed twice is a TypeError. Upgrades on other paths go to
 * `fallback` when given (as `serve({ fetch })` does on every runtime), else
 * are left to other `upgrade` listeners, or refused with 404 when there are
 * none. Returns a function that detaches this call's routes again.
 */
export function attach(server: HttpServer, routes: Routes, fallback?: FetchHandler): () => void {
  const earlier = attachments.get(server);
  if (earlier?.fallback && fallback) {
    throw new TypeError("Cannot attach routes as this server already has a fallback from an earlier attach()");
  }
  const router = earlier?.router ?? new Router({});
  router.addAll(routes); // all or none: a bad route, or one routed already, is a TypeError and changes nothing
  const paths = Object.keys(routes);
  let target = earlier;
  if (!target) {
    const state: Attachment = {
      router,
      fallback: undefined,
      listener: (request, socket, head) => routeUpgrade(server, state, request, socket, head),
    };
    target = state;
    attachments.set(server, state);
    server.on("upgrade", state.listener);
  }
  if (fallback) target.fallback = fallback;
  let detached = false;
  return () => {
    if (detached) return;
    detached = true;
    target.router.remove(paths);
    if (fallback && target.fallback === fallback) target.fallback = undefined;
    if (target.router.empty) {
      server.off("upgrade", target.listener);
      attachments.delete(server);
    }
  };
}

function routeUpgrade(server: HttpServer, attachment: Attachment, request: IncomingMessage, socket: Duplex, head: Buffer): void {
  const fallback = attachment.fallback;
  const answer = attachment.router.dispatch(
    request.url ?? "/",
    (name) => headerOf(request, name),
    // handleUpgrade puts its own error listener on the socket.
    (route): void => void handleUpgrade(request, socket, head, route.controller, route.params).catch(() => socket.destroy()),
    fallback
      ? (): void => answerWith(socket, new Promise<Response>((resolve) => resolve(fallback(requestFrom(request)))))
      : server.listenerCount("upgrade") > 1
      ? (): void => {} // another listener serves this path, and owns the socket
      : undefined,
  );
  if (answer instanceof Response) answerWith(socket, answer); // 426 or 404
}

/** Answers an upgrade socket with a plain HTTP response, then ends it. */
function answerWith(socket: Duplex, response: Response | Promise<Response>): void {
  socket.on("error", destroySocket);
  Promise.resolve(response).then((r) => writeRawResponse(socket, r)).catch(() => socket.destroy());
}

/**
 * Starts a `node:http` server with the routes (and `fetch` for plain HTTP).
 *
 * @example
 * ```ts
 * import { serve } from "switchboard/node";
 * import { WebSocketController } from "switchboard";
 *
 * const server = await serve({ port: 0, routes: { "/ws": new WebSocketController() } });
 * await server.stop();
 * ```
 */
export function serve(options: ServeOptions): Promise<Server> {
  return serveWith(options, async ({ port, hostname, router, fetch, headersTimeout, idleTimeout }) => {
    const plain = (request: Request): Response | Promise<Response> =>
      router.dispatch(
        request.url,
        (name) => request.headers.get(name),
        // Node sends a request that asks for a WebSocket without `Connection: Upgrade` here, not
        // to `upgrade`: the core refuses it as it would on Bun and Deno (400, and counted).
        (route) => refuseAsHandshake(route.controller, request),
        fetch && (() => fetch(request)),
      );
    const server = createServer({
      headersTimeout,
      // Node requires the whole-request timeout to be at least the headers one; bodies keep Node's 300 s.
      requestTimeout: Math.max(headersTimeout, 300_000),
      keepAliveTimeout: idleTimeout,
      // How often Node looks for requests past their timeouts (its default, 30 s, would make 10 s ~40 s).
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    }, requestListener(plain));
    const attachment: Attachment = { router, fallback: fetch, listener: (request, socket, head) => routeUpgrade(server, attachment, request, socket, head) };
    server.on("upgrade", attachment.listener);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    return {
      port: typeof address === "object" && address ? address.port : port,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  });
}
