import type { AnyController, ServeOptions, Server } from "./adapter/mod.ts";

/** What the root entry and the Hono adapter use of the Node adapter. */
export interface NodeAdapter {
  /** See `serve` in `switchboard/node`. */
  serve(options: ServeOptions): Promise<Server>;
  /** See `handleUpgrade` in `switchboard/node`. */
  handleUpgrade(
    request: never,
    socket: never,
    head: never,
    controller: AnyController,
    params?: Record<string, string>,
    context?: Readonly<Record<string, unknown>>,
  ): Promise<void>;
}

/**
 * Where the Node adapter is, spelled so that no tool follows it ahead of
 * time: a Deno app that imports the root entry or `switchboard/hono` then
 * gets no `ws` or `node:http` in its module graph or its lock file, since it
 * never loads this path. The npm build replaces this module with
 * `_load-node-adapter.bundled.ts`, which names the path plainly for the bundler.
 */
const NODE_ADAPTER = ["./adapters", "node", "mod.ts"].join("/");

/** Loads the Node adapter (only on Node). */
export function loadNodeAdapter(): Promise<NodeAdapter> {
  return import(NODE_ADAPTER);
}
