import type { ServeOptions, Server } from "./adapter/mod.ts";
import { serve as serveOnBun } from "./adapters/bun/mod.ts";
import { serve as serveOnDeno } from "./adapters/deno/mod.ts";
import { loadNodeAdapter } from "./_load-node-adapter.ts";
import { currentRuntime } from "./runtime.ts";

/**
 * Starts a server with the adapter of the runtime this runs on: `Bun.serve`
 * on Bun, `Deno.serve` on Deno, `node:http` with `ws` on Node. The Bun and
 * Deno adapters need nothing but their runtime; the Node one (with `ws`) is
 * loaded only on Node.
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
      return (await loadNodeAdapter()).serve(options);
  }
}
