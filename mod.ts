/**
 * Switchboard: WebSocket endpoints that run unchanged on Bun, Deno and Node.
 * Extend {@linkcode WebSocketController}, override the hooks you need, and
 * serve it; the library owns the registry, broadcast and rooms, history with
 * catch-up, heartbeats, limits, slow consumers and shutdown.
 *
 * @example
 * ```ts
 * import { type Connection, serve, type UpgradeRequest, WebSocketController } from "switchboard";
 *
 * class Chat extends WebSocketController<{ name: string }> {
 *   override onUpgrade(req: UpgradeRequest) {
 *     return { userData: { name: req.query.get("name") ?? "guest" } };
 *   }
 *   override async onConnect(conn: Connection<{ name: string }>) {
 *     const since = Number(conn.request.query.get("since") ?? 0);
 *     const { entries } = await conn.join("general", { since });
 *     for (const entry of entries) conn.sendText(entry.data as string);
 *   }
 *   override async onTextMessage(conn: Connection<{ name: string }>, text: string) {
 *     await this.broadcastJson(({ id }) => ({ id, from: conn.userData.name, text }), { room: "general", record: true });
 *   }
 * }
 *
 * const server = await serve({ port: 8080, routes: { "/chat": new Chat() } });
 * ```
 *
 * @module
 */
export { WebSocketController } from "./src/core/controller.ts";
export type { BroadcastOptions, RecordedBroadcastOptions, ShutdownOptions } from "./src/core/controller.ts";
export type { CatchUp, Connection, JoinOptions, PresenceOptions } from "./src/core/connection.ts";
export { CloseCode, isSendableCloseCode } from "./src/core/close-codes.ts";
export type { CloseCodeValue } from "./src/core/close-codes.ts";
export type { EndpointEngine, Engine, EngineEndpoint, EngineState, EngineStats } from "./src/core/engine.ts";
export { SwitchboardError } from "./src/core/errors.ts";
export type { SwitchboardErrorCode } from "./src/core/errors.ts";
export { NO_POSITION, parsePosition } from "./src/core/history.ts";
export type { History, HistoryData, HistoryEntry, HistoryMeta, Position, SinceResult } from "./src/core/history.ts";
export { MemoryHistory } from "./src/core/memory-history.ts";
export type { MemoryHistoryOptions } from "./src/core/memory-history.ts";
export { MemoryPresence } from "./src/core/presence.ts";
export type { PresenceChange, PresenceEntry, PresenceStore } from "./src/core/presence.ts";
export { DEFAULT_OPTIONS } from "./src/core/options.ts";
export type { ControllerOptions, RateLimitAction, RateLimitOptions, ResolvedOptions, ResolvedRateLimit, SlowConsumerPolicy } from "./src/core/options.ts";
export type { Capabilities } from "./src/core/transport.ts";
export type { ControllerStats } from "./src/core/stats.ts";
export { UpgradeRequest } from "./src/core/upgrade.ts";
export type { UpgradeAccept, UpgradeRequestInit, UpgradeResult } from "./src/core/upgrade.ts";
export { ACK_FIELD, ACK_KEY, isMessageFrame, isWirePosition, MAX_RESUME_ROOMS, RESUME_PARAM, WIRE_VERSION } from "./src/core/wire/frames.ts";
export type {
  AckError,
  AckFrame,
  ClientFrame,
  ErrorFrame,
  ErrorFrameIssue,
  JoinedFrame,
  JoinFrame,
  LeaveFrame,
  LeftFrame,
  MessageFrame,
  PingFrame,
  PongFrame,
  ReconnectFrame,
  RoomState,
  ServerFrame,
  WelcomeFrame,
  WirePosition,
} from "./src/core/wire/frames.ts";
export { decodeResume, encodeResume, readResume } from "./src/core/wire/resume.ts";
export { closeClass, FIRST_STOP_CODE } from "./src/core/wire/close-class.ts";
export type { CloseClass } from "./src/core/wire/close-class.ts";
export { ackFrame, errorFrame, joinedFrame, leftFrame, messageFrame, parseClientFrame, PONG_FRAME, reconnectFrame, welcomeFrame } from "./src/core/wire/server-frames.ts";
export type { AckOutcome, ClientFrameRead } from "./src/core/wire/server-frames.ts";
export { MemoryDedupe } from "./src/core/wire/dedupe.ts";
export type { Dedupe, DedupeResult, MemoryDedupeOptions } from "./src/core/wire/dedupe.ts";
export { currentRuntime } from "./src/runtime.ts";
export type { AnyController, FetchHandler, Routes, ServeOptions, Server } from "./src/adapter/mod.ts";
export { serve } from "./src/serve.ts";
