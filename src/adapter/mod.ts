/**
 * The adapter contract, for writing a runtime adapter outside the project:
 * what the core needs from a socket ({@linkcode Transport}), the events it
 * takes back ({@linkcode TransportEvents}), and the steps every adapter
 * shares: the upgrade decision ({@linkcode prepareUpgrade}), route dispatch
 * ({@linkcode Router}) and the `serve()` wrapper ({@linkcode serveWith}).
 * The Bun, Deno and Node adapters import nothing else from the core.
 *
 * An adapter translates, and only that: the runtime's request into
 * `prepareUpgrade`'s init, the decision into the runtime's upgrade, the
 * runtime socket into a `Transport`, and its events (with close codes
 * normalised to what the peer was sent) into the `TransportEvents` that
 * `open` returns.
 *
 * @experimental The contract may change before 1.0.
 *
 * @example A sketch of an adapter's upgrade path
 * ```ts
 * import { copyHeaders, prepareUpgrade, type Transport } from "switchboard/adapter";
 * import { WebSocketController } from "switchboard";
 *
 * declare function runtimeUpgrade(request: Request, protocol: string): { socket: Transport; onOpen(f: () => void): void };
 * const controller = new WebSocketController();
 *
 * async function handle(request: Request): Promise<Response | undefined> {
 *   const decision = await prepareUpgrade(controller, {
 *     method: request.method,
 *     url: request.url,
 *     headers: copyHeaders(request.headers),
 *   });
 *   if (!decision.accept) return decision.response;
 *   const { socket, onOpen } = runtimeUpgrade(request, decision.protocol);
 *   onOpen(() => {
 *     const events = decision.open(socket);
 *     events.receiveText("hello");
 *   });
 *   return undefined;
 * }
 * ```
 *
 * @module
 */
export type { Capabilities, NativePublisher, NativeSubscriber, PublishResult, Transport, TransportEvents } from "../core/transport.ts";
export { AcceptedUpgrade } from "../core/_upgrade-decision.ts";
export type { RefusedUpgrade, UpgradeDecision } from "../core/_upgrade-decision.ts";
export type { HeaderReader } from "../core/_handshake.ts";
export { wantsWebSocket } from "../core/_handshake.ts";
export { copyHeaders, prepareUpgrade } from "./upgrade.ts";
export { notFound, pathOf, type RouteMatch, Router, upgradeRequired } from "./router.ts";
export type { AnyController, Routes } from "./router.ts";
export { serveWith, shutdownAll } from "./serve.ts";
export { CloseCode } from "../core/close-codes.ts";
export { DEFAULT_OPTIONS } from "../core/options.ts";
export type { FetchHandler, Listening, ListenPlan, ServeOptions, Server } from "./serve.ts";
