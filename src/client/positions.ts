/**
 * Where the client stands in each room, and the rule that keeps a room's
 * recorded messages in id order, each at most once, none missing within an
 * epoch.
 *
 * @module
 */
import { isMessageFrame, isWirePosition, type MessageFrame, type RoomState, type WirePosition } from "../core/wire/frames.ts";

/**
 * What to do with a live message of a room: deliver it (and advance), drop
 * it as one already had, or stop because one or more are missing (or the
 * epoch changed without a welcome or a join to say where to start again).
 */
export type Verdict = "deliver" | "duplicate" | "gap";

/**
 * The verdict on `frame` for a client at `position` in its room (undefined: none yet, so anything
 * is taken). At id 0 the room had no message yet (its epoch may be "" then, the epoch its first
 * message starts is unknown until it comes): its first message, id 1, is taken whatever its epoch.
 */
export function judge(position: WirePosition | undefined, frame: MessageFrame): Verdict {
  if (position === undefined) return "deliver";
  if (position.id === 0 && frame.epoch !== position.epoch) return frame.id === 1 ? "deliver" : "gap";
  if (frame.epoch !== position.epoch) return "gap";
  if (frame.id <= position.id) return "duplicate";
  return frame.id === position.id + 1 ? "deliver" : "gap";
}

/** What a room state (from a welcome or a join) means for a client at `position`. */
export interface CatchUp {
  /** The client had a position and the server could not continue it: the app is told first. */
  readonly resync: boolean;
  /** The messages to deliver, oldest first. */
  readonly messages: readonly MessageFrame[];
  /** The position after them. */
  readonly position: WirePosition;
}

/**
 * The catch-up of a room state: a resync when it is not `resumed` and the
 * client had a position; then the messages past the client's position (same
 * epoch, resumed) or all of them (another epoch, a resync, no position).
 */
export function catchUp(position: WirePosition | undefined, state: RoomState): CatchUp {
  // At id 0 the client had nothing of the room: nothing to replace, so no resync to tell.
  const resync = position !== undefined && position.id > 0 && !state.resumed;
  const continues = position !== undefined && state.resumed && state.epoch === position.epoch;
  const messages = continues
    ? state.messages.filter((m) => m.epoch === position.epoch && m.id > position.id)
    : state.messages;
  return { resync, messages, position: { epoch: state.epoch, id: state.id } };
}

/** Whether `value` has the shape of a {@linkcode RoomState}; its messages are checked one by one too. */
export function isRoomState(value: unknown): value is RoomState {
  if (!isWirePosition(value)) return false;
  const { resumed, messages } = value as unknown as Record<string, unknown>;
  return typeof resumed === "boolean" && Array.isArray(messages) && messages.every(isMessageFrame);
}
