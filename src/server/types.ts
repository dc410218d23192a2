import type { WebSocketController } from "../core/controller.ts";

/**
 * Any controller, whatever its user data type.
 */
// deno-lint-ignore no-explicit-any
export type AnyController = WebSocketController<any>;

/**
 * WebSocket routes: a path or a pattern (`/chat/:room`, `/files/*`) to the
 * controller that serves it. Exact paths win over patterns; patterns are tried
 * in the order given.
 */
export type Routes = Record<string, AnyController>;

/** A handler for plain HTTP requests, such as Hono's `app.fetch`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * Options of an adapter's `serve()`.
 *
 * @example
 * ```ts
 * await serve({ port: 0, hostname: "127.0.0.1", routes: { "/ws": controller }, fetch: app.fetch });
 * ```
 */
export interface ServeOptions {
  /** Port to listen on; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default "127.0.0.1". */
  hostname?: string;
  /** WebSocket routes. */
  routes: Routes;
  /** Serves every request that is not a WebSocket upgrade on a route. Default: 404. */
  fetch?: FetchHandler;
}

/** A running server started by `serve()`. */
export interface Server {
  /** The port it listens on (the bound one when 0 was asked for). */
  readonly port: number;
  /** The interface it listens on. */
  readonly hostname: string;
  /** `http://hostname:port`. */
  readonly url: string;
  /**
   * Shuts every route's controller down (1001 to each client, see
   * `shutdown()`), then stops listening and frees the port.
   */
  stop(): Promise<void>;
}

/** Checks the port option and fills in the defaults. */
export function listenAddress(options: ServeOptions): { port: number; hostname: string } {
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot start server as 'port' must be between 0 and 65535: current value is ${port}`);
  }
  return { port, hostname: options.hostname ?? "127.0.0.1" };
}

/** Whether a request asks for a WebSocket upgrade. */
export function isWebSocketUpgrade(headers: { get(name: string): string | null }): boolean {
  return headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** The answer to a plain HTTP request on a WebSocket-only route. */
export function upgradeRequired(): Response {
  return new Response("Upgrade Required: this endpoint speaks WebSocket", {
    status: 426,
    headers: { upgrade: "websocket", "content-type": "text/plain; charset=utf-8" },
  });
}

/** Shuts down every distinct controller of the routes. */
export async function shutdownRoutes(routes: Routes): Promise<void> {
  await Promise.all([...new Set(Object.values(routes))].map((controller) => controller.shutdown()));
}
