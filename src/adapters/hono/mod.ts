/**
 * The Hono adapter: a Hono handler that upgrades a route to a WebSocket served
 * by a controller, on Bun, Deno and Node alike. Path parameters (`c.req.param()`)
 * and the variables earlier middleware set (`c.set(...)`, read as `c.var`)
 * reach `onUpgrade` as `request.params` and `request.context`; a middleware in
 * front of it (auth, rate limits) can refuse the upgrade with its own response.
 *
 * Serving differs by runtime only in the last line: pass {@linkcode websocket}
 * to `Bun.serve` or to `@hono/node-server`'s `serve` (v2, which routes upgrade
 * requests through `app.fetch`); `Deno.serve(app.fetch)` needs nothing more.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { WebSocketController, type Connection, type UpgradeRequest } from "switchboard";
 * import { upgradeWebSocket, websocket } from "switchboard/hono";
 *
 * class Chat extends WebSocketController<{ user: string; room: string }> {
 *   override onUpgrade(req: UpgradeRequest) {
 *     return { userData: { user: req.context.user as string, room: req.params.room ?? "lobby" } };
 *   }
 *   override onTextMessage(conn: Connection<{ user: string; room: string }>, text: string) {
 *     this.broadcastJson({ from: conn.userData.user, text }, { room: conn.userData.room });
 *   }
 * }
 *
 * const app = new Hono<{ Variables: { user: string } }>();
 * app.use("/ws/*", async (c, next) => {
 *   const user = c.req.query("token") === "secret" ? "alice" : undefined;
 *   if (!user) return c.text("Unauthorized", 401);
 *   c.set("user", user);
 *   await next();
 * });
 * app.get("/ws/:room", upgradeWebSocket(new Chat()));
 *
 * // Bun:  Bun.serve({ fetch: app.fetch, websocket });
 * // Node: import { serve } from "@hono/node-server"; serve({ fetch: app.fetch, websocket });
 * // Deno: Deno.serve(app.fetch);
 * ```
 *
 * @module
 */
import { type AnyController, DEFAULT_OPTIONS, wantsWebSocket } from "../../adapter/mod.ts";
import { currentRuntime } from "../../runtime.ts";

/** A name, not a literal import, so a Deno app never resolves this Node-only peer (as with `ws`: `../node/ws.ts`). */
const HONO_NODE_SERVER: string = "@hono/node-server";
import { upgrade as bunUpgrade, websocketHandler } from "../bun/mod.ts";
import type { BunServer, BunSocketData, BunWebSocketHandler } from "../bun/mod.ts";
import { upgrade as denoUpgrade } from "../deno/mod.ts";
import type { DenoServeInfo } from "../deno/mod.ts";

/**
 * The `websocket.server` that `@hono/node-server` (v2) takes: it emits upgrade
 * requests to `app.fetch` and, once a handler claims one, hands the socket to
 * `handleUpgrade`. Typed structurally so no Node or `ws` types leak out.
 */
export interface NodeWebSocketServer {
  /** Always `{ noServer: true }`: the HTTP server owns the port. */
  readonly options: { readonly noServer: true };
  /** Takes over a claimed upgrade socket and completes (or refuses) the handshake. */
  handleUpgrade(request: unknown, socket: unknown, head: unknown, callback: unknown): void;
  /** Accepted for compatibility; switchboard emits no events here. */
  on(event: string, listener: (...args: never[]) => void): this;
  /** Accepted for compatibility. */
  off(event: string, listener: (...args: never[]) => void): this;
  /** Accepted for compatibility; emits nothing. */
  emit(event: string, ...args: unknown[]): boolean;
  /** Nothing to close: the controllers own the connections (see `shutdown()`). */
  close(): void;
}

/**
 * The WebSocket handler to pass to the server: `Bun.serve({ fetch: app.fetch,
 * websocket })` on Bun, and `serve({ fetch: app.fetch, websocket })` from
 * `@hono/node-server` on Node (which reads its `server` field). Deno needs none.
 */
export interface HonoWebSocket extends BunWebSocketHandler<BunSocketData> {
  /** What `@hono/node-server` uses; Bun ignores it. */
  readonly server: NodeWebSocketServer;
}

/**
 * The parts of Hono's `Context` the handler reads, typed structurally so the
 * public types do not depend on `hono` (an optional peer) and any Hono 4
 * context fits.
 */
export interface HonoContextLike {
  /** The request: `raw` is the runtime's `Request`, `param()` the path parameters. */
  readonly req: { readonly raw: Request; param(): unknown };
  /** The server's bindings: Bun's server, Deno's serve info, or `@hono/node-server`'s `{ incoming, outgoing }`. */
  readonly env: unknown;
  /** The variables earlier middleware set with `c.set()`. */
  readonly var: unknown;
}

/**
 * A Hono middleware handler, as `app.get()` and `app.use()` take it; typed
 * structurally (see {@linkcode HonoContextLike}).
 */
export type HonoHandler = (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | void>;

/** What `@hono/node-server` passes as `c.env` for a request. */
interface NodeBindings {
  readonly incoming?: NodeIncoming;
  readonly outgoing?: unknown;
  readonly wss?: unknown;
}

/** The parts of `node:http`'s `IncomingMessage` this module touches. */
interface NodeIncoming {
  readonly socket: unknown;
}

/** An upgrade claimed by a Hono handler, waiting for `@hono/node-server` to hand over its socket. */
interface PendingUpgrade {
  readonly controller: AnyController;
  readonly params: Record<string, string>;
  readonly context: Readonly<Record<string, unknown>>;
  readonly node: typeof import("../node/mod.ts");
}

const pendingUpgrades = new WeakMap<object, PendingUpgrade>();

const nodeServer: NodeWebSocketServer = {
  options: { noServer: true },
  handleUpgrade(request, socket, head) {
    const pending = pendingUpgrades.get(request as object);
    pendingUpgrades.delete(request as object);
    const duplex = socket as { destroy(): void };
    if (!pending) return duplex.destroy();
    // The core decides here (onUpgrade) and writes a refusal itself, body included. The
    // callback, which would resolve @hono/node-server's own WebSocket helper, is never
    // called: switchboard owns the socket, and the server drops its waiter when it closes.
    pending.node
      .handleUpgrade(request as never, socket as never, head as never, pending.controller, pending.params, pending.context)
      .catch(() => duplex.destroy());
  },
  on() {
    return this;
  },
  off() {
    return this;
  },
  emit() {
    return false;
  },
  close() {},
};

/**
 * Pass to `Bun.serve` or to `@hono/node-server`'s `serve` as `websocket`.
 * On Bun, its message-size and backpressure limits grow to the largest of
 * every controller given to {@linkcode upgradeWebSocket}, so create the routes
 * before starting the server.
 */
export const websocket: HonoWebSocket = {
  ...websocketHandler([]),
  // The defaults until a controller asks for more; Bun reads them when the server starts.
  maxPayloadLength: DEFAULT_OPTIONS.maxMessageSize,
  backpressureLimit: DEFAULT_OPTIONS.maxBufferedAmount,
  server: nodeServer,
};

/** `@hono/node-server`'s own upgrade helper, which registers the upgrade so the server calls `handleUpgrade`. */
let nodeClaim: Promise<HonoHandler> | undefined;

async function upgradeOnNode(
  c: HonoContextLike,
  controller: AnyController,
  params: Record<string, string>,
  context: Readonly<Record<string, unknown>>,
): Promise<Response> {
  const env = c.env as NodeBindings | undefined;
  if (!env?.incoming || env.outgoing !== undefined || env.wss !== nodeServer) {
    // Plain requests (no `websocket` option) and another `ws` server cannot hand the socket over.
    throw new TypeError(
      "Cannot upgrade as the Node server does not route upgrades to switchboard: serve the app with " +
        '`serve({ fetch: app.fetch, websocket })` from "@hono/node-server" (v2) and "switchboard/hono"',
    );
  }
  const [node, claim] = await Promise.all([
    import("../node/mod.ts"),
    (nodeClaim ??= import(HONO_NODE_SERVER).then((m: { upgradeWebSocket(f: () => object): unknown }) => m.upgradeWebSocket(() => ({})) as HonoHandler)),
  ]);
  pendingUpgrades.set(env.incoming, { controller, params, context, node });
  const response = await claim(c, () => Promise.resolve());
  return response ?? new Response(null);
}

/**
 * A Hono handler that upgrades the route to a WebSocket served by
 * `controller`: `app.get("/ws/:room", upgradeWebSocket(chat))`. As with Hono's
 * own helper, a request that is not an upgrade goes to the next handler.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bearerAuth } from "hono/bearer-auth";
 * import { WebSocketController } from "switchboard";
 * import { upgradeWebSocket } from "switchboard/hono";
 *
 * const app = new Hono();
 * app.get("/ws/:room", bearerAuth({ token: "secret" }), upgradeWebSocket(new WebSocketController()));
 * ```
 */
export function upgradeWebSocket(controller: AnyController): HonoHandler {
  const limits = controller.options;
  websocket.maxPayloadLength = Math.max(websocket.maxPayloadLength, limits.maxMessageSize);
  websocket.backpressureLimit = Math.max(websocket.backpressureLimit, limits.maxBufferedAmount);
  return async (c, next) => {
    // Like Hono's own helper: anything but an upgrade is for the next handler (Hono's 404 without one).
    if (!wantsWebSocket((name) => c.req.raw.headers.get(name))) return next();
    const params = c.req.param() as Record<string, string>;
    // `c.var` is a fresh object per read; copy it anyway, the connection outlives the request.
    const context: Readonly<Record<string, unknown>> = { ...(c.var as Record<string, unknown>) };
    switch (currentRuntime()) {
      case "bun": {
        const env = c.env as { server?: BunServer } & Partial<BunServer> | undefined;
        const server = env && "server" in env ? env.server : env as BunServer | undefined;
        if (typeof server?.upgrade !== "function") {
          throw new TypeError("Cannot upgrade as the Bun server is missing: serve with `Bun.serve({ fetch: app.fetch, websocket })`");
        }
        return (await bunUpgrade(c.req.raw, server, controller, params, context)) ?? new Response(null);
      }
      case "deno":
        return denoUpgrade(c.req.raw, c.env as DenoServeInfo | undefined, controller, params, context);
      default:
        return upgradeOnNode(c, controller, params, context);
    }
  };
}
