import type { ServeOptions, Server } from "./adapter/mod.ts";
import { currentRuntime } from "./runtime.ts";

/**
 * Starts a server with the adapter of the runtime this runs on: `Bun.serve`
 * on Bun, `Deno.serve` on Deno, `node:http` with `ws` on Node.
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
      return (await import("./adapters/bun/mod.ts")).serve(options);
    case "deno":
      return (await import("./adapters/deno/mod.ts")).serve(options);
    default:
      return (await import("./adapters/node/mod.ts")).serve(options);
  }
}
