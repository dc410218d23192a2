/**
 * The events a {@linkcode SwitchboardClient} dispatches, as `Event`
 * subclasses with typed fields.
 *
 * @module
 */
import type { ErrorFrame, LeftFrame, WelcomeFrame, WirePosition } from "../core/wire/frames.ts";
import type { ProtocolShape, ServerMessage } from "../protocol/types.ts";
import type { ClientError } from "./errors.ts";

/**
 * What a "message" event's `data` is typed as: `unknown` for a client with
 * no protocol (the default), the protocol's server messages for
 * `connect<typeof protocol>()`, and the wire protocol's error frame, which
 * answers a refused send. Types only: nothing is checked at run time.
 */
export type IncomingData<P extends ProtocolShape> = ProtocolShape extends P ? unknown : ServerMessage<P> | ErrorFrame;

/**
 * Where the client is: "connecting" (the first attempt is in flight), "open"
 * (a socket is open), "reconnecting" (the connection was lost: waiting
 * `delay` ms before attempt `attempt`, and while that attempt is in flight),
 * "closed" (for good: `close()`, a close of class "stop", or `maxAttempts`
 * spent).
 */
export type ClientState = "connecting" | "open" | "reconnecting" | "closed";

/** What a {@linkcode ClientStateEvent} carries. */
export interface ClientStateInit {
  /** The new state. */
  readonly state: ClientState;
  /** The reconnection attempt waited for or in flight (0 first); 0 outside "reconnecting". */
  readonly attempt: number;
  /** When reconnecting: the wait before the attempt, in milliseconds. */
  readonly delay?: number;
  /** The code of the close that caused the change, if one did. */
  readonly code?: number;
  /** The reason of that close. */
  readonly reason?: string;
}

/** "state": the client's state changed, or a new reconnection wait began. */
export class ClientStateEvent extends Event {
  /** The new state. */
  readonly state: ClientState;
  /** The reconnection attempt waited for or in flight (0 first); 0 outside "reconnecting". */
  readonly attempt: number;
  /** When reconnecting: the wait before the attempt, in milliseconds. */
  readonly delay: number | undefined;
  /** The code of the close that caused the change, if one did. */
  readonly code: number | undefined;
  /** The reason of that close. */
  readonly reason: string | undefined;

  /** A "state" event. */
  constructor(init: ClientStateInit) {
    super("state");
    this.state = init.state;
    this.attempt = init.attempt;
    this.delay = init.delay;
    this.code = init.code;
    this.reason = init.reason;
  }
}

/**
 * "message": an application message. `data` is the parsed JSON (any value)
 * of a text frame, the text itself when it is not JSON, or an `ArrayBuffer`
 * for a binary frame. For a recorded message of a room (a `MessageFrame`),
 * `data` is the whole frame and `room` and `position` say where it stands.
 */
export class ClientMessageEvent<Data = unknown> extends Event {
  /** The message: parsed JSON, raw text, or an `ArrayBuffer` (typed as the protocol's server messages when the client has one). */
  readonly data: Data;
  /** The room of a recorded message. */
  readonly room: string | undefined;
  /** The position of a recorded message in its room. */
  readonly position: WirePosition | undefined;

  /** A "message" event. */
  constructor(data: Data, room?: string, position?: WirePosition) {
    super("message");
    this.data = data;
    this.room = room;
    this.position = position;
  }
}

/** "welcome": the server's first frame, dispatched before the messages of its rooms. */
export class WelcomeEvent extends Event {
  /** The welcome frame, with the application's own fields. */
  readonly frame: WelcomeFrame;

  /** A "welcome" event. */
  constructor(frame: WelcomeFrame) {
    super("welcome");
    this.frame = frame;
  }
}

/**
 * "resync": the client had a position in `room` and the server could not
 * continue from it (a new epoch, a trimmed history). Dispatched before the
 * room's latest messages, which replace (not follow) what the app has.
 */
export class ResyncEvent extends Event {
  /** The room. */
  readonly room: string;
  /** The position the client had, which the server could not continue. */
  readonly position: WirePosition;

  /** A "resync" event. */
  constructor(room: string, position: WirePosition) {
    super("resync");
    this.room = room;
    this.position = position;
  }
}

/** "left": the client is no longer in `room` (the server refused a join, answered a leave, or chose to). */
export class LeftEvent extends Event {
  /** The room. */
  readonly room: string;
  /** The server's reason, if it gave one. */
  readonly reason: string | undefined;

  /** A "left" event. */
  constructor(frame: LeftFrame) {
    super("left");
    this.room = frame.room;
    this.reason = frame.reason;
  }
}

/** "dropped": a send did not fit in the queue (`maxQueue`) and was dropped. */
export class DroppedEvent extends Event {
  /** What was given to `send`. */
  readonly data: unknown;

  /** A "dropped" event. */
  constructor(data: unknown) {
    super("dropped");
    this.data = data;
  }
}

/** "error": something the client could not make sense of (a malformed protocol frame, a failed attempt to build the URL). Never thrown. */
export class ClientErrorEvent extends Event {
  /** What went wrong. */
  readonly error: ClientError;

  /** An "error" event. */
  constructor(error: ClientError) {
    super("error");
    this.error = error;
  }
}

/** Each event type and its event class, for `addEventListener`; `P` types the "message" event's `data`. */
export interface ClientEventMap<P extends ProtocolShape = ProtocolShape> {
  /** The state changed. */
  state: ClientStateEvent;
  /** An application message. */
  message: ClientMessageEvent<IncomingData<P>>;
  /** The server's welcome. */
  welcome: WelcomeEvent;
  /** A room's continuity was lost. */
  resync: ResyncEvent;
  /** The client is out of a room. */
  left: LeftEvent;
  /** A send was dropped. */
  dropped: DroppedEvent;
  /** A protocol oddity. */
  error: ClientErrorEvent;
}
