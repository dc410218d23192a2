/**
 * Switchboard: WebSocket endpoints that run unchanged on Bun, Deno and Node.
 * Extend {@linkcode WebSocketController}, override the hooks you need, and
 * serve it; the library owns the registry, broadcast and rooms, history with
 * catch-up, heartbeats, limits, slow consumers and shutdown.
 *
 * @example
 * ```ts
 * import { type Connection, serve, WebSocketController } from "switchboard";
 *
 * class Chat extends WebSocketController<{ name: string }> {
 *   override onUpgrade(req) {
 *     return { userData: { name: req.query.get("name") ?? "guest" } };
 *   }
 *   override onConnect(conn: Connection<{ name: string }>) {
 *     conn.join("general");
 *   }
 *   override onTextMessage(conn: Connection<{ name: string }>, text: string) {
 *     this.broadcastJson({ from: conn.userData.name, text }, { room: "general" });
 *   }
 * }
 *
 * const server = await serve({ port: 8080, routes: { "/chat": new Chat() } });
 * ```
 *
 * @module
 */
import { currentRuntime } from "./src/server/runtime.ts";
import type { ServeOptions, Server } from "./src/server/types.ts";

export { WebSocketController } from "./src/core/controller.ts";
export type { Connection } from "./src/core/connection.ts";
export type { BroadcastOptions, RecordedBroadcastOptions, ShutdownOptions } from "./src/core/endpoint.ts";
export { CloseCode, isSendableCloseCode } from "./src/core/close-codes.ts";
export type { CloseCodeValue } from "./src/core/close-codes.ts";
export { SwitchboardError } from "./src/core/errors.ts";
export type { SwitchboardErrorCode } from "./src/core/errors.ts";
export { MemoryHistory } from "./src/core/history.ts";
export type { History, HistoryData, HistoryEntry, HistoryMeta, SinceResult } from "./src/core/history.ts";
export { DEFAULT_OPTIONS } from "./src/core/options.ts";
export type { ControllerOptions, ResolvedOptions, SlowConsumerPolicy } from "./src/core/options.ts";
export type { Capabilities } from "./src/core/socket.ts";
export type { ControllerStats } from "./src/core/stats.ts";
export { UpgradeRequest } from "./src/core/upgrade.ts";
export type { UpgradeAccept, UpgradeRequestInit, UpgradeResult } from "./src/core/upgrade.ts";
export { currentRuntime } from "./src/server/runtime.ts";
export type { AnyController, FetchHandler, Routes, ServeOptions, Server } from "./src/server/types.ts";

/**
 * Starts a server with the adapter of the runtime this runs on: `Bun.serve`
 * on Bun, `Deno.serve` on Deno, `node:http` with `ws` on Node.
 *
 * @example
 * ```ts
 * const server = await serve({ port: 0, routes: { "/ws": new Echo() } });
 * console.log(`listening on ${server.url}`);
 * await server.stop();
 * ```
 */
export async function serve(options: ServeOptions): Promise<Server> {
  switch (currentRuntime()) {
    case "bun":
      return (await import("./src/adapters/bun/mod.ts")).serve(options);
    case "deno":
      return (await import("./src/adapters/deno/mod.ts")).serve(options);
    default:
      return (await import("./src/adapters/node/mod.ts")).serve(options);
  }
}
