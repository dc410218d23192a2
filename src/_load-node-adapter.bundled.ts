import type { NodeAdapter } from "./_load-node-adapter.ts";

/** The npm build's `loadNodeAdapter` (see `_load-node-adapter.ts`): the same, with a path the bundler follows. */
export function loadNodeAdapter(): Promise<NodeAdapter> {
  return import("./adapters/node/mod.ts") as Promise<NodeAdapter>;
}
