import { CatchUpBuffer } from "./_catch-up.ts";
import { Connection as ConnectionSummary } from "./_connection-summary.ts";
import { checkCloseFrame, checkKnownKeys, checkName, checkOptionsObject, describe } from "./_check.ts";
import { CLOSED, CLOSING } from "./_closing-handshake.ts";
import { CloseCode } from "./close-codes.ts";
import type { CatchUp, Connection, JoinOptions, PresenceOptions } from "./connection.ts";

const PRESENCE_KEYS: ReadonlySet<string> = new Set(["key"]);
import { SwitchboardError } from "./errors.ts";
import type { Position } from "./history.ts";
import { connectionId } from "./_ids.ts";
import {
  HOOK_BINARY,
  HOOK_CONNECT,
  HOOK_DISCONNECT,
  HOOK_PING,
  HOOK_PONG,
  HOOK_TEXT,
  type HookKind,
  type PendingLimits,
} from "./_ordered-hooks.ts";
import { Outbound, type OutboundHost } from "./_outbound.ts";
import { checkJoinOptions } from "./_join-options.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Transport, TransportEvents } from "./transport.ts";
import type { UpgradeRequest } from "./upgrade.ts";
import { utf8ByteLength } from "./_utf8.ts";
import { RateWindow, type RateRefusal } from "./_rate-limit.ts";
import { errorFrame } from "./wire/server-frames.ts";


/** The hooks of a controller, as a session calls them. */
export interface HookTarget<UserData> {
  onConnect(connection: Connection<UserData>): unknown;
  onTextMessage(connection: Connection<UserData>, text: string): unknown;
  onBinaryMessage(connection: Connection<UserData>, data: Uint8Array): unknown;
  onPing(connection: Connection<UserData>, data: Uint8Array): unknown;
  onPong(connection: Connection<UserData>, data: Uint8Array): unknown;
  onDisconnect(connection: Connection<UserData>, code: number, reason: string): unknown;
}

/** What a session needs from the hub of its controller. */
export interface SessionHost<UserData> extends OutboundHost {
  readonly options: ResolvedOptions;
  readonly hooks: HookTarget<UserData>;
  /** Routes a hook's failure (or a `SwitchboardError` about it) to `onError`. */
  hookFailed(session: Session<UserData>, error: unknown): void;
  /** The socket closed: forget the session in the registry and every room. */
  detach(session: Session<UserData>, code: number): void;
  /** The session's `onDisconnect` has finished. */
  disconnectHandled(): void;
  joinRoom(session: Session<UserData>, room: string): void;
  leaveRoom(session: Session<UserData>, room: string): void;
  joinWithCatchUp(session: Session<UserData>, room: string, since: Position | number | undefined, limit: number | undefined): Promise<CatchUp>;
  /** Ends the catch-ups whose history read is done: the session joins and gets what was held. */
  finishCatchUps(session: Session<UserData>): void;
  setPresence(session: Session<UserData>, room: string, data: unknown, key: string): Promise<void>;
}

/**
 * The core's state for one socket: the {@linkcode Connection} users see and
 * the {@linkcode TransportEvents} the adapter reports to, in one object, since
 * idle connections must stay light. Its concerns live in the classes it
 * extends, one module each: ordered hooks (`_ordered-hooks.ts`), the close
 * state machine (`_closing-handshake.ts`) and the outbound path (`_outbound.ts`).
 */
export class Session<UserData> extends Outbound implements Connection<UserData>, TransportEvents {
  readonly id: string;
  readonly connectedAt: number;
  lastActivity: number;
  userData: UserData;
  readonly request: UpgradeRequest;
  readonly protocol: string;
  readonly host: SessionHost<UserData>;
  readonly transport: Transport;
  /** Whether anything arrived since the last heartbeat check. */
  alive = true;
  #customData: Map<string, string> | undefined;
  #rooms: Set<string> | undefined;
  /** Rooms being joined with catch-up, each with the live messages held for it. */
  #catchUps: Map<string, CatchUpBuffer> | undefined;
  /** What this connection sent lately, with `rateLimit`. */
  readonly #rate: RateWindow | undefined;

  constructor(host: SessionHost<UserData>, transport: Transport, request: UpgradeRequest, userData: UserData, protocol: string) {
    super();
    this.id = connectionId();
    this.connectedAt = this.lastActivity = Date.now();
    this.host = host;
    this.transport = transport;
    this.request = request;
    this.userData = userData;
    this.protocol = protocol;
    const rateLimit = host.options.rateLimit;
    this.#rate = rateLimit === undefined ? undefined : new RateWindow(rateLimit);
  }

  // --- Connection: state -------------------------------------------------

  get customData(): Map<string, string> {
    return (this.#customData ??= new Map());
  }

  get remoteAddress(): string {
    return this.request.remoteAddress;
  }

  get readyState(): number {
    const status = this.status;
    return status === CLOSED || status === CLOSING ? status : this.transport.readyState;
  }

  get bufferedAmount(): number {
    return this.status === CLOSED ? 0 : this.transport.bufferedAmount;
  }

  get rooms(): ReadonlySet<string> {
    return (this.#rooms ??= new Set());
  }

  // --- Connection: sending ------------------------------------------------

  sendText(text: string): boolean {
    if (typeof text !== "string") {
      throw new TypeError(`Cannot sendText() as 'text' must be a string: current value is ${describe(text)}`);
    }
    // Checked first so a dead connection costs no encoding (Node encodes in textByteLength).
    if (!this.isOpen) return false;
    return this.deliverText(text, this.transport.textByteLength?.(text) ?? utf8ByteLength(text));
  }

  sendBinary(data: Uint8Array): boolean {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(`Cannot sendBinary() as 'data' must be a Uint8Array: current value is ${describe(data)}`);
    }
    return this.deliverBinary(data);
  }

  sendJson(value: unknown): boolean {
    return this.sendText(toJson(value));
  }

  ping(data?: Uint8Array): boolean {
    if (!this.isOpen || !this.transport.ping) return false;
    this.transport.ping(data);
    return true;
  }

  pong(data?: Uint8Array): boolean {
    if (!this.isOpen || !this.transport.pong) return false;
    this.transport.pong(data);
    return true;
  }

  // --- Connection: lifecycle ----------------------------------------------

  close(code: number = CloseCode.Normal, reason: string = ""): void {
    checkCloseFrame("close connection", code, reason);
    this.beginClose(code, reason, this.host.options.closeTimeout);
  }

  /** Closes a connection that has been idle past `idleTimeout` (1001). */
  closeIdle(): void {
    this.beginClose(CloseCode.GoingAway, "Idle timeout", this.host.options.closeTimeout);
  }

  join(room: string): void;
  join(room: string, options: JoinOptions): Promise<CatchUp>;
  join(room: string, options?: JoinOptions): void | Promise<CatchUp> {
    checkName("join room", "room", room);
    if (options !== undefined) {
      const { since, limit } = checkJoinOptions(options); // bad arguments throw here, not in the promise
      return this.host.joinWithCatchUp(this, room, since, limit);
    }
    if (this.status === CLOSED || this.#rooms?.has(room)) return;
    (this.#rooms ??= new Set()).add(room);
    this.host.joinRoom(this, room);
  }

  setPresence(room: string, data: unknown, options?: PresenceOptions): Promise<void> {
    try {
      checkName("set presence", "room", room);
      checkOptionsObject("set presence", options);
      if (options !== undefined) checkKnownKeys("set presence", options, PRESENCE_KEYS);
      const key = options?.key ?? this.id;
      checkName("set presence", "key", key);
      return this.host.setPresence(this, room, data, key);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  leave(room: string): void {
    checkName("leave room", "room", room);
    if (!this.#rooms?.delete(room)) return;
    this.dropCatchUp(room);
    this.host.leaveRoom(this, room);
  }

  // --- Catch-up: used by the hub --------------------------------------------
  //
  // A room joined with catch-up is in `rooms` at once; until the catch-up ends, its live
  // messages are held for this session instead of sent.

  /**
   * Joins the room with its live messages held; returns the catch-up's
   * buffer, which names this join in the calls below (a leave and a new join
   * of the same room while this one is still reading make another), or
   * undefined if the session is in the room already.
   */
  beginCatchUp(room: string): CatchUpBuffer | undefined {
    if (this.#rooms?.has(room)) return undefined;
    const buffer = new CatchUpBuffer();
    (this.#rooms ??= new Set()).add(room);
    (this.#catchUps ??= new Map()).set(room, buffer);
    return buffer;
  }

  /** Whether the room's live messages are held for this session. */
  isCatchingUp(room: string): boolean {
    return this.#catchUps !== undefined && this.#catchUps.has(room);
  }

  /** The join's history read is done; `false` if that join was cancelled meanwhile (a leave, a close). */
  catchUpRead(room: string, buffer: CatchUpBuffer, skipUpTo: Position | undefined): boolean {
    if (this.#catchUps?.get(room) !== buffer) return false;
    buffer.read = true;
    buffer.skipUpTo = skipUpTo;
    return true;
  }

  /**
   * Holds a live message of a room being caught up. Held bytes are bounded by
   * `maxBufferedAmount`: past it the connection is closed with 1013 "Catch-up
   * overflow" whatever `slowConsumerPolicy` says (skipping one would break the
   * catch-up), and the client resumes from what it has.
   */
  holdForCatchUp(room: string, data: string | Uint8Array, bytes: number, position: Position | undefined): void {
    const buffer = this.#catchUps?.get(room);
    if (!buffer || !this.isOpen) return;
    if (buffer.bytes > 0 && buffer.bytes + bytes > this.host.options.maxBufferedAmount) {
      this.beginClose(CloseCode.TryAgainLater, "Catch-up overflow", this.host.options.closeTimeout);
      return;
    }
    buffer.hold(data, bytes, position);
  }

  /** The catch-ups whose read is done and whose end has not begun; marks their end as begun. */
  beginCatchUpEnds(): [string, CatchUpBuffer][] {
    const ending: [string, CatchUpBuffer][] = [];
    for (const [room, buffer] of this.#catchUps ?? []) {
      if (!buffer.read || buffer.ending) continue;
      buffer.ending = true;
      ending.push([room, buffer]);
    }
    return ending;
  }

  /** Ends this join's catch-up (the session stays in the room); `false` if it was cancelled meanwhile. */
  endCatchUp(room: string, buffer: CatchUpBuffer): boolean {
    if (this.#catchUps?.get(room) !== buffer) return false;
    this.dropCatchUp(room);
    return true;
  }

  /** Undoes this join after a failed read; `false` if it was gone already (a leave, a close). */
  cancelCatchUp(room: string, buffer: CatchUpBuffer): boolean {
    if (this.#catchUps?.get(room) !== buffer) return false;
    this.#rooms?.delete(room);
    this.dropCatchUp(room);
    return true;
  }

  private dropCatchUp(room: string): void {
    if (this.#catchUps?.delete(room) && this.#catchUps.size === 0) this.#catchUps = undefined;
  }

  /** Whether a hook of this connection is running: a finished catch-up then ends when it has. */
  get inHook(): boolean {
    return this.hookRunning;
  }

  // --- TransportEvents: reported by the adapter ------------------------------

  /** Called by the hub once the connection is registered. */
  start(): void {
    this.runHook(HOOK_CONNECT, undefined);
  }

  receiveText(data: string, bytes?: number): void {
    if (this.status === CLOSED) return;
    const size = bytes ?? utf8ByteLength(data);
    if (this.received(size)) this.runHook(HOOK_TEXT, data, size);
  }

  receiveBinary(data: Uint8Array): void {
    if (this.status === CLOSED) return;
    if (this.received(data.byteLength)) this.runHook(HOOK_BINARY, data, data.byteLength);
  }

  receivePing(data: Uint8Array): void {
    if (this.status === CLOSED) return;
    this.alive = true;
    this.runHook(HOOK_PING, data, data.byteLength);
  }

  receivePong(data: Uint8Array): void {
    if (this.status === CLOSED) return;
    this.alive = true;
    this.runHook(HOOK_PONG, data, data.byteLength);
  }

  /** Counts an inbound message and enforces `maxMessageSize` and `rateLimit`; `false` if it is not for the hooks. */
  private received(bytes: number): boolean {
    const { options, stats } = this.host;
    const now = Date.now();
    this.lastActivity = now;
    this.alive = true;
    // Checked before counting: Bun and ws refuse such a message unread, so it must not count here either.
    if (bytes > options.maxMessageSize) {
      this.beginClose(CloseCode.MessageTooBig, "Message too big", options.closeTimeout);
      return false;
    }
    stats.messagesIn++;
    stats.bytesIn += bytes;
    if (!this.isOpen) return false;
    const rate = this.#rate;
    if (rate === undefined) return true;
    const refused = rate.take(now, bytes);
    return refused === undefined || this.rateLimited(rate, refused, now);
  }

  /** A message past `rateLimit`: counted, and answered as its `action` says; always `false`. */
  private rateLimited(rate: RateWindow, refused: RateRefusal, now: number): false {
    const { options, stats } = this.host;
    const limit = options.rateLimit!;
    stats.rateLimited++;
    if (limit.action === "close") {
      this.beginClose(CloseCode.PolicyViolation, "Rate limit", options.closeTimeout);
    } else if (limit.action === "reply" && rate.mayReply(now)) {
      const bound = refused === "messages" ? limit.messages! : limit.bytes!;
      const unit = refused === "messages" ? (bound === 1 ? "message" : "messages") : bound === 1 ? "byte" : "bytes";
      this.sendText(errorFrame("rate_limited", `Cannot handle message as the limit is ${bound} ${unit} in ${limit.interval / 1000} s: wait a little`));
    }
    return false;
  }

  // --- The seams of the classes this one extends ------------------------------

  protected callHook(kind: HookKind, arg: unknown): unknown {
    const hooks = this.host.hooks;
    switch (kind) {
      case HOOK_TEXT:
        return hooks.onTextMessage(this, arg as string);
      case HOOK_BINARY:
        return hooks.onBinaryMessage(this, arg as Uint8Array);
      case HOOK_CONNECT:
        return hooks.onConnect(this);
      case HOOK_PING:
        return hooks.onPing(this, arg as Uint8Array);
      case HOOK_PONG:
        return hooks.onPong(this, arg as Uint8Array);
      case HOOK_DISCONNECT: {
        const [code, reason] = arg as [number, string];
        return hooks.onDisconnect(this, code, reason);
      }
    }
  }

  protected hookFailed(error: unknown): void {
    this.host.hookFailed(this, error);
  }

  protected hookFinished(kind: HookKind): void {
    if (kind === HOOK_DISCONNECT) this.host.disconnectHandled();
    else if (this.#catchUps) this.host.finishCatchUps(this);
  }

  protected hookGivenUp(): void {
    const timeout = this.host.options.hookTimeout;
    this.host.hookFailed(
      this,
      new SwitchboardError("HOOK_TIMEOUT", `A hook of connection ${this.id} had not settled ${timeout} ms after its socket closed: onDisconnect runs without it`),
    );
  }

  protected pendingLimits(): PendingLimits {
    return this.host.options;
  }

  protected pendingOverflow(): void {
    this.beginClose(CloseCode.PolicyViolation, "Too many pending messages", this.host.options.closeTimeout);
  }

  protected closed(code: number): void {
    this.#catchUps = undefined;
    this.host.detach(this, code);
    this.#rooms?.clear();
  }

  protected hookTimeout(): number {
    return this.host.options.hookTimeout;
  }

  // --- What inspection shows ---------------------------------------------------

  /** The public state only: no engine, no history, no other connections. */
  toJSON(): ConnectionSummary {
    return new ConnectionSummary(this);
  }

}

// Node, Bun and Deno all read this symbol (Deno's own would print differently there):
// `console.log(conn)` shows the summary. Defined here so it is no part of the class's type.
Object.defineProperty(Session.prototype, Symbol.for("nodejs.util.inspect.custom"), {
  value(this: Session<unknown>): ConnectionSummary {
    return this.toJSON();
  },
});

/** `JSON.stringify`, refusing values that serialize to nothing (undefined, functions, symbols). */
export function toJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) {
    throw new TypeError(`Cannot send JSON as the value serializes to nothing: current value is ${describe(value)}`);
  }
  return json;
}
