/**
 * The Bun adapter: serves controllers with `Bun.serve`, using Bun's native
 * publish/subscribe for broadcasts and rooms.
 *
 * @example
 * ```ts
 * import { serve } from "switchboard/bun";
 * import { WebSocketController } from "switchboard";
 *
 * const server = await serve({ port: 8080, routes: { "/chat/:room": new WebSocketController() } });
 * ```
 *
 * @example Embedding in a `Bun.serve` you already have
 * ```ts
 * import { type BunServer, upgrade, websocketHandler } from "switchboard/bun";
 * import { WebSocketController } from "switchboard";
 *
 * declare const Bun: { serve(options: object): unknown };
 * const chat = new WebSocketController();
 * Bun.serve({
 *   fetch: (req: Request, server: BunServer) =>
 *     new URL(req.url).pathname === "/ws" ? upgrade(req, server, chat) : new Response("hi"),
 *   websocket: websocketHandler([chat]),
 * });
 * ```
 *
 * @module
 */
import {
  type AcceptedUpgrade,
  type AnyController,
  type Capabilities,
  copyHeaders,
  type FetchHandler,
  prepareUpgrade,
  Router,
  type Routes,
  type ServeOptions,
  type Server,
  serveWith,
  type TransportEvents,
} from "../../adapter/mod.ts";
import { BunTransport, publisherOf } from "./transport.ts";
import type { BunGlobal, BunServer, BunServerWebSocket, BunWebSocketHandler } from "./types.ts";

export type { BunServer, BunServerWebSocket, BunWebSocketHandler } from "./types.ts";
export type { Routes, ServeOptions, Server } from "../../adapter/mod.ts";

/** What Bun's WebSocket server can do; see the README's capability table. */
export const capabilities: Capabilities = {
  runtime: "bun",
  pingPong: true,
  nativePubSub: true,
  runtimeMaxMessageSize: true,
  invalidUtf8CloseFrame: true,
  upgradeHeaders: true,
  terminate: true,
  headersTimeout: false,
  httpIdleTimeout: true,
};

/**
 * The `ws.data` of a switchboard socket: the accepted upgrade until it opens,
 * then the connection's events. Opaque to applications, hence `unknown`.
 */
export type BunSocketData = unknown;

/** What `ws.data` holds until the socket opens. */
interface PendingSocket {
  readonly upgrade: AcceptedUpgrade<unknown>;
  readonly server: BunServer;
}

/**
 * Upgrades a request to a WebSocket served by `controller`, from inside a
 * `Bun.serve` `fetch`. Resolves with `undefined` once upgraded (return that
 * from `fetch`), or with the `Response` to send instead (a refusal).
 * The server's `websocket` must come from {@linkcode websocketHandler}.
 * `context` becomes the request's `context` (values from earlier middleware).
 */
export async function upgrade(
  request: Request,
  server: BunServer,
  controller: AnyController,
  params: Record<string, string> = {},
  context?: Readonly<Record<string, unknown>>,
): Promise<Response | undefined> {
  const decision = await prepareUpgrade(controller, {
    method: request.method,
    url: request.url,
    // A plain copy: lighter than a Headers object for as long as the connection lives.
    headers: copyHeaders(request.headers),
    params,
    remoteAddress: server.requestIP(request)?.address ?? "",
    context,
  });
  if (!decision.accept) return decision.response;
  const headers = decision.headers ?? new Headers();
  // Without this header Bun echoes the client's first protocol; the core has chosen.
  if (decision.protocol) headers.set("sec-websocket-protocol", decision.protocol);
  const data: PendingSocket = { upgrade: decision, server };
  if (server.upgrade(request, { headers, data })) return undefined;
  return new Response("WebSocket upgrade failed", { status: 400 });
}

/**
 * The `websocket` handler for `Bun.serve`. Bun applies one message-size and
 * backpressure limit per server, so pass every controller the server hosts:
 * the largest limits go to Bun, and the core enforces each controller's own.
 */
export function websocketHandler(controllers: Iterable<AnyController>): BunWebSocketHandler<BunSocketData> {
  let maxPayloadLength = 1;
  let backpressureLimit = 1;
  for (const controller of controllers) {
    maxPayloadLength = Math.max(maxPayloadLength, controller.options.maxMessageSize);
    backpressureLimit = Math.max(backpressureLimit, controller.options.maxBufferedAmount);
  }
  return {
    // Bun closes oversized messages itself (1009 to the peer) before reading them whole.
    maxPayloadLength,
    // Past this Bun drops a message and reports 0; the core then applies the slow-consumer policy.
    backpressureLimit,
    closeOnBackpressureLimit: false,
    // The core runs the heartbeat, the same way on Bun and Node.
    idleTimeout: 0,
    sendPings: false,
    publishToSelf: false,
    perMessageDeflate: false,
    open(ws) {
      const pending = ws.data as PendingSocket;
      ws.binaryType = "uint8array";
      const transport = new BunTransport(ws as BunServerWebSocket<unknown>, publisherOf(pending.server));
      pending.upgrade.open(transport, (events) => {
        ws.data = events;
      });
    },
    message(ws, message) {
      const events = ws.data as TransportEvents;
      if (typeof message === "string") events.receiveText(message);
      else events.receiveBinary(message);
    },
    ping(ws, data) {
      (ws.data as TransportEvents).receivePing(data);
    },
    pong(ws, data) {
      (ws.data as TransportEvents).receivePong(data);
    },
    close(ws, code, reason) {
      const events = ws.data as TransportEvents | PendingSocket;
      if ("upgrade" in events) return; // closed before it opened
      events.transportClosed(normaliseCloseCode(code, reason), reason);
    },
  };
}

/** Bun reports its own protocol closes as 1006 with a reason; give them their RFC codes. */
function normaliseCloseCode(code: number, reason: string): number {
  if (code !== 1006) return code;
  // Not "Received too big control frame": that one is a protocol error (1002 to the peer).
  if (reason.includes("too big message")) return 1009;
  if (reason.includes("UTF-8")) return 1007;
  // Every other "Received ..." close (unmasked frame, bad opcode, RSV bit, bad close frame...)
  // is a protocol error that Bun answered with 1002 to the peer (measured on 1.4.4).
  if (reason.startsWith("Received ")) return 1002;
  return code;
}

/** The `fetch` and `websocket` parts for `Bun.serve`, from routes and an optional HTTP handler. */
export interface BunHandler {
  /** Upgrades requests on a route; passes everything else to the `fetch` option (404 without). */
  fetch(request: Request, server: BunServer): Promise<Response | undefined>;
  /** Pass as `websocket` to `Bun.serve`. */
  websocket: BunWebSocketHandler<BunSocketData>;
}

/** Builds the `{ fetch, websocket }` pair for `Bun.serve`. */
export function createHandler(options: { routes: Routes; fetch?: FetchHandler }): BunHandler {
  return handlerFor(new Router(options.routes), options.fetch);
}

function handlerFor(router: Router, fallback: FetchHandler | undefined): BunHandler {
  return {
    async fetch(request, server) {
      return await router.dispatch(
        request.url,
        (name) => request.headers.get(name),
        (route) => upgrade(request, server, route.controller, route.params),
        fallback && ((): Promise<Response | undefined> => Promise.resolve(fallback(request))),
      );
    },
    websocket: websocketHandler(router.controllers),
  };
}

/**
 * Starts `Bun.serve` with the routes (and `fetch` for plain HTTP).
 *
 * @example
 * ```ts
 * import { serve } from "switchboard/bun";
 * import { WebSocketController } from "switchboard";
 *
 * const server = await serve({ port: 0, routes: { "/ws": new WebSocketController() } });
 * console.log(server.url);
 * await server.stop();
 * ```
 */
export function serve(options: ServeOptions): Promise<Server> {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (!bun) return Promise.reject(new TypeError("Cannot start server as this is not Bun: use the adapter of this runtime"));
  return serveWith(options, ({ port, hostname, router, fetch, idleTimeout }) => {
    const handler = handlerFor(router, fetch);
    const server = bun.serve({
      port,
      hostname,
      // Bun counts whole seconds, up to 255; unfinished headers it drops after its own ~10 s.
      idleTimeout: Math.min(255, Math.ceil(idleTimeout / 1000)),
      fetch: handler.fetch,
      websocket: handler.websocket as BunWebSocketHandler<unknown>,
    });
    return { port: server.port ?? port, close: () => server.stop(true) };
  });
}
