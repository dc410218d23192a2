/**
 * `switchboard/client`: a WebSocket client for switchboard servers that
 * reconnects by itself and resumes where it was. It runs in browsers, Node
 * (20 and later), Bun and Deno, with no dependency (on Node 20, which has no
 * global `WebSocket`, it loads `ws`).
 *
 * - Reconnects with exponential backoff and full jitter, sending its
 *   position in every room (`?resume=`), so the server's catch-up is exact.
 * - Keeps each room's recorded messages in id order, each at most once,
 *   none missing within an epoch; a "resync" event comes first when the
 *   server could not continue a room.
 * - Queues sends while cut off (bounded), and retries acknowledged sends
 *   with their idempotency key until the server answers.
 * - Notices a dead link (ping after a silence, no pong) and stops for good
 *   on a close that says so ({@linkcode closeClass}).
 *
 * @example
 * ```ts
 * import { connect, type ClientMessageEvent } from "switchboard/client";
 *
 * const client = connect(() => `wss://chat.example/ws?token=${sessionStorage.getItem("token")}`);
 * client.addEventListener("state", (event) => {
 *   if (event.state === "reconnecting") console.log(`attempt ${event.attempt} in ${Math.round(event.delay ?? 0)} ms`);
 * });
 * client.addEventListener("message", (event: ClientMessageEvent) => {
 *   if (event.room) console.log(`#${event.room} ${event.position?.id}`, event.data);
 * });
 * client.send({ type: "typing" }); // at most once, queued while cut off
 * try {
 *   await client.send({ type: "say", text: "hi" }, { ack: true, key: "msg-1" });
 * } catch (error) {
 *   console.error(error); // a ClientError: the server's code, "queue_full" or "closed"
 * }
 * ```
 *
 * @module
 */
export { type AckedSendData, type AckOptions, connect, type SendData, SwitchboardClient } from "./client.ts";
export { ClientError } from "./errors.ts";
export {
  ClientErrorEvent,
  type ClientEventMap,
  ClientMessageEvent,
  type ClientState,
  ClientStateEvent,
  type ClientStateInit,
  DroppedEvent,
  type IncomingData,
  LeftEvent,
  ResyncEvent,
  WelcomeEvent,
} from "./events.ts";
export type { ClientOptions, ClientUrl } from "./options.ts";
export type { WebSocketConstructor, WebSocketLike } from "./socket.ts";
export type { Outgoing } from "./send-queue.ts";
export { type CloseClass, closeClass, FIRST_STOP_CODE } from "../core/wire/close-class.ts";
export {
  ACK_FIELD,
  ACK_KEY,
  type AckError,
  type AckFrame,
  type ClientFrame,
  type ErrorFrame,
  type ErrorFrameIssue,
  type JoinedFrame,
  type JoinFrame,
  type LeaveFrame,
  type LeftFrame,
  type MessageFrame,
  type PingFrame,
  type PongFrame,
  type ReconnectFrame,
  RESUME_PARAM,
  type RoomState,
  type ServerFrame,
  type WelcomeFrame,
  WIRE_VERSION,
  type WirePosition,
} from "../core/wire/frames.ts";
