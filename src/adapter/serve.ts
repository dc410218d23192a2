import { checkKnownKeys, checkNumber, checkOptionsObject, describe } from "../core/_check.ts";
import { type AnyController, Router, type Routes } from "./router.ts";

/** A handler for plain HTTP requests, such as Hono's `app.fetch`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * Options of an adapter's `serve()`.
 *
 * @example
 * ```ts
 * import { serve, WebSocketController } from "switchboard";
 *
 * const server = await serve({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   routes: { "/ws": new WebSocketController() },
 *   fetch: () => new Response("hello"),
 * });
 * await server.stop();
 * ```
 */
export interface ServeOptions {
  /** Port to listen on; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default "127.0.0.1". */
  hostname?: string;
  /** WebSocket routes. */
  routes: Routes;
  /** Serves every request that is not a WebSocket upgrade on a route. Default: 404 (426 on a route). */
  fetch?: FetchHandler;
  /**
   * Milliseconds a client may take to send a request's headers; then the
   * connection is closed (a defence against slowloris). Default 10 000.
   * Enforced on Node; Bun has its own fixed bound (about 10 s); Deno has
   * none (see the capability table).
   */
  headersTimeout?: number;
  /**
   * Milliseconds an HTTP connection may stay open with no request in flight;
   * 0 keeps it. Default 10 000. Enforced on Node and Bun (in whole seconds,
   * at most 255); Deno has none (see the capability table). WebSocket
   * connections have their own `idleTimeout` and heartbeat.
   */
  idleTimeout?: number;
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

/** What an adapter's listen step gives back: the bound port, and how to stop listening. */
export interface Listening {
  /** The port bound. */
  readonly port: number;
  /** Stops listening and drops the remaining connections. */
  close(): Promise<void> | void;
}

/** Where and what a listen step serves. */
export interface ListenPlan {
  /** The port to listen on (0: any free one). */
  readonly port: number;
  /** The interface to listen on. */
  readonly hostname: string;
  /** The routes, compiled and checked. */
  readonly router: Router;
  /** The app's HTTP handler, if any. */
  readonly fetch: FetchHandler | undefined;
  /** See {@linkcode ServeOptions.headersTimeout}. */
  readonly headersTimeout: number;
  /** See {@linkcode ServeOptions.idleTimeout}. */
  readonly idleTimeout: number;
}

const SERVE_KEYS: ReadonlySet<string> = new Set(["port", "hostname", "routes", "fetch", "headersTimeout", "idleTimeout"]);

/**
 * The `serve()` of every adapter: checks the options, compiles the routes,
 * lets the adapter start the runtime's server (`listen`), and returns the
 * {@linkcode Server}, whose `stop()` shuts the controllers down first.
 */
export async function serveWith(options: ServeOptions, listen: (plan: ListenPlan) => Promise<Listening> | Listening): Promise<Server> {
  const action = "start server";
  checkOptionsObject(action, options);
  if (options === undefined) throw new TypeError(`Cannot ${action} as the options are missing: pass { routes }`);
  checkKnownKeys(action, options, SERVE_KEYS);
  if (options.fetch !== undefined && typeof options.fetch !== "function") {
    throw new TypeError(`Cannot ${action} as 'fetch' must be a function: current value is ${describe(options.fetch)}`);
  }
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot ${action} as 'port' must be between 0 and 65535: current value is ${describe(port)}`);
  }
  const hostname = options.hostname ?? "127.0.0.1";
  if (typeof hostname !== "string" || hostname.length === 0) {
    throw new TypeError(`Cannot ${action} as 'hostname' must be a non-empty string: current value is ${describe(hostname)}`);
  }
  if (options.routes === undefined) {
    throw new TypeError(`Cannot ${action} as 'routes' is missing: pass { routes: { "/path": controller } }`);
  }
  const headersTimeout = checkNumber(action, "headersTimeout", options.headersTimeout, 10_000, { min: 1 });
  const idleTimeout = checkNumber(action, "idleTimeout", options.idleTimeout, 10_000, { min: 0 });
  const router = new Router(options.routes);
  const listening = await listen({ port, hostname, router, fetch: options.fetch, headersTimeout, idleTimeout });
  const controllers = router.controllers;
  return {
    port: listening.port,
    hostname,
    url: `http://${hostname}:${listening.port}`,
    async stop() {
      await shutdownAll(controllers);
      await listening.close();
    },
  };
}

/** Shuts down each controller. */
export async function shutdownAll(controllers: Iterable<AnyController>): Promise<void> {
  await Promise.all([...controllers].map((controller) => controller.shutdown()));
}
