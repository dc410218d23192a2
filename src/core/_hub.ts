import { checkName, describe } from "./_check.ts";
import type { CatchUpBuffer } from "./_catch-up.ts";
import { CLOSED } from "./_closing-handshake.ts";
import { Heartbeat } from "./_heartbeat.ts";
import { accountNativePublish } from "./_outbound.ts";
import { RoomSequencer } from "./_room-sequencer.ts";
import { SendBudget } from "./_send-budget.ts";
import { type HookTarget, Session, type SessionHost } from "./_session.ts";
import { unrefTimer, type TimerHandle } from "./_timers.ts";
import { type AcceptedUpgrade, decideUpgrade, type UpgradeDecision, type UpgradeHost } from "./_upgrade-decision.ts";
import { utf8ByteLength } from "./_utf8.ts";
import { CloseCode } from "./close-codes.ts";
import type { CatchUp, Connection } from "./connection.ts";
import type { EndpointEngine, Engine, EngineEndpoint } from "./engine.ts";
import { SwitchboardError, toError } from "./errors.ts";
import type { History, HistoryData, HistoryEntry, HistoryMeta, Position } from "./history.ts";
import { MemoryHistory } from "./memory-history.ts";
import { PresenceTracker } from "./_presence.ts";
import { MemoryPresence, type PresenceChange, type PresenceEntry } from "./presence.ts";
import type { ResolvedOptions } from "./options.ts";
import { type ControllerStats, StatCounters } from "./stats.ts";
import type { NativePublisher, Transport, TransportEvents } from "./transport.ts";
import type { UpgradeRequest, UpgradeResult } from "./upgrade.ts";
import { reconnectFrame } from "./wire/server-frames.ts";

/** The hooks a hub calls: every hook of a controller. */
export interface ControllerHooks<UserData> extends HookTarget<UserData> {
  onUpgrade(request: UpgradeRequest): UpgradeResult<UserData> | Promise<UpgradeResult<UserData>>;
  onError(connection: Connection<UserData> | undefined, error: Error): unknown;
  onResync(connection: Connection<UserData>, room: string, position: Position): unknown;
  onPresence(change: PresenceChange): unknown;
}

/** Who a broadcast leaves out: connections, or their ids (ids also name connections of other processes). */
export type Except<UserData> = Connection<UserData> | string | Iterable<Connection<UserData> | string>;

/** An `Except` as ids: one (the common case, the sender) or several. */
interface ExceptIds {
  readonly one: string | undefined;
  readonly many: ReadonlySet<string> | undefined;
}

const NOBODY: ExceptIds = { one: undefined, many: undefined };

let nextHubId = 0;

/**
 * The hub behind one controller (a controller is one endpoint; this is its
 * machinery): the registry of connections, room membership, the publish and
 * delivery of broadcasts, recorded messages in per-room order, join with
 * catch-up, the heartbeat, upgrade decisions, hook error isolation and
 * shutdown. Users see only the controller; adapters reach the hub through
 * the adapter contract (`src/adapter`).
 *
 * The broadcast path is split in two: `publish`/`publishRecorded` decide what
 * a room's message is (recorded first, in order), `deliverLocal` sends it to
 * this process's sockets of the room. An engine across processes sits
 * between the two: with one, recorded messages reach `deliverLocal` through
 * the engine (in id order, from every process), and unrecorded ones are
 * sent here at once and published to the other processes.
 */
export class Hub<UserData> implements SessionHost<UserData>, UpgradeHost<UserData>, EngineEndpoint {
  readonly options: ResolvedOptions;
  readonly hooks: ControllerHooks<UserData>;
  readonly stats: StatCounters = new StatCounters();
  readonly connections: Map<string, Session<UserData>> = new Map();
  /** Members of each room with at least one, those still catching up included. */
  readonly rooms: Map<string, Set<Session<UserData>>> = new Map();
  /** Members of each room still catching up: its live messages are held for them, not sent. */
  readonly #joining: Map<string, Set<Session<UserData>>> = new Map();
  readonly #sequencer: RoomSequencer = new RoomSequencer();
  readonly #heartbeat: Heartbeat;
  readonly #sendBudget: SendBudget;
  /** The native publisher every connection shares, or null once they do not (or one has none). */
  #publisher: NativePublisher | null | undefined;
  /** Topics of the runtime's publish/subscribe (Bun): they never leave this process, so a per-process prefix. */
  readonly #topicPrefix: string = `sb${nextHubId++}:`;
  #name: string | undefined;
  /** The engine's history when there is an engine (shared by its processes), else this process's. */
  readonly history: History;
  readonly #engine: EndpointEngine | undefined;
  /** Presence, made on first use (in memory, or the engine's). */
  #presence: PresenceTracker | undefined;
  /** Sessions whose onDisconnect has not yet finished. */
  #live = 0;
  #idleWaiters: (() => void)[] = [];
  #shuttingDown = false;

  constructor(
    hooks: ControllerHooks<UserData>,
    options: ResolvedOptions,
    history: History | undefined,
    name: string | undefined,
    engine: Engine | undefined,
  ) {
    this.hooks = hooks;
    this.options = options;
    this.#name = name;
    // Connected at once (the options require a name with an engine): a second controller of the
    // name on the engine, or a closed engine, is refused here, where the mistake is.
    this.#engine = engine?.connect(this);
    this.history = this.#engine?.history ?? history ?? new MemoryHistory({ size: options.historySize, ttl: options.historyTtl });
    this.#heartbeat = new Heartbeat(() => this.connections.values(), options.pingInterval, options.idleTimeout);
    this.#sendBudget = new SendBudget(options.maxTotalBufferedAmount, () => this.connections.values());
  }

  /** The controller's name: the option, else the first route it was served on, else its class name. */
  get name(): string {
    return this.#name ?? (this.hooks as object).constructor.name;
  }

  /** Names the controller after a route, unless it has a name already. */
  nameAfterRoute(route: string): void {
    this.#name ??= route;
  }

  /** Why upgrades are refused with 503 now, if they are. */
  get unavailable(): string | undefined {
    if (this.#shuttingDown) return "Server is shutting down";
    if (this.#engine && !this.#engine.accepting) return "Service unavailable, retry";
    return undefined;
  }

  // --- Upgrade (UpgradeHost) ---------------------------------------------------

  /** Decides an upgrade; see {@linkcode decideUpgrade}. */
  decide(request: UpgradeRequest, method: string): Promise<UpgradeDecision<UserData>> {
    return decideUpgrade(this, request, method);
  }

  onUpgrade(request: UpgradeRequest): UpgradeResult<UserData> | Promise<UpgradeResult<UserData>> {
    return this.hooks.onUpgrade(request);
  }

  refused(): void {
    this.stats.rejectedUpgrades++;
  }

  upgradeFailed(error: unknown): void {
    this.#reportError(undefined, error);
  }

  /** Registers an accepted socket and runs `onConnect`; returns the sink for the socket's events. */
  open(transport: Transport, upgrade: AcceptedUpgrade<UserData>, bind: ((events: TransportEvents) => void) | undefined): TransportEvents {
    const session = new Session(this, transport, upgrade.request, upgrade.userData, upgrade.protocol);
    bind?.(session);
    this.connections.set(session.id, session);
    this.#live++;
    const pubsub = transport.pubsub;
    if (pubsub) {
      pubsub.subscribe(this.#topicPrefix);
      if (this.#publisher === undefined) this.#publisher = pubsub.publisher;
      else if (this.#publisher !== pubsub.publisher) this.#publisher = null;
    } else {
      this.#publisher = null;
    }
    if (this.connections.size === 1) this.#heartbeat.start();
    session.start();
    if (this.#shuttingDown) session.beginClose(CloseCode.GoingAway, "Server shutting down", this.options.closeTimeout);
    return session;
  }

  // --- Sessions (SessionHost) ---------------------------------------------------

  sendPressure(): void {
    this.#sendBudget.pressure();
  }

  hookFailed(session: Session<UserData>, error: unknown): void {
    this.#reportError(session, error);
  }

  /** Routes a failure to `onError`; a failing `onError` is logged, never thrown. */
  #reportError(session: Session<UserData> | undefined, thrown: unknown): void {
    try {
      const result: unknown = this.hooks.onError(session, toError(thrown));
      if (result instanceof Promise) result.catch((e) => console.error("switchboard: onError rejected", e));
    } catch (e) {
      console.error("switchboard: onError threw", e);
    }
  }

  detach(session: Session<UserData>, code: number): void {
    this.connections.delete(session.id);
    for (const room of session.rooms) this.#forgetMember(session, room);
    this.stats.countClose(code);
    if (this.connections.size === 0) {
      this.#heartbeat.stop();
      this.#sendBudget.stop();
      this.#publisher = undefined;
    }
  }

  disconnectHandled(): void {
    if (--this.#live > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  joinRoom(session: Session<UserData>, room: string): void {
    this.#addRoomMember(session, room);
    session.transport.pubsub?.subscribe(this.#roomTopic(room));
  }

  leaveRoom(session: Session<UserData>, room: string): void {
    const wasCatchingUp = this.#forgetMember(session, room);
    if (session.isOpen && !wasCatchingUp) session.transport.pubsub?.unsubscribe(this.#roomTopic(room));
  }

  /** Takes a session out of a room's members (and its catching-up ones); `true` if it was still catching up. */
  #forgetMember(session: Session<UserData>, room: string): boolean {
    this.#presence?.untrack(session.id, room);
    if (this.#removeMember(this.rooms, session, room) && !this.rooms.has(room)) this.#engine?.unsubscribe(room);
    return this.#removeMember(this.#joining, session, room);
  }

  /** Makes a session a member of a room; the room's first member here subscribes this process to it. */
  #addRoomMember(session: Session<UserData>, room: string): void {
    if (this.#addMember(this.rooms, session, room)) this.#subscribe(room).catch(() => {}); // a failure is the engine's to report
  }

  #subscribe(room: string): Promise<void> {
    return this.#engine?.subscribe(room) ?? Promise.resolve();
  }

  /** Adds a member; `true` when it is the room's first. */
  #addMember(rooms: Map<string, Set<Session<UserData>>>, session: Session<UserData>, room: string): boolean {
    let members = rooms.get(room);
    const first = !members;
    if (!members) rooms.set(room, (members = new Set()));
    members.add(session);
    return first;
  }

  #removeMember(rooms: Map<string, Set<Session<UserData>>>, session: Session<UserData>, room: string): boolean {
    const members = rooms.get(room);
    if (!members?.delete(session)) return false;
    if (members.size === 0) rooms.delete(room);
    return true;
  }

  #roomTopic(room: string): string {
    return this.#topicPrefix + "r:" + room;
  }

  // --- Join with catch-up -------------------------------------------------------

  /** A join with catch-up; the session has checked `room`, `since` and `limit` (`_join-options.ts`). */
  async joinWithCatchUp(session: Session<UserData>, room: string, since: Position | number | undefined, limit: number | undefined): Promise<CatchUp> {
    let buffer: CatchUpBuffer | undefined;
    if (session.status !== CLOSED) {
      buffer = session.beginCatchUp(room);
      if (!buffer) {
        throw new SwitchboardError("ALREADY_JOINED", `Cannot join room '${room}' with catch-up as connection ${session.id} is already in it`);
      }
      // A member at once (rooms, room(name), conn.rooms), with the room's live messages held.
      this.#addRoomMember(session, room);
      this.#addMember(this.#joining, session, room);
    }
    let read: { catchUp: CatchUp; skipUpTo: Position | undefined };
    try {
      // With an engine, the read starts once the room's messages flow here: what it misses comes live.
      if (buffer && this.#engine) await this.#subscribe(room);
      read = await this.#readCatchUp(room, since, limit);
    } catch (error) {
      if (buffer && session.cancelCatchUp(room, buffer)) this.#forgetMember(session, room);
      throw new SwitchboardError("HISTORY_FAILED", `Cannot join room '${room}' with catch-up as the history failed`, { cause: error });
    }
    if (buffer && session.catchUpRead(room, buffer, read.skipUpTo) && !session.inHook) {
      // Outside a hook: live messages start once the code after `await join()` has had its turn.
      unrefTimer(setTimeout(() => this.finishCatchUps(session), 0));
    }
    return read.catchUp;
  }

  /**
   * What a join with catch-up returns, and up to where the held live messages
   * are the read's own (to skip): the last entry, or, for a resume that
   * found nothing after `since`, `since` itself. With no entries otherwise,
   * nothing is skipped, so a message on its way is never lost. The position
   * given back without entries is the one read before them: a message
   * recorded in between then comes live, after it.
   */
  async #readCatchUp(
    room: string,
    since: Position | number | undefined,
    limit: number | undefined,
  ): Promise<{ catchUp: CatchUp; skipUpTo: Position | undefined }> {
    let before: Position;
    if (since !== undefined) {
      const missed = await this.history.since(room, since);
      if (missed.complete) {
        const last = missed.entries.at(-1);
        const through = last ? positionOf(last) : { epoch: missed.position.epoch, id: typeof since === "number" ? since : since.id };
        return { catchUp: { complete: true, entries: missed.entries, position: through }, skipUpTo: through };
      }
      before = missed.position;
    } else {
      before = await this.history.position(room);
    }
    const entries = limit === undefined ? await this.history.recent(room) : await this.history.recent(room, limit);
    const last = entries.at(-1);
    const through = last ? positionOf(last) : undefined;
    return { catchUp: { complete: false, entries, position: through ?? before }, skipUpTo: through };
  }

  finishCatchUps(session: Session<UserData>): void {
    const engine = this.#engine;
    for (const [room, buffer] of session.beginCatchUpEnds()) {
      const end = () => this.#endCatchUp(session, room, buffer);
      // Recorded messages the read returned may still be on their way here: the end waits for them.
      if (engine) engine.afterDelivered(room, buffer.skipUpTo, end);
      else this.#sequencer.afterInFlight(room, end);
    }
  }

  #endCatchUp(session: Session<UserData>, room: string, buffer: CatchUpBuffer): void {
    try {
      if (!session.endCatchUp(room, buffer)) return; // it left the room, or closed, meanwhile
      this.#removeMember(this.#joining, session, room);
      if (!session.isOpen) return;
      session.transport.pubsub?.subscribe(this.#roomTopic(room));
      buffer.replay(session);
    } catch (error) {
      // Runs from a timer or a promise callback: a failure must reach onError, not the process.
      this.#reportError(session, error);
    }
  }

  // --- Presence ---------------------------------------------------------------------

  get presence(): PresenceTracker {
    return (this.#presence ??= new PresenceTracker(this.#engine?.presence ?? new MemoryPresence(), (change) => this.#presenceChanged(change), {
      grace: this.options.presenceGrace,
      onError: (error) => this.#reportError(undefined, error),
    }));
  }

  /** Sets a member's presence in a room; see `Connection.setPresence`. */
  async setPresence(session: Session<UserData>, room: string, data: unknown, key: string): Promise<void> {
    if (!session.rooms.has(room)) {
      throw new TypeError(`Cannot set presence in room '${room}' as connection ${session.id} is not in it: join it first`);
    }
    await this.presence.track(session.id, room, key, data);
    // It may have left (or closed) while the store answered: then the presence goes as a leave would.
    if (!session.rooms.has(room)) this.#presence?.untrack(session.id, room);
  }

  listPresence(room: string): Promise<PresenceEntry[]> {
    return this.presence.list(room);
  }

  #presenceChanged(change: PresenceChange): void {
    try {
      const result: unknown = this.hooks.onPresence(change);
      if (result instanceof Promise) result.catch((error: unknown) => this.#reportError(undefined, error));
    } catch (error) {
      this.#reportError(undefined, error);
    }
  }

  // --- Publish and deliver --------------------------------------------------------

  /** Sends a message to every connection or a room, minus `except`, now; returns the recipients. */
  publish(room: string | undefined, data: string | Uint8Array, except: Except<UserData> | undefined): number {
    if (room !== undefined) checkName("broadcast", "room", room);
    const bytes = typeof data === "string" ? utf8ByteLength(data) : data.byteLength;
    const skip = exceptIds(except);
    this.#engine?.publish(room, data, idList(skip));
    return this.deliverLocal(room, data, bytes, skip, undefined);
  }

  /**
   * Records a message in the room's history, then sends it to the room, in
   * the order of the calls per room (appends start at once; deliveries wait
   * for the room's previous one). Stored before sent, so a client that
   * catches up cannot miss it.
   */
  publishRecorded<Data extends HistoryData>(
    room: string,
    data: Data | ((meta: HistoryMeta) => Data),
    except: Except<UserData> | undefined,
  ): Promise<HistoryEntry<Data>> {
    let appended: Promise<HistoryEntry<Data>>;
    try {
      checkName("record a broadcast", "room", room);
      const skip = exceptIds(except);
      let buildFailure: { error: unknown } | undefined;
      const build = typeof data === "function"
        ? (meta: HistoryMeta): Data => {
          try {
            return data(meta);
          } catch (error) {
            buildFailure = { error };
            throw error;
          }
        }
        : data;
      const engine = this.#engine;
      if (engine) return this.#publishThroughEngine(engine, room, build, skip, () => buildFailure);
      // The History's contract is untyped in the data; what comes back is what `build` made.
      appended = (this.history.append(room, build) as Promise<HistoryEntry<Data>>).catch((error: unknown) => {
        // The caller's own builder failing is the caller's error, not the history's.
        if (buildFailure && buildFailure.error === error) throw error;
        throw new SwitchboardError("HISTORY_FAILED", `Cannot record a message in room '${room}' as the history failed`, { cause: error });
      });
      return this.#sequencer.run(room, appended, (entry) => {
        const bytes = typeof entry.data === "string" ? utf8ByteLength(entry.data) : entry.data.byteLength;
        this.deliverLocal(room, entry.data, bytes, skip, entry);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Records through the engine, which delivers to every process, this one
   * included; resolves once this process has delivered it (or is not in the room).
   */
  #publishThroughEngine<Data extends HistoryData>(
    engine: EndpointEngine,
    room: string,
    build: Data | ((meta: HistoryMeta) => Data),
    skip: ExceptIds,
    buildFailure: () => { error: unknown } | undefined,
  ): Promise<HistoryEntry<Data>> {
    const recorded = (engine.record(room, build, idList(skip)) as Promise<HistoryEntry<Data>>).catch((error: unknown) => {
      if (buildFailure()?.error === error) throw error;
      throw new SwitchboardError("HISTORY_FAILED", `Cannot record a message in room '${room}' as the history failed`, { cause: error });
    });
    return recorded.then((entry) => new Promise((resolve) => engine.afterDelivered(room, entry, () => resolve(entry))));
  }

  /** A message of another process, or a recorded one, for this process's sockets (EngineEndpoint). */
  deliver(room: string | undefined, data: string | Uint8Array, except: readonly string[], position: Position | undefined): void {
    const bytes = typeof data === "string" ? utf8ByteLength(data) : data.byteLength;
    const skip: ExceptIds = except.length === 0 ? NOBODY : except.length === 1 ? { one: except[0], many: undefined } : { one: undefined, many: new Set(except) };
    this.deliverLocal(room, data, bytes, skip, position);
  }

  /** The engine lost the room's continuity: each local member is told, through `onResync` (EngineEndpoint). */
  resync(room: string, position: Position): void {
    for (const session of [...(this.rooms.get(room) ?? [])]) {
      if (!session.isOpen) continue;
      try {
        const result: unknown = this.hooks.onResync(session, room, position);
        if (result instanceof Promise) result.catch((error: unknown) => this.#reportError(session, error));
      } catch (error) {
        this.#reportError(session, error);
      }
    }
  }

  /** Closes every connection, for the engine (EngineEndpoint). */
  closeAll(code: number, reason: string): void {
    for (const session of [...this.connections.values()]) session.beginClose(code, reason, this.options.closeTimeout);
  }

  /**
   * Sends one message to this process's sockets of a room (or of the whole
   * controller): serialized and measured once, through the runtime's native
   * publish where every recipient shares one (Bun), else in a loop that never
   * waits on a slow client; held for the sessions joining the room with
   * catch-up. `position` is a recorded message's own. Returns the recipients.
   */
  deliverLocal(room: string | undefined, data: string | Uint8Array, bytes: number, except: ExceptIds, position: Position | undefined): number {
    const targets = room === undefined ? this.connections : this.rooms.get(room);
    if (!targets || targets.size === 0) return 0;
    const joining = room === undefined ? undefined : this.#joining.get(room);
    let sent = this.#publisher && except.many === undefined
      ? this.#deliverNative(this.#publisher, room, data, bytes, targets, except.one, joining)
      : this.#deliverEach(data, bytes, targets.values(), except, joining);
    if (joining) {
      for (const session of joining) {
        if (isExcepted(session.id, except)) continue;
        session.holdForCatchUp(room!, data, bytes, position);
        sent++;
      }
    }
    return sent;
  }

  /** Sends to each target in turn, but those catching up (`joining`), whose messages are held. */
  #deliverEach(
    data: string | Uint8Array,
    bytes: number,
    targets: Iterable<Session<UserData>>,
    except: ExceptIds,
    joining: Set<Session<UserData>> | undefined,
  ): number {
    let sent = 0;
    for (const session of targets) {
      if (isExcepted(session.id, except) || (joining !== undefined && joining.has(session))) continue;
      if (typeof data === "string" ? session.deliverText(data, bytes) : session.deliverBinary(data)) sent++;
    }
    return sent;
  }

  /** Publishes through the runtime to the targets subscribed natively: all but the `joining` ones, who are not yet. */
  #deliverNative(
    publisher: NativePublisher,
    room: string | undefined,
    data: string | Uint8Array,
    bytes: number,
    targets: Map<string, Session<UserData>> | Set<Session<UserData>>,
    exceptId: string | undefined,
    joining: Set<Session<UserData>> | undefined,
  ): number {
    const topic = room === undefined ? this.#topicPrefix : this.#roomTopic(room);
    const skip = exceptId === undefined ? undefined : this.connections.get(exceptId);
    const skipIsSubscribed = skip !== undefined && skip.isOpen && (room === undefined || (skip.rooms.has(room) && !skip.isCatchingUp(room)));
    const result = skipIsSubscribed ? skip.transport.pubsub!.publishExceptSelf(topic, data) : publisher.publish(topic, data);
    const recipients = targets.size - (joining?.size ?? 0) - (skipIsSubscribed ? 1 : 0);
    return accountNativePublish(targets.values(), skipIsSubscribed ? skip : undefined, joining, recipients, result, bytes, this);
  }

  // --- Stats and shutdown -----------------------------------------------------------

  async snapshot(): Promise<ControllerStats> {
    const s = this.stats;
    return {
      connections: this.connections.size,
      rooms: this.rooms.size,
      messagesInHistory: await this.#countHistory(),
      messagesIn: s.messagesIn,
      bytesIn: s.bytesIn,
      messagesOut: s.messagesOut,
      bytesOut: s.bytesOut,
      droppedMessages: s.droppedMessages,
      rateLimited: s.rateLimited,
      rejectedUpgrades: s.rejectedUpgrades,
      closesByCode: { ...s.closesByCode },
      engine: this.#engine?.stats(),
    };
  }

  /** Entries in the history; with an engine, NaN when it cannot read them now (degraded), so that stats() still says so. */
  async #countHistory(): Promise<number> {
    if (!this.#engine) return this.history.count();
    try {
      return await this.history.count();
    } catch {
      return Number.NaN;
    }
  }

  /**
   * Closes every connection and resolves once each one's onDisconnect has
   * run; with `reconnectWithin`, each is first told when to come back.
   */
  async shutdown(code: number, reason: string, timeout: number, reconnectWithin: number | undefined): Promise<void> {
    this.#shuttingDown = true;
    for (const session of [...this.connections.values()]) {
      if (reconnectWithin !== undefined && session.readyState === 1) session.sendText(reconnectFrame(Math.random() * reconnectWithin));
      session.beginClose(code, reason, timeout);
    }
    if (this.#live > 0) {
      // Stragglers are terminated at `timeout`; the extra second bounds onDisconnect hooks that never settle.
      let timer: TimerHandle | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout + this.options.hookTimeout + 1_000))),
      ]);
      clearTimeout(timer);
    }
    this.#heartbeat.stop();
    await this.#presence?.close();
    await this.#engine?.close();
  }
}

/** The ids of an `ExceptIds`, for an engine. */
function idList(except: ExceptIds): readonly string[] {
  if (except.many) return [...except.many];
  return except.one === undefined ? [] : [except.one];
}

function isExcepted(id: string, except: ExceptIds): boolean {
  return id === except.one || (except.many !== undefined && except.many.has(id));
}

/** `except` as ids; a TypeError for anything that names no connection. */
function exceptIds<UserData>(except: Except<UserData> | undefined): ExceptIds {
  if (except === undefined) return NOBODY;
  if (typeof except === "string") return { one: except, many: undefined };
  if (typeof except === "object" && except !== null) {
    if (typeof (except as Connection<UserData>).id === "string" && !(Symbol.iterator in except)) {
      return { one: (except as Connection<UserData>).id, many: undefined };
    }
    if (Symbol.iterator in except) {
      const ids = new Set<string>();
      for (const item of except as Iterable<unknown>) ids.add(idOf(item));
      // One excluded connection is the common case ([sender]); keep it on the fast path.
      if (ids.size <= 1) return { one: ids.values().next().value, many: undefined };
      return { one: undefined, many: ids };
    }
  }
  throw new TypeError(`Cannot broadcast as 'except' must be a connection, an id, or an iterable of them: current value is ${describe(except)}`);
}

function idOf(item: unknown): string {
  if (typeof item === "string") return item;
  if (typeof item === "object" && item !== null && typeof (item as { id?: unknown }).id === "string") return (item as { id: string }).id;
  throw new TypeError(`Cannot broadcast as 'except' must hold connections or ids: current value holds ${describe(item)}`);
}

function positionOf(entry: Position): Position {
  return { epoch: entry.epoch, id: entry.id };
}
