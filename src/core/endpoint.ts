import { CloseCode } from "./close-codes.ts";
import type { WebSocketController } from "./controller.ts";
import { toError } from "./errors.ts";
import { type History, MemoryHistory } from "./history.ts";
import type { ResolvedOptions } from "./options.ts";
import { Session } from "./session.ts";
import type { NativePublisher, TransportSocket } from "./socket.ts";
import { type ControllerStats, StatCounters } from "./stats.ts";
import { unrefTimer, type TimerHandle } from "./timers.ts";
import type { UpgradeDecision, UpgradeRequest } from "./upgrade.ts";
import { utf8ByteLength } from "./utf8.ts";
import type { Connection } from "./connection.ts";

/** Who a broadcast reaches. */
export interface BroadcastOptions<UserData> {
  /** Only the members of this room (default: every connection of the controller). */
  room?: string;
  /** Leave out this connection or these connections, typically the sender. */
  except?: Connection<UserData> | Iterable<Connection<UserData>>;
  /** Recording needs a room: see {@linkcode RecordedBroadcastOptions}. */
  record?: false;
}

/**
 * {@linkcode BroadcastOptions} of a broadcast that is also recorded in the
 * room's history: stored first, then sent, in the order of the calls.
 */
export interface RecordedBroadcastOptions<UserData> extends Omit<BroadcastOptions<UserData>, "record"> {
  /** The room whose history records the message. */
  room: string;
  /** Record the message. */
  record: true;
}

/** Options of `shutdown()`. */
export interface ShutdownOptions {
  /** Close code sent to every client (default 1001, going away). */
  code?: number;
  /** Close reason (default "Server shutting down"). */
  reason?: string;
  /** Milliseconds to wait for clients to answer before terminating them (default 5 000). */
  timeout?: number;
}

let nextEndpointId = 0;

/**
 * The engine behind one controller: registry, rooms, broadcast, heartbeat,
 * upgrade decisions, hook error isolation and shutdown. Adapters reach it via
 * `endpointOf(controller)`; users only see the controller.
 */
export class Endpoint<UserData> {
  readonly controller: WebSocketController<UserData>;
  readonly options: ResolvedOptions;
  readonly history: History;
  readonly stats: StatCounters = new StatCounters();
  readonly connections: Map<string, Session<UserData>> = new Map();
  readonly rooms: Map<string, Set<Session<UserData>>> = new Map();
  /** Native publisher shared by every connection, or null once connections from different servers/runtimes mix. */
  #publisher: NativePublisher | null | undefined;
  readonly #topicPrefix: string = `sb${nextEndpointId++}:`;
  /** Sessions whose onDisconnect has not yet finished. */
  #live = 0;
  #idleWaiters: (() => void)[] = [];
  #shuttingDown = false;
  #heartbeatTimer: TimerHandle | undefined;
  #idleTimer: TimerHandle | undefined;

  constructor(controller: WebSocketController<UserData>, options: ResolvedOptions, history: History | undefined) {
    this.controller = controller;
    this.options = options;
    this.history = history ?? new MemoryHistory({ size: options.historySize });
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  // --- Upgrade -------------------------------------------------------------

  /** Runs `onUpgrade` and the subprotocol rules; the adapter carries out the verdict. */
  async upgrade(request: UpgradeRequest): Promise<UpgradeDecision<UserData>> {
    if (this.#shuttingDown) return this.#refuse(503, "Server is shutting down");
    let result;
    try {
      result = await this.controller.onUpgrade(request);
    } catch (error) {
      this.hookFailed(undefined, error);
      return this.#refuse(500, "Internal Server Error");
    }
    if (result instanceof Response) {
      this.stats.rejectedUpgrades++;
      return { accept: false, response: result };
    }
    const offered = request.protocols;
    let protocol = result?.protocol;
    if (protocol !== undefined) {
      if (!offered.includes(protocol)) {
        this.hookFailed(undefined, new TypeError(`Cannot accept upgrade as protocol '${protocol}' was not offered by the client: offered ${JSON.stringify(offered)}`));
        return this.#refuse(500, "Internal Server Error");
      }
    } else {
      const supported = this.options.protocols;
      // `protocols` is documented as the endpoint's order of preference, so it decides among the offered ones.
      protocol = supported ? supported.find((p) => offered.includes(p)) : offered[0];
      if (protocol === undefined && supported && offered.length > 0) {
        return this.#refuse(400, `Unsupported subprotocol: supported are ${supported.join(", ")}`);
      }
    }
    return {
      accept: true,
      request,
      userData: result?.userData as UserData,
      protocol: protocol ?? "",
      headers: result?.headers ? new Headers(result.headers) : undefined,
    };
  }

  #refuse(status: number, body: string): UpgradeDecision<UserData> {
    this.stats.rejectedUpgrades++;
    return { accept: false, response: new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } }) };
  }

  // --- Registry ------------------------------------------------------------

  /** Registers an accepted socket and runs `onConnect`; returns the sink for the socket's events. */
  open(
    driver: TransportSocket,
    decision: Extract<UpgradeDecision<UserData>, { accept: true }>,
    bind?: (session: Session<UserData>) => void,
  ): Session<UserData> {
    const session = new Session(this, driver, decision.request, decision.userData, decision.protocol);
    // The adapter learns its session before onConnect runs: a close that onConnect causes may be
    // reported by the runtime at once (Bun), and must find the session.
    bind?.(session);
    this.connections.set(session.id, session);
    this.#live++;
    const pubsub = driver.pubsub;
    if (pubsub) {
      pubsub.subscribe(this.#topicPrefix);
      if (this.#publisher === undefined) this.#publisher = pubsub.publisher;
      else if (this.#publisher !== pubsub.publisher) this.#publisher = null;
    } else {
      this.#publisher = null;
    }
    if (this.connections.size === 1) this.#startTimers();
    session.start();
    if (this.#shuttingDown) session.closeWithin(CloseCode.GoingAway, "Server shutting down", this.options.closeTimeout);
    return session;
  }

  /** Forgets a closed session: registry, rooms, timers. */
  detach(session: Session<UserData>, code: number): void {
    this.connections.delete(session.id);
    for (const room of session.rooms) this.#removeFromRoom(session, room);
    this.stats.countClose(code);
    if (this.connections.size === 0) {
      this.#stopTimers();
      this.#publisher = undefined;
    }
  }

  /** A session's onDisconnect has finished. */
  finished(): void {
    if (--this.#live > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  joinRoom(session: Session<UserData>, room: string): void {
    let members = this.rooms.get(room);
    if (!members) {
      members = new Set();
      this.rooms.set(room, members);
    }
    members.add(session);
    session.driver.pubsub?.subscribe(this.#topicPrefix + "r:" + room);
  }

  leaveRoom(session: Session<UserData>, room: string): void {
    this.#removeFromRoom(session, room);
    if (session.isOpen) session.driver.pubsub?.unsubscribe(this.#topicPrefix + "r:" + room);
  }

  #removeFromRoom(session: Session<UserData>, room: string): void {
    const members = this.rooms.get(room);
    if (!members) return;
    members.delete(session);
    if (members.size === 0) this.rooms.delete(room);
  }

  // --- Broadcast -----------------------------------------------------------

  /**
   * Sends one message to many connections: serialized and measured once,
   * through the runtime's native publish where every recipient shares one
   * (Bun), else in a loop that never waits on a slow client. Returns the
   * number of connections it was handed to.
   */
  broadcast(
    data: string | Uint8Array,
    options: BroadcastOptions<UserData> | RecordedBroadcastOptions<UserData> | undefined,
  ): number {
    const room = options?.room;
    let targets: Set<Session<UserData>> | Map<string, Session<UserData>> | undefined = this.connections;
    if (room !== undefined) targets = this.rooms.get(room);
    if (!targets || targets.size === 0) return 0;
    const except = options?.except;
    let skipOne: Session<UserData> | undefined;
    let skipMany: Set<unknown> | undefined;
    if (except !== undefined) {
      if (typeof (except as Iterable<unknown>)[Symbol.iterator] === "function") {
        skipMany = new Set(except as Iterable<unknown>);
        // One excluded connection is the common case ([sender]); keep it on the fast path.
        if (skipMany.size <= 1) {
          skipOne = skipMany.values().next().value as Session<UserData> | undefined;
          skipMany = undefined;
        }
      } else {
        skipOne = except as Session<UserData>;
      }
    }
    const bytes = typeof data === "string" ? utf8ByteLength(data) : data.byteLength;
    if (this.#publisher && skipMany === undefined) {
      return this.#publishNative(this.#publisher, data, bytes, targets, room, skipOne);
    }
    let sent = 0;
    for (const session of targets.values()) {
      if (session === skipOne || skipMany?.has(session)) continue;
      if (typeof data === "string" ? session.deliverText(data, bytes) : session.deliverBinary(data)) sent++;
    }
    return sent;
  }

  #publishNative(
    publisher: NativePublisher,
    data: string | Uint8Array,
    bytes: number,
    targets: Set<Session<UserData>> | Map<string, Session<UserData>>,
    room: string | undefined,
    skip: Session<UserData> | undefined,
  ): number {
    const topic = room === undefined ? this.#topicPrefix : this.#topicPrefix + "r:" + room;
    let recipients = targets.size;
    let status: number;
    const skipIsTarget = skip !== undefined && skip.isOpen &&
      (room === undefined ? this.connections.has(skip.id) : skip.rooms.has(room));
    if (skipIsTarget) {
      recipients--;
      status = skip.driver.pubsub!.publishExceptSelf(topic, data);
    } else {
      status = publisher.publish(topic, data);
    }
    // Status 0 means the runtime dropped the message for someone past its limit: find them.
    if (status === 0 && recipients > 0) {
      for (const session of targets.values()) {
        if (session !== skip && session.checkBackpressure()) recipients--;
      }
    }
    this.stats.messagesOut += recipients;
    this.stats.bytesOut += bytes * recipients;
    return recipients;
  }

  // --- Heartbeat and idle timeout -------------------------------------------

  #startTimers(): void {
    const { pingInterval, idleTimeout } = this.options;
    if (pingInterval > 0 && this.#heartbeatTimer === undefined) {
      this.#heartbeatTimer = unrefTimer(setInterval(() => this.#heartbeat(), pingInterval));
    }
    if (idleTimeout > 0 && this.#idleTimer === undefined) {
      this.#idleTimer = unrefTimer(setInterval(() => this.#closeIdle(), Math.max(10, idleTimeout / 4)));
    }
  }

  #stopTimers(): void {
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer);
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    this.#heartbeatTimer = this.#idleTimer = undefined;
  }

  /** Pings every connection; drops those that sent nothing since the previous ping. */
  #heartbeat(): void {
    for (const session of this.connections.values()) {
      // Runtimes without ping (Deno) run their own idle-timeout heartbeat, configured by the adapter.
      if (!session.isOpen || !session.driver.ping) continue;
      if (!session.alive) {
        session.timeOut();
        continue;
      }
      session.alive = false;
      session.driver.ping(undefined);
    }
  }

  #closeIdle(): void {
    const deadline = Date.now() - this.options.idleTimeout;
    for (const session of this.connections.values()) {
      if (session.isOpen && session.lastActivity <= deadline) {
        session.closeWithin(CloseCode.GoingAway, "Idle timeout", this.options.closeTimeout);
      }
    }
  }

  // --- Errors, stats, shutdown -------------------------------------------------

  /** Routes a failed hook to `onError`; a failing `onError` is logged, never thrown. */
  hookFailed(session: Session<UserData> | undefined, thrown: unknown): void {
    const error = toError(thrown);
    try {
      const result: unknown = this.controller.onError(session, error);
      if (result instanceof Promise) result.catch((e) => console.error("switchboard: onError rejected", e));
    } catch (e) {
      console.error("switchboard: onError threw", e);
    }
  }

  async snapshot(): Promise<ControllerStats> {
    const s = this.stats;
    return {
      connections: this.connections.size,
      rooms: this.rooms.size,
      messagesInHistory: await this.history.count(),
      messagesIn: s.messagesIn,
      bytesIn: s.bytesIn,
      messagesOut: s.messagesOut,
      bytesOut: s.bytesOut,
      droppedMessages: s.droppedMessages,
      rejectedUpgrades: s.rejectedUpgrades,
      closesByCode: { ...s.closesByCode },
    };
  }

  /** Closes every connection and resolves once each one's onDisconnect has run. */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { code = CloseCode.GoingAway, reason = "Server shutting down", timeout = 5_000 } = options;
    this.#shuttingDown = true;
    for (const session of [...this.connections.values()]) session.closeWithin(code, reason, timeout);
    if (this.#live > 0) {
      // Stragglers are terminated at `timeout`; the extra second bounds onDisconnect hooks that never settle.
      let timer: TimerHandle | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout + 1_000))),
      ]);
      clearTimeout(timer);
    }
    this.#stopTimers();
  }
}
