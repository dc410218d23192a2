import { CloseCode, isSendableCloseCode } from "./close-codes.ts";
import type { Connection } from "./connection.ts";
import type { Endpoint } from "./endpoint.ts";
import { connectionId } from "./ids.ts";
import type { SocketEvents, TransportSocket } from "./socket.ts";
import { unrefTimer, type TimerHandle } from "./timers.ts";
import type { UpgradeRequest } from "./upgrade.ts";
import { utf8ByteLength } from "./utf8.ts";

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

// Hook kinds, queued as (kind, argument) pairs so an ordinary message costs no closure.
const HOOK_CONNECT = 0;
const HOOK_TEXT = 1;
const HOOK_BINARY = 2;
const HOOK_PING = 3;
const HOOK_PONG = 4;
const HOOK_DISCONNECT = 5;
type HookKind = 0 | 1 | 2 | 3 | 4 | 5;
/** Tells `#drain` to take its first hook from the queue. */
const NEXT_QUEUED = -1;

const encoder = new TextEncoder();

/** `JSON.stringify`, refusing values that serialize to nothing (undefined, functions, symbols). */
export function toJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) {
    throw new TypeError(`Cannot send JSON as the value serializes to nothing: current value is ${String(value)}`);
  }
  return json;
}
const MAX_REASON_BYTES = 123;

/**
 * The core's state for one socket. It is the {@linkcode Connection} users
 * see and the {@linkcode SocketEvents} sink the adapter reports to: one object
 * per socket keeps idle memory low.
 *
 * Hooks of one connection run one at a time: while an async hook is pending,
 * later events wait in a queue, and `onDisconnect` always runs last.
 */
export class Session<UserData> implements Connection<UserData>, SocketEvents {
  readonly id: string;
  readonly connectedAt: number;
  lastActivity: number;
  userData: UserData;
  readonly request: UpgradeRequest;
  readonly protocol: string;
  readonly endpoint: Endpoint<UserData>;
  readonly driver: TransportSocket;
  /** Whether anything arrived since the last heartbeat check. */
  alive = true;
  state: 0 | 1 | 2 = OPEN;
  #customData: Map<string, string> | undefined;
  #rooms: Set<string> | undefined;
  #busy = false;
  #queue: unknown[] | undefined;
  #queueHead = 0;
  #closeCode = 0;
  #closeReason = "";
  #closeTimer: TimerHandle | undefined;

  constructor(endpoint: Endpoint<UserData>, driver: TransportSocket, request: UpgradeRequest, userData: UserData, protocol: string) {
    this.id = connectionId();
    this.connectedAt = this.lastActivity = Date.now();
    this.endpoint = endpoint;
    this.driver = driver;
    this.request = request;
    this.userData = userData;
    this.protocol = protocol;
  }

  // --- Connection: state -------------------------------------------------

  get customData(): Map<string, string> {
    return (this.#customData ??= new Map());
  }

  get remoteAddress(): string {
    return this.request.remoteAddress;
  }

  get readyState(): number {
    return this.state === CLOSED ? 3 : this.state === CLOSING ? 2 : this.driver.readyState;
  }

  get bufferedAmount(): number {
    return this.state === CLOSED ? 0 : this.driver.bufferedAmount;
  }

  get rooms(): ReadonlySet<string> {
    return (this.#rooms ??= new Set());
  }

  get isOpen(): boolean {
    return this.state === OPEN;
  }

  // --- Connection: sending ------------------------------------------------

  sendText(text: string): boolean {
    // Checked first so a dead connection costs no encoding (Node encodes in textByteLength).
    if (this.state !== OPEN) return false;
    return this.deliverText(text, this.driver.textByteLength?.(text) ?? utf8ByteLength(text));
  }

  sendBinary(data: Uint8Array): boolean {
    return this.deliverBinary(data);
  }

  sendJson(value: unknown): boolean {
    return this.sendText(toJson(value));
  }

  /** Sends text whose byte length the caller already knows (a broadcast measures once). */
  deliverText(text: string, bytes: number): boolean {
    if (this.state !== OPEN || !this.#admit(bytes)) return false;
    if (!this.driver.sendText(text)) return this.#overflow();
    this.endpoint.stats.messagesOut++;
    this.endpoint.stats.bytesOut += bytes;
    return true;
  }

  deliverBinary(data: Uint8Array): boolean {
    if (this.state !== OPEN || !this.#admit(data.byteLength)) return false;
    if (!this.driver.sendBinary(data)) return this.#overflow();
    this.endpoint.stats.messagesOut++;
    this.endpoint.stats.bytesOut += data.byteLength;
    return true;
  }

  /** Whether `bytes` more fit under `maxBufferedAmount`; an empty buffer always takes one message. */
  #admit(bytes: number): boolean {
    // Bytes sent earlier in this event-loop pass count too, on every runtime: Bun and Deno
    // write nothing until the pass ends, and Node's adapter corks until then.
    const buffered = this.driver.bufferedAmount;
    if (buffered === 0 || buffered + bytes <= this.endpoint.options.maxBufferedAmount) return true;
    return this.#overflow();
  }

  /** Applies the slow-consumer policy to a message that did not fit; always `false`. */
  #overflow(): false {
    this.endpoint.stats.droppedMessages++;
    if (this.endpoint.options.slowConsumerPolicy === "close") {
      this.close(CloseCode.TryAgainLater, "Slow consumer");
    }
    return false;
  }

  /**
   * Called after a native publish dropped messages: applies the policy if this
   * socket is over its limit, and says whether it was (so it missed the message).
   */
  checkBackpressure(): boolean {
    if (this.state !== OPEN || this.driver.bufferedAmount <= this.endpoint.options.maxBufferedAmount) return false;
    this.#overflow();
    return true;
  }

  ping(data?: Uint8Array): boolean {
    if (this.state !== OPEN || !this.driver.ping) return false;
    this.driver.ping(data);
    return true;
  }

  pong(data?: Uint8Array): boolean {
    if (this.state !== OPEN || !this.driver.pong) return false;
    this.driver.pong(data);
    return true;
  }

  // --- Connection: lifecycle ----------------------------------------------

  close(code: number = CloseCode.Normal, reason: string = ""): void {
    if (!isSendableCloseCode(code)) {
      throw new RangeError(`Cannot close connection as 'code' must be 1000-1003, 1007-1014 or 3000-4999: current value is ${code}`);
    }
    if (encoder.encode(reason).byteLength > MAX_REASON_BYTES) {
      throw new RangeError(`Cannot close connection as 'reason' must be at most ${MAX_REASON_BYTES} bytes of UTF-8`);
    }
    this.closeWithin(code, reason, this.endpoint.options.closeTimeout);
  }

  /** Starts the closing handshake and terminates the socket after `grace` ms without an answer. */
  closeWithin(code: number, reason: string, grace: number): void {
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    this.#closeCode = code;
    this.#closeReason = reason;
    try {
      this.driver.close(code, reason);
    } catch {
      // The runtime already considers the socket gone; the close event or the timer finishes it.
    }
    if (this.state === CLOSING) {
      this.#closeTimer = unrefTimer(setTimeout(() => this.terminate(), grace));
    }
  }

  terminate(): void {
    if (this.state === CLOSED) return;
    try {
      this.driver.terminate?.();
    } catch {
      // Already gone.
    }
    // Finish now: a runtime without terminate (Deno) may never report the close.
    this.transportClosed(CloseCode.Abnormal, "");
  }

  /** Drops a connection that stopped answering pings. */
  timeOut(): void {
    if (this.state === CLOSED) return;
    this.#closeCode = CloseCode.Abnormal;
    this.#closeReason = "Heartbeat timeout";
    this.terminate();
  }

  join(room: string): void {
    if (this.state === CLOSED) return;
    const rooms = (this.#rooms ??= new Set());
    if (rooms.has(room)) return;
    rooms.add(room);
    this.endpoint.joinRoom(this, room);
  }

  leave(room: string): void {
    if (!this.#rooms?.delete(room)) return;
    this.endpoint.leaveRoom(this, room);
  }

  // --- SocketEvents: reported by the adapter ------------------------------

  /** Called by the endpoint once the connection is registered. */
  start(): void {
    this.#run(HOOK_CONNECT, undefined);
  }

  receiveText(data: string, bytes?: number): void {
    if (this.state === CLOSED) return;
    if (!this.#received(bytes ?? utf8ByteLength(data))) return;
    this.#run(HOOK_TEXT, data);
  }

  receiveBinary(data: Uint8Array): void {
    if (this.state === CLOSED) return;
    if (!this.#received(data.byteLength)) return;
    this.#run(HOOK_BINARY, data);
  }

  receivePing(data: Uint8Array): void {
    if (this.state === CLOSED) return;
    this.alive = true;
    this.#run(HOOK_PING, data);
  }

  receivePong(data: Uint8Array): void {
    if (this.state === CLOSED) return;
    this.alive = true;
    this.#run(HOOK_PONG, data);
  }

  transportClosed(code: number, reason: string): void {
    if (this.state === CLOSED) return;
    const initiatedHere = this.state === CLOSING || this.#closeCode !== 0;
    this.state = CLOSED;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    // When the server closed, report its code: the runtime may only know 1005/1006.
    const finalCode = initiatedHere ? this.#closeCode : code;
    const finalReason = initiatedHere ? this.#closeReason : reason;
    this.endpoint.detach(this, finalCode);
    this.#rooms?.clear();
    this.#run(HOOK_DISCONNECT, [finalCode, finalReason]);
  }

  /** Counts an inbound message and enforces `maxMessageSize`; `false` if the connection is being closed for it. */
  #received(bytes: number): boolean {
    const endpoint = this.endpoint;
    this.lastActivity = Date.now();
    this.alive = true;
    // Checked before counting: Bun and ws refuse such a message unread, so it must not count here either.
    if (bytes > endpoint.options.maxMessageSize) {
      this.closeWithin(CloseCode.MessageTooBig, "Message too big", endpoint.options.closeTimeout);
      return false;
    }
    endpoint.stats.messagesIn++;
    endpoint.stats.bytesIn += bytes;
    return this.state === OPEN;
  }

  // --- Ordered hook execution ---------------------------------------------

  #run(kind: HookKind, arg: unknown): void {
    // Busy covers a hook's synchronous part too: an event it causes (a close or terminate
    // from inside the hook) waits in the queue instead of running in the middle of it.
    if (this.#busy) {
      const queue = (this.#queue ??= []);
      const pending = (queue.length - this.#queueHead) / 2;
      if ((kind === HOOK_TEXT || kind === HOOK_BINARY) && pending >= this.endpoint.options.maxPendingMessages) {
        this.close(CloseCode.PolicyViolation, "Too many pending messages");
        return;
      }
      queue.push(kind, arg);
      return;
    }
    this.#drain(kind, arg);
  }

  /**
   * Runs one hook (or, given NEXT_QUEUED, the next queued one), then what
   * queued behind it, in order, until a hook returns a promise.
   */
  #drain(kind: HookKind | typeof NEXT_QUEUED, arg: unknown): void {
    for (;;) {
      if (kind === NEXT_QUEUED) {
        const queue = this.#queue;
        if (!queue || this.#queueHead >= queue.length) {
          this.#queue = undefined;
          this.#queueHead = 0;
          return;
        }
        kind = queue[this.#queueHead] as HookKind;
        arg = queue[this.#queueHead + 1];
        queue[this.#queueHead + 1] = undefined;
        this.#queueHead += 2;
      }
      this.#busy = true;
      if (this.#invoke(kind, arg)) return; // async: #settled continues
      this.#busy = false;
      if (kind === HOOK_DISCONNECT) this.endpoint.finished();
      kind = NEXT_QUEUED;
    }
  }

  /** Calls a hook; `true` when it returned a promise, whose settling then resumes the queue. */
  #invoke(kind: HookKind, arg: unknown): boolean {
    let result: unknown;
    try {
      result = this.#call(kind, arg);
    } catch (error) {
      this.endpoint.hookFailed(this, error);
      return false;
    }
    if (result === null || typeof result !== "object" || typeof (result as Promise<unknown>).then !== "function") {
      return false;
    }
    (result as Promise<unknown>).then(
      () => this.#settled(kind),
      (error: unknown) => {
        this.endpoint.hookFailed(this, error);
        this.#settled(kind);
      },
    );
    return true;
  }

  #call(kind: HookKind, arg: unknown): unknown {
    const controller = this.endpoint.controller;
    switch (kind) {
      case HOOK_TEXT:
        return controller.onTextMessage(this, arg as string);
      case HOOK_BINARY:
        return controller.onBinaryMessage(this, arg as Uint8Array);
      case HOOK_CONNECT:
        return controller.onConnect(this);
      case HOOK_PING:
        return controller.onPing(this, arg as Uint8Array);
      case HOOK_PONG:
        return controller.onPong(this, arg as Uint8Array);
      case HOOK_DISCONNECT: {
        const [code, reason] = arg as [number, string];
        return controller.onDisconnect(this, code, reason);
      }
    }
  }

  /** An async hook finished: run what queued up behind it. */
  #settled(kind: HookKind): void {
    this.#busy = false;
    if (kind === HOOK_DISCONNECT) this.endpoint.finished();
    this.#drain(NEXT_QUEUED, undefined);
  }
}
