import { parse } from "regexparam";
import { hubOf } from "../core/_access.ts";
import { describe } from "../core/_check.ts";
import { type HeaderReader, wantsWebSocket } from "../core/_handshake.ts";
import type { WebSocketController } from "../core/controller.ts";

/** Any controller, whatever its user data type. */
// deno-lint-ignore no-explicit-any
export type AnyController = WebSocketController<any>;

/**
 * WebSocket routes: a path or a pattern (`/chat/:room`, `/files/*`) to the
 * controller that serves it. Exact paths win over patterns; patterns are tried
 * in the order given, and one that an earlier pattern always wins over is an error.
 */
export type Routes = Record<string, AnyController>;

/** A matched route: its controller and the path parameters. */
export interface RouteMatch {
  /** The controller of the route. */
  readonly controller: AnyController;
  /** The path parameters, decoded. */
  readonly params: Record<string, string>;
}

interface PatternRoute {
  readonly path: string;
  readonly keys: string[];
  readonly pattern: RegExp;
  readonly controller: AnyController;
}

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * Matches request paths against WebSocket routes: exact paths by map lookup,
 * patterns (`:param`, `*`) with regexparam, in the order given. Checks the
 * routes as it compiles them (TypeErrors), and names each controller after
 * its first route unless it has a `name`.
 */
export class Router {
  readonly #exact: Map<string, AnyController> = new Map();
  readonly #patterns: PatternRoute[] = [];

  /** Compiles the routes; see {@linkcode Routes}. */
  constructor(routes: Routes) {
    this.addAll(routes);
  }

  /** Adds every route, or (on the first TypeError) none of them. */
  addAll(routes: Routes): void {
    if (typeof routes !== "object" || routes === null || Array.isArray(routes)) {
      throw new TypeError(`Cannot add routes as 'routes' must be an object of paths to controllers: current value is ${describe(routes)}`);
    }
    const added: string[] = [];
    try {
      for (const [path, controller] of Object.entries(routes)) {
        this.add(path, controller);
        added.push(path);
      }
    } catch (error) {
      this.remove(added);
      throw error;
    }
  }

  /** Adds one route; a TypeError for a bad path, a value that is not a controller, or a route that can never match. */
  add(path: string, controller: AnyController): void {
    if (!path.startsWith("/")) {
      throw new TypeError(`Cannot add route as its path must start with "/": current value is '${path}'`);
    }
    const hub = hubOf(controller);
    if (!hub) {
      throw new TypeError(`Cannot add route '${path}' as its value must be a WebSocketController: current value is ${describe(controller)}`);
    }
    if (this.#exact.has(path) || this.#patterns.some((route) => route.path === path)) {
      throw new TypeError(`Cannot add route '${path}' as it is already routed`);
    }
    if (path.includes(":") || path.includes("*")) {
      const { keys, pattern } = parse(path);
      const shadow = this.#patterns.find((earlier) => examplesOf(path).every((example) => earlier.pattern.test(example)));
      if (shadow) {
        throw new TypeError(`Cannot add route '${path}' as the earlier route '${shadow.path}' matches every path it would: put it first, or merge them`);
      }
      this.#patterns.push({ path, keys, pattern, controller });
    } else {
      this.#exact.set(path, controller);
    }
    hub.nameAfterRoute(path);
  }

  /** Removes the routes of `paths`. */
  remove(paths: Iterable<string>): void {
    for (const path of paths) {
      this.#exact.delete(path);
      const index = this.#patterns.findIndex((route) => route.path === path);
      if (index >= 0) this.#patterns.splice(index, 1);
    }
  }

  /** Every distinct controller routed. */
  get controllers(): Set<AnyController> {
    return new Set([...this.#exact.values(), ...this.#patterns.map((route) => route.controller)]);
  }

  /** Whether no route is left. */
  get empty(): boolean {
    return this.#exact.size === 0 && this.#patterns.length === 0;
  }

  /** The route for a path (without query), or undefined. */
  match(path: string): RouteMatch | undefined {
    const exact = this.#exact.get(path);
    if (exact) return { controller: exact, params: NO_PARAMS };
    for (const route of this.#patterns) {
      const found = route.pattern.exec(path);
      if (!found) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        const value = found[i + 1];
        if (value !== undefined) params[key] = safeDecode(value);
      });
      return { controller: route.controller, params };
    }
    return undefined;
  }

  /**
   * Route dispatch, the same on every runtime: a WebSocket upgrade on a route
   * goes to `upgrade`; anything else to `otherwise` (the app's HTTP handler)
   * when there is one, else 426 on a route and 404 elsewhere.
   */
  dispatch<T>(url: string, header: HeaderReader, upgrade: (route: RouteMatch) => T, otherwise: (() => T) | undefined): T | Response {
    const route = this.match(pathOf(url));
    if (route && wantsWebSocket(header)) return upgrade(route);
    if (otherwise) return otherwise();
    return route ? upgradeRequired() : notFound();
  }
}

/** Paths a pattern matches, to test whether an earlier pattern matches them all: one segment per param, two for a wildcard. */
function examplesOf(path: string): string[] {
  const withOptional = path.replace(/\/:[^/]+\?/g, "/o");
  const withoutOptional = path.replace(/\/:[^/]+\?/g, "");
  return [...new Set([withOptional, withoutOptional])].map((p) => p.replace(/:[^/]+/g, "p").replace(/\*/g, "w1/w2") || "/");
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The path of a request URL, cheaply: no URL object for the common case. */
export function pathOf(url: string): string {
  const start = url.startsWith("/") ? 0 : url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, end > start ? end : undefined);
}

/** The answer to a plain HTTP request on a WebSocket-only route. */
export function upgradeRequired(): Response {
  return new Response("Upgrade Required: this endpoint speaks WebSocket", {
    status: 426,
    headers: { upgrade: "websocket", "content-type": "text/plain; charset=utf-8" },
  });
}

/** The answer to a request on no route when the app has no HTTP handler. */
export function notFound(): Response {
  return new Response("Not Found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
}
