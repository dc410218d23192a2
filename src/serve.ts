import type { ServeOptions, Server } from "./adapter/mod.ts";
import { serve as serveOnBun } from "./adapters/bun/mod.ts";
import { serve as serveOnDeno } from "./adapters/deno/mod.ts";
import { currentRuntime } from "./runtime.ts";

/**
 * Starts a server with the adapter of the runtime this runs on: `Bun.serve`
 * on Bun, `Deno.serve` on Deno, `node:http` with `ws` on Node. The Node
 * adapter is loaded only on Node, and loads `ws` by a name Deno never
 * resolves ahead of time (see `adapters/node/ws.ts`).
 *
 * @example
 * ```ts
 * import { serve, WebSocketController } from "switchboard";
 *
 * const server = await serve({ port: 0, routes: { "/ws": new WebSocketController() } });
 * console.log(`listening on ${server.url}`);
 * await server.stop();
 * ```
 */
export async function serve(options: ServeOptions): Promise<Server> {
  switch (currentRuntime()) {
    case "bun":
      return serveOnBun(options);
    case "deno":
      return serveOnDeno(options);
    default:
      // Loaded only here: a Bun or Deno process never evaluates it (nor `node:http`).
      return (await import("./adapters/node/mod.ts")).serve(options);
  }
}
