/**
 * `SwitchboardClient`: one logical connection to a switchboard server that
 * outlives its sockets. It reconnects with backoff, resumes every room from
 * where it was, keeps each room's recorded messages in order and at most
 * once, and retries acknowledged sends until the server answers.
 *
 * @module
 */
import { closeClass } from "../core/wire/close-class.ts";
import {
  ACK_FIELD,
  ACK_KEY,
  isMessageFrame,
  type JoinedFrame,
  type MessageFrame,
  MAX_RESUME_ROOMS,
  RESUME_PARAM,
  type RoomState,
  type WelcomeFrame,
  type WirePosition,
} from "../core/wire/frames.ts";
import { encodeResume } from "../core/wire/resume.ts";
import type { ClientMessage, ProtocolShape } from "../protocol/types.ts";
import { checkName, describe, isPlainObject } from "./_check.ts";
import { backoffDelay } from "./backoff.ts";
import { ClientError } from "./errors.ts";
import {
  ClientErrorEvent,
  type ClientEventMap,
  ClientMessageEvent,
  type ClientState,
  ClientStateEvent,
  DroppedEvent,
  LeftEvent,
  ResyncEvent,
  WelcomeEvent,
} from "./events.ts";
import { Liveness } from "./liveness.ts";
import { type ClientOptions, type ClientUrl, type ResolvedOptions, resolveOptions } from "./options.ts";
import { catchUp, isRoomState, judge } from "./positions.ts";
import { type Outgoing, SendQueue } from "./send-queue.ts";
import { webSocketConstructor, type WebSocketConstructor, type WebSocketLike } from "./socket.ts";

/** The options of an acknowledged send. */
export interface AckOptions {
  /** Ask the server for an `ack`; the send is retried until it comes. */
  readonly ack: true;
  /** The idempotency key (1 to 64 of A-Z a-z 0-9 _ -). Default: 128 random bits, base64url. */
  readonly key?: string;
}

/**
 * What `send` takes: anything for a client with no protocol (the default),
 * the protocol's client messages for `connect<typeof protocol>()`.
 */
export type SendData<P extends ProtocolShape> = ProtocolShape extends P ? unknown : ClientMessage<P>;

/** What an acknowledged `send` takes: a plain object, or the protocol's client messages. */
export type AckedSendData<P extends ProtocolShape> = ProtocolShape extends P ? Readonly<Record<string, unknown>> : ClientMessage<P>;

/** A `reconnect` frame's delay is clamped to this (10 minutes). */
const MAX_RECONNECT_DELAY = 10 * 60 * 1000;
/** setTimeout fires at once past a signed 32-bit delay; longer waits are cut to it. */
const MAX_TIMER = 2 ** 31 - 1;
/** Our own closes: a gap in a room, or no pong. 4000-4499 is "retry" for every server. */
const CLIENT_RETRY_CODE = 4000;
/** Reported for an attempt that ended without a close frame (the browser's code for it). */
const ABNORMAL = 1006;
const OPEN = 1;
const PING = JSON.stringify({ type: "ping" });
const noop = (): void => {};

type JoinWaiter = { resolve: (frame: JoinedFrame) => void; reject: (error: Error) => void };

/**
 * A reconnecting, resuming connection to a switchboard server (see
 * {@linkcode connect}). It is an `EventTarget`: listen for "message",
 * "state", "welcome", "resync", "left", "dropped" and "error". With a
 * protocol's type (`P`, from `switchboard/protocol`), `send` takes its client
 * messages and "message" events carry its server messages; types only.
 */
export class SwitchboardClient<P extends ProtocolShape = ProtocolShape> extends EventTarget {
  readonly #url: ClientUrl;
  readonly #options: ResolvedOptions;
  readonly #queue: SendQueue;
  readonly #liveness: Liveness;
  readonly #positions = new Map<string, WirePosition>();
  /** Rooms joined with `join()`: joined again after every reconnect. */
  readonly #joined = new Set<string>();
  readonly #joins = new Map<string, JoinWaiter[]>();
  #state: ClientState = "connecting";
  /** The reconnection attempt to make next (0 after any frame received). */
  #attempt = 0;
  /** The attempt in flight, for the state events. */
  #inFlight = 0;
  #socket: WebSocketLike | undefined;
  #socketClass: Promise<WebSocketConstructor> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** The delay a `reconnect` frame asked for, used by the next wait. */
  #nextDelay: number | undefined;
  #duplicates = 0;
  #closed = false;
  #unlisten: () => void = noop;

  /** Starts connecting at once; {@linkcode connect} is the same with a shorter name. */
  constructor(url: ClientUrl, options?: ClientOptions) {
    super();
    checkUrl(url);
    this.#url = url;
    this.#options = resolveOptions(options);
    this.#queue = new SendQueue(this.#options.maxQueue);
    this.#liveness = new Liveness(
      this.#options,
      () => this.#write(PING),
      () => this.#drop(CLIENT_RETRY_CODE, "No pong", true),
    );
    this.#listenToBrowser();
    void this.#dial();
  }

  /** "connecting", "open", "reconnecting" or "closed". */
  get state(): ClientState {
    return this.#state;
  }

  /** Where the client stands in each room it has a position in (sent as `resume` on every attempt). */
  get positions(): ReadonlyMap<string, WirePosition> {
    return this.#positions;
  }

  /** Recorded messages dropped because the client already had them. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** Frames held for the server: queued plain sends plus unacknowledged sends. */
  get queued(): number {
    return this.#queue.size;
  }

  /** The client's position in `room`, if it has one. */
  position(room: string): WirePosition | undefined {
    return this.#positions.get(room);
  }

  /**
   * Sends `data` now when open, else queues it for the next socket. A string
   * or binary goes as is; anything else as JSON. Returns false (and
   * dispatches "dropped") when the queue is full or the client is closed. At
   * most once: a frame given to a socket that then dies may be lost.
   */
  send(data: SendData<P>): boolean;
  /**
   * Sends the plain object `data` with an idempotency key in `ack`, and keeps
   * it until the server acknowledges it, sending it again (same key) after
   * every reconnect. Resolves on `ok: true`; rejects with a
   * {@linkcode ClientError}: the server's code, "queue_full" or "closed".
   */
  send(data: AckedSendData<P>, options: AckOptions): Promise<void>;
  send(data: unknown, options?: AckOptions): boolean | Promise<void> {
    if (options !== undefined) {
      if (typeof options !== "object" || options === null || (options.ack as unknown) !== true) {
        throw new TypeError(
          `Cannot send as 'options.ack' must be true: current value is ${describe(options === null ? null : options?.ack)}`,
        );
      }
      return this.#sendAcked(data, options.key);
    }
    const frame = encode(data);
    if (this.#closed) return this.#dropped(data);
    const socket = this.#socket;
    if (socket && this.#state === "open" && socket.readyState === OPEN) {
      this.#write(frame);
      return true;
    }
    return this.#queue.enqueue(frame) || this.#dropped(data);
  }

  /**
   * Joins `room`, from the client's position in it when it has one. Resolves
   * with the server's `joined` frame (its messages have been dispatched as
   * "message" events by then); rejects with a {@linkcode ClientError} "left"
   * when the server refuses, or "closed". The room is joined again after
   * every reconnect until `leave(room)`.
   */
  join(room: string): Promise<JoinedFrame> {
    checkName("join a room", "room", room);
    if (this.#closed) return Promise.reject(new ClientError("closed", `Cannot join room ${room} as the client is closed`));
    this.#joined.add(room);
    const promise = new Promise<JoinedFrame>((resolve, reject) => {
      const waiters = this.#joins.get(room) ?? [];
      waiters.push({ resolve, reject });
      this.#joins.set(room, waiters);
    });
    if (this.#state === "open") this.#write(this.#joinFrame(room));
    return promise;
  }

  /** Leaves `room`: sends `leave` (when open), forgets the position, stops re-joining it, and rejects a pending `join`. */
  leave(room: string): void {
    checkName("leave a room", "room", room);
    this.#joined.delete(room);
    this.#positions.delete(room);
    this.#rejectJoins(room, new ClientError("left", `Left room ${room}`));
    if (this.#state === "open") this.#write(JSON.stringify({ type: "leave", room }));
  }

  /**
   * Closes for good: the socket with `code` (1000, or 3000 to 4999) and
   * `reason`, every timer, the queue (dropped) and every pending
   * acknowledged send and join (rejected with "closed"). Nothing of the
   * client keeps running afterwards. A second call does nothing.
   */
  close(code: number = 1000, reason: string = ""): void {
    if (typeof code !== "number" || !(code === 1000 || (Number.isInteger(code) && code >= 3000 && code <= 4999))) {
      throw new RangeError(`Cannot close as 'code' must be 1000 or 3000-4999: current value is ${describe(code)}`);
    }
    if (typeof reason !== "string") {
      throw new TypeError(`Cannot close as 'reason' must be a string: current value is ${describe(reason)}`);
    }
    if (new TextEncoder().encode(reason).byteLength > 123) {
      throw new RangeError(`Cannot close as 'reason' must be at most 123 bytes of UTF-8: current value is ${describe(reason)}`);
    }
    if (this.#closed) return;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) abandon(socket, code, reason);
    this.#finish(code, reason);
  }

  /** Listens for one of the client's events, typed by its name. */
  override addEventListener<K extends keyof ClientEventMap<P>>(
    type: K,
    listener: ((event: ClientEventMap<P>[K]) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Listens for an event by any name. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | ((event: never) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** Stops listening for one of the client's events. */
  override removeEventListener<K extends keyof ClientEventMap<P>>(
    type: K,
    listener: ((event: ClientEventMap<P>[K]) => void) | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Stops listening for an event by any name. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | ((event: never) => void) | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  // --- Sending ---------------------------------------------------------------

  #sendAcked(data: unknown, given: string | undefined): Promise<void> {
    if (!isPlainObject(data)) {
      throw new TypeError(`Cannot send with an acknowledgement as 'data' must be a plain object: current value is ${describe(data)}`);
    }
    if (given !== undefined && (typeof given !== "string" || !ACK_KEY.test(given))) {
      throw new TypeError(
        `Cannot send with an acknowledgement as 'key' must be 1 to 64 of A-Z, a-z, 0-9, _ and -: current value is ${describe(given)}`,
      );
    }
    if (this.#closed) return Promise.reject(new ClientError("closed", "Cannot send as the client is closed"));
    const key = given ?? randomKey();
    // The same key in flight names the same operation: wait for its outcome rather than send it twice.
    if (this.#queue.has(key)) return this.#queue.track(key, "");
    if (this.#queue.full) {
      this.#dropped(data);
      return Promise.reject(new ClientError("queue_full", `Cannot send as the queue holds its maximum of ${this.#options.maxQueue} frames`));
    }
    const frame = JSON.stringify({ ...data, [ACK_FIELD]: key });
    const outcome = this.#queue.track(key, frame);
    if (this.#state === "open") this.#write(frame);
    return outcome;
  }

  #dropped(data: unknown): false {
    this.dispatchEvent(new DroppedEvent(data));
    return false;
  }

  /** Gives a frame to the open socket; a socket that throws is about to close, which says the rest. */
  #write(frame: Outgoing): void {
    try {
      this.#socket?.send(frame);
    } catch {
      // At most once: the close event follows and the reconnect re-sends what needs it.
    }
  }

  #joinFrame(room: string): string {
    const since = this.#positions.get(room);
    return JSON.stringify(since ? { type: "join", room, since: { epoch: since.epoch, id: since.id } } : { type: "join", room });
  }

  // --- Connecting ------------------------------------------------------------

  async #dial(): Promise<void> {
    let Socket: WebSocketConstructor;
    try {
      Socket = await (this.#socketClass ??= webSocketConstructor(this.#options.WebSocket));
    } catch (error) {
      this.#socketClass = undefined;
      return this.#attemptFailed(`no WebSocket constructor (${message(error)})`);
    }
    if (this.#closed) return;
    let socket: WebSocketLike;
    try {
      socket = new Socket(this.#attemptUrl(), this.#options.protocols);
    } catch (error) {
      return this.#attemptFailed(message(error));
    }
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.#opened(socket);
    socket.onmessage = (event) => this.#received(socket, event.data);
    socket.onclose = (event) => this.#closedBy(socket, event.code, event.reason);
    // A close always follows an error; `ws` needs a listener or it throws.
    socket.onerror = noop;
    this.#socket = socket;
    if (this.#options.connectTimeout > 0) {
      this.#connectTimer = setTimeout(() => {
        this.#connectTimer = undefined;
        if (this.#socket !== socket) return;
        abandon(socket, undefined, undefined, true);
        this.#lost(ABNORMAL, "Connect timeout", true);
      }, Math.min(this.#options.connectTimeout, MAX_TIMER));
    }
  }

  /** The URL of this attempt: the caller's (called again when a function), with `resume`. */
  #attemptUrl(): string {
    const url = toUrl(typeof this.#url === "function" ? this.#url() : this.#url);
    if (this.#positions.size === 0) url.searchParams.delete(RESUME_PARAM);
    else {
      // A server reads no more than MAX_RESUME_ROOMS; sending more would only lengthen the URL.
      url.searchParams.set(RESUME_PARAM, encodeResume([...this.#positions].slice(0, MAX_RESUME_ROOMS)));
    }
    return url.href;
  }

  #attemptFailed(why: string): void {
    this.#error(`Cannot open a WebSocket: ${why}`);
    this.#lost(ABNORMAL, why, true);
  }

  #opened(socket: WebSocketLike): void {
    if (socket !== this.#socket) return;
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#liveness.start();
    // Order on a new socket: joins (so that what follows lands in the rooms), then the
    // unacknowledged sends again, then the queued plain frames, each in the order it was made.
    for (const room of this.#joined) this.#write(this.#joinFrame(room));
    for (const frame of this.#queue.drain()) this.#write(frame);
    this.#setState({ state: "open", attempt: this.#inFlight });
  }

  /**
   * The server closed, or the link broke (1006), or an attempt never opened.
   * A code no close frame can carry is read as 1006: Deno's WebSocket reports
   * a connection that ended without a close frame with code 0.
   */
  #closedBy(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.#socket) return;
    const valid = typeof code === "number" && Number.isInteger(code) && code >= 1000 && code <= 4999;
    this.#lost(valid ? code : ABNORMAL, reason, false);
  }

  /** Gives up the open socket ourselves (a gap, no pong: `dead`) and reconnects. */
  #drop(code: number, reason: string, dead = false): void {
    const socket = this.#socket;
    if (!socket) return;
    abandon(socket, code, reason, dead);
    this.#lost(code, reason, true);
  }

  /**
   * The current socket is gone. Reconnect, unless the close is of class
   * "stop" (or `retryable` says so) or `maxAttempts` are spent. `ours`: the
   * client closed it itself, which always means "again".
   */
  #lost(code: number, reason: string, ours: boolean): void {
    this.#socket = undefined;
    this.#liveness.stop();
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    if (this.#closed) return;
    // A server that sent `reconnect` asked to be tried again, whatever code it closes with.
    if (!ours && this.#nextDelay === undefined && !this.#retryable(code, reason)) return this.#finish(code, reason);
    if (this.#attempt >= this.#options.maxAttempts) return this.#finish(code, reason);
    const delay = this.#nextDelay ?? backoffDelay(this.#attempt, this.#options);
    this.#nextDelay = undefined;
    const attempt = this.#attempt++;
    this.#inFlight = attempt;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#dial();
    }, Math.min(delay, MAX_TIMER));
    this.#setState({ state: "reconnecting", attempt, delay, code, reason });
  }

  #retryable(code: number, reason: string): boolean {
    const rule = this.#options.retryable;
    if (!rule) return closeClass(code) === "retry";
    try {
      return rule(code, reason) === true;
    } catch (error) {
      this.#error(`Cannot decide whether to reconnect as 'retryable' threw: ${message(error)}`);
      return closeClass(code) === "retry";
    }
  }

  /** Final: every timer cleared, every promise settled, nothing left running. */
  #finish(code: number, reason: string): void {
    this.#closed = true;
    this.#socket = undefined;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#retryTimer = this.#connectTimer = undefined;
    this.#liveness.stop();
    this.#unlisten();
    this.#unlisten = noop;
    const error = new ClientError("closed", `The client was closed (${code}${reason ? ` ${reason}` : ""})`);
    this.#queue.clear(error);
    for (const room of [...this.#joins.keys()]) this.#rejectJoins(room, error);
    this.#setState({ state: "closed", attempt: 0, code, reason });
  }

  /** Retries at once, cancelling the wait (the browser is back online, or the page visible again). */
  #retryNow(): void {
    if (this.#retryTimer === undefined) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    void this.#dial();
  }

  /** Browsers only: `online` and a page made visible retry at once; `offline` checks the link with a ping now. */
  #listenToBrowser(): void {
    const g = globalThis as {
      document?: { visibilityState?: string; addEventListener?: EventTarget["addEventListener"]; removeEventListener?: EventTarget["removeEventListener"] };
      addEventListener?: EventTarget["addEventListener"];
      removeEventListener?: EventTarget["removeEventListener"];
    };
    const doc = g.document;
    if (typeof doc !== "object" || doc === null || typeof g.addEventListener !== "function") return;
    const online = () => this.#retryNow();
    const offline = () => this.#liveness.pingNow();
    const visible = () => {
      if (doc.visibilityState === "visible") this.#retryNow();
    };
    g.addEventListener("online", online);
    g.addEventListener("offline", offline);
    doc.addEventListener?.("visibilitychange", visible);
    this.#unlisten = () => {
      g.removeEventListener?.("online", online);
      g.removeEventListener?.("offline", offline);
      doc.removeEventListener?.("visibilitychange", visible);
    };
  }

  #setState(init: ConstructorParameters<typeof ClientStateEvent>[0]): void {
    this.#state = init.state;
    this.dispatchEvent(new ClientStateEvent(init));
  }

  // --- Receiving -------------------------------------------------------------

  #received(socket: WebSocketLike, data: unknown): void {
    if (socket !== this.#socket) return;
    this.#liveness.heard();
    this.#attempt = 0;
    if (typeof data !== "string") return void this.dispatchEvent(new ClientMessageEvent(data));
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return void this.dispatchEvent(new ClientMessageEvent(data));
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return void this.dispatchEvent(new ClientMessageEvent(value));
    }
    const frame = value as Record<string, unknown>;
    switch (frame.type) {
      case "message":
        if (isMessageFrame(frame)) return this.#message(socket, frame);
        break;
      case "welcome":
        return this.#welcome(socket, frame);
      case "joined":
        return this.#joinedFrame(socket, frame);
      case "left":
        return this.#left(frame);
      case "ack":
        return this.#ack(frame);
      case "pong":
        return;
      case "reconnect":
        if (typeof frame.delay === "number" && !Number.isNaN(frame.delay)) {
          this.#nextDelay = Math.min(MAX_RECONNECT_DELAY, Math.max(0, frame.delay));
        } else this.#error(`Cannot read a reconnect frame as 'delay' must be a number: current value is ${describe(frame.delay)}`);
        return;
    }
    this.dispatchEvent(new ClientMessageEvent(value));
  }

  #message(socket: WebSocketLike, frame: MessageFrame): void {
    switch (judge(this.#positions.get(frame.room), frame)) {
      case "deliver":
        this.#deliver(frame.room, frame);
        return;
      case "duplicate":
        this.#duplicates++;
        return;
      case "gap":
        // Not delivered: the resume of the next connection asks for exactly what is missing.
        if (socket === this.#socket) this.#drop(CLIENT_RETRY_CODE, "Gap");
    }
  }

  #deliver(room: string, frame: MessageFrame): void {
    const position = { epoch: frame.epoch, id: frame.id };
    this.#positions.set(room, position);
    this.dispatchEvent(new ClientMessageEvent(frame, room, position));
  }

  #welcome(socket: WebSocketLike, frame: Record<string, unknown>): void {
    const rooms = frame.rooms;
    if (typeof rooms !== "object" || rooms === null || Array.isArray(rooms)) {
      return this.#error(`Cannot read a welcome frame as 'rooms' must be an object: current value is ${describe(rooms)}`);
    }
    this.dispatchEvent(new WelcomeEvent(frame as WelcomeFrame));
    // A room the server did not put the connection in (and the app did not join) is no longer one
    // of the client's: its position would only lengthen every later `resume`.
    for (const room of [...this.#positions.keys()]) {
      if (!Object.hasOwn(rooms, room) && !this.#joined.has(room)) this.#positions.delete(room);
    }
    for (const [room, state] of Object.entries(rooms)) {
      if (socket !== this.#socket) return;
      if (isRoomState(state)) this.#applyState(socket, room, state);
      else this.#error(`Cannot read the welcome's state of room ${JSON.stringify(room)}: it is not a room state`);
    }
  }

  #joinedFrame(socket: WebSocketLike, frame: Record<string, unknown>): void {
    if (typeof frame.room !== "string" || !isRoomState(frame)) {
      return this.#error("Cannot read a joined frame: it needs a string 'room' and a room state");
    }
    const room = frame.room;
    this.#applyState(socket, room, frame);
    const waiters = this.#joins.get(room);
    this.#joins.delete(room);
    for (const waiter of waiters ?? []) waiter.resolve(frame as unknown as JoinedFrame);
  }

  /** A welcome's or a join's room state: resync first if continuity is lost, then the catch-up, then the position. */
  #applyState(socket: WebSocketLike, room: string, state: RoomState): void {
    const before = this.#positions.get(room);
    const { resync, messages, position } = catchUp(before, state);
    if (resync && before) this.dispatchEvent(new ResyncEvent(room, before));
    for (const message of messages) {
      if (socket !== this.#socket) return;
      this.#deliver(room, message);
    }
    if (socket === this.#socket) this.#positions.set(room, position);
  }

  #left(frame: Record<string, unknown>): void {
    if (typeof frame.room !== "string") {
      return this.#error(`Cannot read a left frame as 'room' must be a string: current value is ${describe(frame.room)}`);
    }
    const reason = typeof frame.reason === "string" ? frame.reason : undefined;
    // Out of the room: no position to resume it by, and no re-join after a reconnect.
    this.#positions.delete(frame.room);
    this.#joined.delete(frame.room);
    this.#rejectJoins(frame.room, new ClientError("left", `Left room ${frame.room}${reason ? `: ${reason}` : ""}`));
    this.dispatchEvent(new LeftEvent({ type: "left", room: frame.room, reason }));
  }

  #ack(frame: Record<string, unknown>): void {
    if (typeof frame.key !== "string") {
      return this.#error(`Cannot read an ack frame as 'key' must be a string: current value is ${describe(frame.key)}`);
    }
    if (frame.ok === true) {
      this.#queue.settle(frame.key);
      return;
    }
    const error = (typeof frame.error === "object" && frame.error !== null ? frame.error : {}) as Record<string, unknown>;
    const code = typeof error.code === "string" ? error.code : "refused";
    const text = typeof error.message === "string" ? error.message : "The server refused the send";
    // An unknown key is the second ack of a send made again after a reconnect: nothing to do.
    this.#queue.settle(frame.key, new ClientError(code, text));
  }

  #rejectJoins(room: string, error: Error): void {
    const waiters = this.#joins.get(room);
    this.#joins.delete(room);
    for (const waiter of waiters ?? []) waiter.reject(error);
  }

  #error(text: string): void {
    this.dispatchEvent(new ClientErrorEvent(new ClientError("protocol", text)));
  }
}

/**
 * Connects to a switchboard server, and keeps connecting: the returned
 * client reconnects with backoff, resumes its rooms, and holds sends while
 * it is cut off. Give it a protocol's type to type `send` and the "message"
 * events: `connect<typeof chat>(url)` (see `switchboard/protocol`).
 *
 * @example
 * ```ts
 * import { connect } from "switchboard/client";
 *
 * const client = connect("wss://chat.example/ws", { maxQueue: 50 });
 * client.addEventListener("message", (event) => {
 *   console.log(event.room, event.position, event.data);
 * });
 * client.addEventListener("resync", (event) => {
 *   console.log(`start ${event.room} again: the server could not continue it`);
 * });
 * await client.join("general");
 * await client.send({ type: "say", text: "hello" }, { ack: true });
 * client.close();
 * ```
 */
export function connect<P extends ProtocolShape = ProtocolShape>(url: ClientUrl, options?: ClientOptions): SwitchboardClient<P> {
  return new SwitchboardClient<P>(url, options);
}

function checkUrl(url: unknown): void {
  if (typeof url === "function") return;
  if (typeof url !== "string" && !(url instanceof URL)) {
    throw new TypeError(`Cannot connect as 'url' must be a string, a URL or a function: current value is ${describe(url)}`);
  }
  try {
    toUrl(url);
  } catch {
    throw new TypeError(`Cannot connect as 'url' must be a ws:, wss:, http: or https: URL: current value is ${describe(String(url))}`);
  }
}

/** An absolute ws: or wss: URL (http: and https: are mapped; a relative one is read against the page's). */
function toUrl(given: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(given));
  } catch (error) {
    // Deno throws on reading `location` when it has none.
    let base: string | undefined;
    try {
      base = (globalThis as { location?: { href?: string } }).location?.href;
    } catch {
      base = undefined;
    }
    if (base === undefined) throw error;
    url = new URL(String(given), base);
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`Not a WebSocket URL: ${url.href}`);
  url.hash = "";
  return url;
}

/** What a socket's `send` takes: strings and binary as they are, anything else as JSON. */
function encode(data: unknown): Outgoing {
  if (typeof data === "string" || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data;
  if (typeof Blob === "function" && data instanceof Blob) return data;
  const text = data === undefined || typeof data === "function" || typeof data === "symbol" ? undefined : JSON.stringify(data);
  if (text === undefined) {
    throw new TypeError(`Cannot send as 'data' must be a string, binary or a JSON value: current value is ${describe(data)}`);
  }
  return text;
}

/** 128 random bits, base64url (22 characters). */
function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Detaches the client from a socket and closes it; its late events reach no
 * one. A `dead` link (no pong, an attempt that never opened) is cut where the
 * socket can be (`ws`, Bun): a closing handshake could never finish there, and
 * `ws` would keep the socket and a 30 s timer waiting for it after `close()`.
 */
function abandon(socket: WebSocketLike, code?: number, reason?: string, dead = false): void {
  socket.onopen = noop;
  socket.onmessage = noop;
  socket.onclose = noop;
  socket.onerror = noop;
  if (dead && typeof socket.terminate === "function") {
    try {
      socket.terminate();
      return;
    } catch {
      // Fall back to a close.
    }
  }
  try {
    if (code === undefined) socket.close();
    else socket.close(code, reason);
  } catch {
    // Already closing, or a runtime that refuses to close a connecting socket: nothing left to do.
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
