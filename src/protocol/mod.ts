/**
 * `switchboard/protocol`: typed protocols on Standard Schema. Declare the
 * messages both ways once, with any validator that implements Standard
 * Schema (zod 4, valibot 1, arktype; switchboard depends on none), and get:
 *
 * - a {@linkcode ProtocolController} that decodes, validates (sync or async)
 *   and dispatches each message to one typed handler, answers the wire
 *   protocol's `ping`, and replies to bad input with a documented error frame
 *   listing each issue's path and message (the connection stays open);
 * - typed, optionally validated `send` and `broadcast`;
 * - rate limits per message type, per connection and per key (a client
 *   address, a user), in exact sliding windows with bounded memory;
 * - the same types in `switchboard/client`, by `import type` only:
 *   `connect<typeof protocol>(url)`;
 * - the protocol as JSON Schema and as an AsyncAPI 3.0 document.
 *
 * @example
 * ```ts
 * import { type Connection, MemoryDedupe, serve } from "switchboard";
 * import { defineProtocol, MessageRefused, ProtocolController, type ProtocolHandlers } from "switchboard/protocol";
 * import { z } from "zod";
 *
 * export const chat = defineProtocol({
 *   client: {
 *     say: z.object({ text: z.string().min(1).max(500) }),
 *     typing: z.object({}),
 *   },
 *   server: {
 *     said: z.object({ from: z.string(), text: z.string() }),
 *     typing: z.object({ from: z.string() }),
 *   },
 * });
 * export type ChatProtocol = typeof chat;
 *
 * class Chat extends ProtocolController<ChatProtocol, { name: string }> {
 *   protected readonly handlers: ProtocolHandlers<ChatProtocol, { name: string }> = {
 *     say: (conn, { text }) => {
 *       if (text.includes("spam")) throw new MessageRefused("refused", "Cannot post this: no spam");
 *       this.broadcast("said", { from: conn.userData.name, text });
 *     },
 *     typing: (conn) => {
 *       this.broadcast("typing", { from: conn.userData.name }, { except: conn });
 *     },
 *   };
 *   override onUpgrade() {
 *     return { userData: { name: "guest" } };
 *   }
 * }
 *
 * const controller = new Chat(chat, { dedupe: { store: new MemoryDedupe() } });
 * const server = await serve({ port: 8080, routes: { "/chat": controller } });
 * console.log(JSON.stringify(chat.toAsyncApi({ title: "Chat", version: "1.0.0", channel: "/chat" })));
 * ```
 *
 * @module
 */
export { defineProtocol } from "./define.ts";
export type { Protocol, ProtocolDefinition } from "./define.ts";
export { ProtocolController } from "./controller.ts";
export type { ProtocolControllerOptions, ProtocolDedupe, ProtocolHandlers, Refusal, RefusalReply, ValidateOutbound } from "./controller.ts";
export { DEFAULT_MAX_KEYS, KeyedWindows, SlidingWindow } from "./limits.ts";
export type { MessageLimit, MessageLimits } from "./limits.ts";
export { MessageRefused } from "./errors.ts";
export type { ProtocolErrorCode } from "./errors.ts";
export type { ErrorFrame, ErrorFrameIssue } from "../core/wire/frames.ts";
export { isStandardSchema, RESERVED_CLIENT_TYPES, RESERVED_SERVER_TYPES, validate } from "./validate.ts";
export type { MessageIssue, Validation } from "./validate.ts";
export { JSON_SCHEMA_TARGET, toAsyncApi, toJsonSchema } from "./json-schema.ts";
export type { AsyncApiDocument, AsyncApiOptions, JsonSchema, JsonSchemaOptions, ProtocolJsonSchema } from "./json-schema.ts";
export type {
  ClientMessage,
  FrameFields,
  InferInput,
  InferOutput,
  MessageFrameOf,
  MessageSchemas,
  ProtocolShape,
  ReceivedMessage,
  SentMessage,
  ServerMessage,
  StandardIssue,
  StandardJsonSchemaOptions,
  StandardPathSegment,
  StandardResult,
  StandardSchema,
} from "./types.ts";
