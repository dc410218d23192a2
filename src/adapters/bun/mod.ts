/**
 * The Bun adapter: serves controllers with `Bun.serve`, using Bun's native
 * publish/subscribe for broadcasts and rooms.
 *
 * @example
 * ```ts
 * import { serve } from "switchboard/bun";
 * const server = await serve({ port: 8080, routes: { "/chat/:room": new ChatController() } });
 * ```
 *
 * @example Embedding in a `Bun.serve` you already have
 * ```ts
 * import { createHandler } from "switchboard/bun";
 * const ws = createHandler({ routes: { "/ws": controller } });
 * Bun.serve({
 *   fetch: (req, server) => new URL(req.url).pathname === "/ws" ? ws.fetch(req, server) : new Response("hi"),
 *   websocket: ws.websocket,
 * });
 * ```
 *
 * @module
 */
import { endpointOf } from "../../core/controller.ts";
import type { Session } from "../../core/session.ts";
import type { Capabilities } from "../../core/socket.ts";
import { copyHeaders, UpgradeRequest, type UpgradeDecision } from "../../core/upgrade.ts";
import { pathOf, Router } from "../../server/router.ts";
import {
  type AnyController,
  type FetchHandler,
  isWebSocketUpgrade,
  listenAddress,
  type Routes,
  type ServeOptions,
  type Server,
  shutdownRoutes,
  upgradeRequired,
} from "../../server/types.ts";
import { BunTransport, publisherOf } from "./transport.ts";
import type { BunGlobal, BunServer, BunServerWebSocket, BunWebSocketHandler } from "./types.ts";

export type { BunServer, BunServerWebSocket, BunWebSocketHandler } from "./types.ts";
export type { Routes, ServeOptions, Server } from "../../server/types.ts";

/** What Bun's WebSocket server can do; see the README's capability table. */
export const capabilities: Capabilities = {
  runtime: "bun",
  pingPong: true,
  nativePubSub: true,
  runtimeMaxMessageSize: true,
  invalidUtf8CloseFrame: true,
  upgradeHeaders: true,
  terminate: true,
};

/**
 * The `ws.data` of a switchboard socket: the upgrade verdict until it opens,
 * then its session. Opaque to applications (internal types), hence `unknown`.
 */
export type BunSocketData = unknown;

interface PendingSocket {
  readonly pending: true;
  readonly controller: AnyController;
  readonly decision: Extract<UpgradeDecision<unknown>, { accept: true }>;
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
  if (!isWebSocketUpgrade(request.headers)) return upgradeRequired();
  const upgradeRequest = new UpgradeRequest({
    url: request.url,
    // A plain copy: lighter than a Headers object for as long as the connection lives.
    headers: copyHeaders(request.headers),
    params,
    remoteAddress: server.requestIP(request)?.address ?? "",
    context,
  });
  const decision = await endpointOf(controller).upgrade(upgradeRequest);
  if (!decision.accept) return decision.response;
  const headers = decision.headers ?? new Headers();
  // Without this header Bun echoes the client's first protocol; the core has chosen.
  if (decision.protocol) headers.set("sec-websocket-protocol", decision.protocol);
  const data: PendingSocket = { pending: true, controller, decision, server };
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
      endpointOf(pending.controller).open(transport, pending.decision, (session) => {
        ws.data = session;
      });
    },
    message(ws, message) {
      const session = ws.data as Session<unknown>;
      if (typeof message === "string") session.receiveText(message);
      else session.receiveBinary(message);
    },
    ping(ws, data) {
      (ws.data as Session<unknown>).receivePing(data);
    },
    pong(ws, data) {
      (ws.data as Session<unknown>).receivePong(data);
    },
    close(ws, code, reason) {
      const session = ws.data as Session<unknown> | PendingSocket;
      if ("pending" in session) return;
      session.transportClosed(normaliseCloseCode(code, reason), reason);
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
  const router = new Router(options.routes);
  const fallback = options.fetch;
  return {
    async fetch(request, server) {
      const match = router.match(pathOf(request.url));
      if (match && isWebSocketUpgrade(request.headers)) {
        return upgrade(request, server, match.controller, match.params);
      }
      if (fallback) return await fallback(request);
      return match ? upgradeRequired() : new Response("Not Found", { status: 404 });
    },
    websocket: websocketHandler(Object.values(options.routes)),
  };
}

/**
 * Starts `Bun.serve` with the routes (and `fetch` for plain HTTP).
 *
 * @example
 * ```ts
 * const server = await serve({ port: 0, routes: { "/ws": new Echo() } });
 * console.log(server.url);
 * await server.stop();
 * ```
 */
export function serve(options: ServeOptions): Promise<Server> {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (!bun) return Promise.reject(new TypeError("Cannot start server as this is not Bun: use the adapter of this runtime"));
  const { port, hostname } = listenAddress(options);
  const handler = createHandler(options);
  const server = bun.serve({ port, hostname, fetch: handler.fetch, websocket: handler.websocket as BunWebSocketHandler<unknown> });
  const boundPort = server.port ?? port;
  return Promise.resolve({
    port: boundPort,
    hostname,
    url: `http://${hostname}:${boundPort}`,
    async stop() {
      await shutdownRoutes(options.routes);
      await server.stop(true);
    },
  });
}
