import { parse } from "regexparam";
import type { AnyController, Routes } from "./types.ts";

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A matched route: its controller and the path parameters. */
export interface RouteMatch {
  readonly controller: AnyController;
  readonly params: Record<string, string>;
}

interface PatternRoute {
  readonly keys: string[];
  readonly pattern: RegExp;
  readonly controller: AnyController;
}

/**
 * Matches request paths against WebSocket routes: exact paths by map lookup,
 * patterns (`:param`, `*`) with regexparam, in the order given.
 */
export class Router {
  readonly #exact: Map<string, AnyController> = new Map();
  readonly #patterns: PatternRoute[] = [];

  /** Compiles the routes; a path must start with "/". */
  constructor(routes: Routes) {
    for (const [path, controller] of Object.entries(routes)) {
      if (!path.startsWith("/")) {
        throw new TypeError(`Cannot add route as its path must start with "/": current value is '${path}'`);
      }
      if (path.includes(":") || path.includes("*")) {
        const { keys, pattern } = parse(path);
        this.#patterns.push({ keys, pattern, controller });
      } else {
        this.#exact.set(path, controller);
      }
    }
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
