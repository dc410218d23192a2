/**
 * The Node adapter: serves controllers on a `node:http` server through `ws`
 * (in `noServer` mode, on the server's `upgrade` event). Plain HTTP requests
 * go to a fetch handler through a small bridge (`fetch-bridge.ts`).
 *
 * @example
 * ```ts
 * import { serve } from "switchboard/node";
 * const server = await serve({ port: 8080, routes: { "/chat/:room": new ChatController() } });
 * ```
 *
 * @example Attaching to a `node:http` server you already have
 * ```ts
 * import { createServer } from "node:http";
 * import { attach } from "switchboard/node";
 * const server = createServer((req, res) => res.end("hi"));
 * attach(server, { "/ws": controller });
 * server.listen(8080);
 * ```
 *
 * @module
 */
import type { IncomingMessage, Server as HttpServer } from "node:http";
import { createServer } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { endpointOf } from "../../core/controller.ts";
import type { Endpoint } from "../../core/endpoint.ts";
import type { Capabilities } from "../../core/socket.ts";
import { type UpgradeDecision, UpgradeRequest } from "../../core/upgrade.ts";
import { pathOf, Router } from "../../server/router.ts";
import {
  type AnyController,
  type FetchHandler,
  listenAddress,
  type Routes,
  type ServeOptions,
  type Server,
  shutdownRoutes,
  upgradeRequired,
} from "../../server/types.ts";
import { requestFrom, requestListener } from "./fetch-bridge.ts";
import { writeRawResponse } from "./raw-response.ts";
import { NodeTransport } from "./transport.ts";

export type { Routes, ServeOptions, Server } from "../../server/types.ts";

/** What Node with `ws` can do; see the README's capability table. */
export const capabilities: Capabilities = {
  runtime: "node",
  pingPong: true,
  nativePubSub: false,
  runtimeMaxMessageSize: true,
  invalidUtf8CloseFrame: true,
  upgradeHeaders: true,
  terminate: true,
};

type Accepted = Extract<UpgradeDecision<unknown>, { accept: true }>;

/** The verdict for an upgrade in flight, read by `ws`'s protocol and headers callbacks. */
const verdicts = new WeakMap<IncomingMessage, Accepted>();
/** One `ws` server per controller, so each gets its own `maxPayload`. */
const socketServers = new WeakMap<Endpoint<unknown>, WebSocketServer>();

function socketServerFor(endpoint: Endpoint<unknown>): WebSocketServer {
  let wss = socketServers.get(endpoint);
  if (wss) return wss;
  wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    // ws closes oversized messages itself (1009 to the peer) before reading them whole.
    maxPayload: endpoint.options.maxMessageSize,
    handleProtocols: (_offered, request) => verdicts.get(request)?.protocol || false,
  });
  wss.on("headers", (headers: string[], request: IncomingMessage) => {
    verdicts.get(request)?.headers?.forEach((value, name) => headers.push(`${name}: ${value}`));
  });
  socketServers.set(endpoint, wss);
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

/**
 * Upgrades one `upgrade` event to a WebSocket served by `controller`, or
 * answers it with the refusal from `onUpgrade`. For servers that route
 * upgrades themselves; {@linkcode attach} does the routing for you.
 * `context` becomes the request's `context` (values from earlier middleware).
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
  const endpoint = endpointOf(controller) as Endpoint<unknown>;
  const upgradeRequest = new UpgradeRequest({
    url: `http://${request.headers.host ?? "localhost"}${request.url ?? "/"}`,
    // Node's own parsed headers: turned into Headers only if the application reads them.
    headers: request.headers,
    params,
    remoteAddress: plainAddress(request.socket.remoteAddress),
    context,
  });
  const decision = await endpoint.upgrade(upgradeRequest);
  if (!decision.accept) return writeRawResponse(socket, decision.response);
  if (socket.destroyed) return;
  const wss = socketServerFor(endpoint);
  verdicts.set(request, decision);
  wss.handleUpgrade(request, socket, head, (ws) => {
    verdicts.delete(request);
    const transport = new NodeTransport(ws);
    transport.bind(endpoint.open(transport, decision));
  });
}

/**
 * Serves the routes on an existing `node:http` server's `upgrade` event.
 * Upgrades on other paths go to `fallback` when given (as `serve({ fetch })`
 * does on every runtime), else are left to other listeners, or refused with
 * 404 when there are none. Returns a function that detaches again.
 */
export function attach(server: HttpServer, routes: Routes, fallback?: FetchHandler): () => void {
  const router = new Router(routes);
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const match = router.match(pathOf(request.url ?? "/"));
    if (match) {
      handleUpgrade(request, socket, head, match.controller, match.params).catch(() => socket.destroy());
    } else if (fallback || server.listenerCount("upgrade") === 1) {
      socket.on("error", destroySocket);
      const answer = fallback
        ? new Promise<Response>((resolve) => resolve(fallback(requestFrom(request))))
        : Promise.resolve(new Response("Not Found", { status: 404 }));
      answer.then((response) => writeRawResponse(socket, response)).catch(() => socket.destroy());
    }
  };
  server.on("upgrade", onUpgrade);
  return () => server.off("upgrade", onUpgrade);
}

/**
 * Starts a `node:http` server with the routes (and `fetch` for plain HTTP).
 *
 * @example
 * ```ts
 * const server = await serve({ port: 0, routes: { "/ws": new Echo() } });
 * await server.stop();
 * ```
 */
export async function serve(options: ServeOptions): Promise<Server> {
  const { port, hostname } = listenAddress(options);
  const router = new Router(options.routes);
  const fallback = options.fetch ??
    ((request: Request) => router.match(pathOf(request.url)) ? upgradeRequired() : new Response("Not Found", { status: 404 }));
  const server = createServer(requestListener(fallback));
  attach(server, options.routes, options.fetch);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  return {
    port: boundPort,
    hostname,
    url: `http://${hostname}:${boundPort}`,
    async stop() {
      await shutdownRoutes(options.routes);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
