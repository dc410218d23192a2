import { unrefTimer } from "../core/_timers.ts";
import type { Position } from "../core/history.ts";
import type { StoredEntry } from "./redis-history.ts";

/** A recorded message of a room, from the channel or from the stream. */
export interface RecordedMessage {
  readonly epoch: string;
  readonly id: number;
  readonly data: string | Uint8Array;
  readonly except: readonly string[];
}

/** What a room's feed needs: reads of the room's log, and where its messages and troubles go. */
export interface FeedHost {
  /** The room's position, and the entries after `id` in that epoch. */
  readAfter(id: number): Promise<{ epoch: string; top: number; base: number; entries: StoredEntry[] }>;
  deliver(message: RecordedMessage): void;
  /** The room's continuity broke: its local members must start again; live messages go on from `position`. */
  resync(position: Position): void;
  /** A gap was filled from the stream. */
  repaired(): void;
  /** A read failed (the link is down): the feed tries again when the link is back. */
  failed(error: unknown): void;
}

/** Bounds and delays of a feed; the defaults are for production, tests make them small. */
export interface RoomFeedOptions {
  /** Messages held ahead of a gap; past this many they are dropped and read from the stream instead. Default 10 000. */
  readonly maxAhead?: number;
  /** How long a join waits for a message it knows of before the feed reads the stream for it. Default 250 ms. */
  readonly waitBeforeReadMs?: number;
}

const MAX_AHEAD = 10_000;
const WAIT_BEFORE_READ_MS = 250;

interface Waiter {
  readonly epoch: string;
  readonly id: number;
  readonly then: () => void;
  /** Reads of the log sent before this waiter came: only a later one tells where the room is now. */
  readonly readsBefore: number;
}

/**
 * The recorded messages of one room on this process, delivered once each and
 * in id order, whatever the channel does: duplicates are dropped, and a gap
 * (a message lost while the link was down, or overtaken) is filled from the
 * stream before anything after it is delivered. Only when the stream can no
 * longer fill it (trimmed, or a new epoch) are the members told to resync.
 *
 * A feed starts "starting": it learns the room's position once its
 * subscription is up, and messages before that are held, then delivered if
 * they come after that position.
 */
export class RoomFeed {
  readonly #host: FeedHost;
  readonly #maxAhead: number;
  readonly #waitBeforeReadMs: number;
  #live = false;
  /** The start on its way, if any: there is one at a time. */
  #starting: Promise<void> | undefined;
  #epoch = "";
  #delivered = 0;
  /** Messages that came while starting, or ahead of a gap. */
  #ahead: Map<number, RecordedMessage> = new Map();
  #early: RecordedMessage[] = [];
  /** Messages that came while starting were dropped (past `maxAhead`): the stream has them. */
  #earlyDropped = false;
  #waiters: Waiter[] = [];
  #reading = false;
  /** A read was asked for while one was on its way: that one may have run before what it was asked for. */
  #readAgain = false;
  /** Reads of the room's log sent so far (the start's included). */
  #reads = 0;
  #closed = false;
  #readTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(host: FeedHost, options: RoomFeedOptions = {}) {
    this.#host = host;
    this.#maxAhead = options.maxAhead ?? MAX_AHEAD;
    this.#waitBeforeReadMs = options.waitBeforeReadMs ?? WAIT_BEFORE_READ_MS;
  }

  /** The last id delivered, in the feed's epoch. */
  get position(): Position {
    return { epoch: this.#epoch, id: this.#delivered };
  }

  /** Whether the feed knows where the room is and delivers its messages. */
  get live(): boolean {
    return this.#live;
  }

  /** Messages held, ahead of a gap or before the start: bounded by `maxAhead` each. */
  get held(): number {
    return this.#ahead.size + this.#early.length;
  }

  /**
   * The subscription is up: learns where the room is; resolves once the feed
   * is live. One start at a time, and none once live: a later read would move
   * the feed past messages it has yet to deliver.
   */
  start(): Promise<void> {
    if (this.#live || this.#closed) return Promise.resolve();
    this.#starting ??= this.#start().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  async #start(): Promise<void> {
    const seq = ++this.#reads;
    const read = await this.#host.readAfter(Number.MAX_SAFE_INTEGER);
    if (this.#closed) return;
    this.#epoch = read.epoch;
    this.#delivered = read.top;
    this.#live = true;
    const early = this.#early;
    const dropped = this.#earlyDropped;
    this.#early = [];
    this.#earlyDropped = false;
    for (const message of early) this.receive(message);
    if (dropped) void this.#readStream(); // those after the start position are in the stream
    this.#settleWaiters({ epoch: read.epoch, seq });
    if (this.#waiters.length > 0) this.#armReadTimer();
  }

  /** A recorded message from the channel. */
  receive(message: RecordedMessage): void {
    if (this.#closed) return;
    if (!this.#live) {
      this.#early.push(message);
      if (this.#early.length > this.#maxAhead) {
        this.#early = [];
        this.#earlyDropped = true;
      }
      return;
    }
    if (message.epoch !== this.#epoch) {
      // A room that had no log when the feed started continues in its first epoch from id 0.
      if (this.#epoch === "" && this.#delivered === 0) this.#epoch = message.epoch;
      else return void this.#readStream(); // the read says which epoch is current, and resyncs
    }
    if (message.id <= this.#delivered) return; // a duplicate: the stream filled it in already
    if (message.id === this.#delivered + 1) {
      this.#deliver(message);
      this.#drain();
      return;
    }
    this.#ahead.set(message.id, message);
    if (this.#ahead.size > this.#maxAhead) this.#ahead.clear();
    void this.#readStream();
  }

  /**
   * Runs `then` once every message up to `position` has been delivered: at
   * once for another epoch (one the feed has left, or one it will resync to),
   * except while the room has had no log since the feed started: a position
   * in the room's first epoch waits for its message, which the feed takes up
   * without a resync (else a catch-up that read it could end before it came,
   * and have it live too), until a read sent after the wait began shows that
   * epoch is gone.
   */
  afterDelivered(position: Position | undefined, then: () => void): void {
    const waiter: Waiter = { epoch: position?.epoch ?? "", id: position?.id ?? 0, then, readsBefore: this.#reads };
    if (!position || this.#closed || (this.#live && this.#passed(waiter))) {
      then();
      return;
    }
    this.#waiters.push(waiter);
    if (this.#live) this.#armReadTimer();
  }

  /** The message is in the stream (a read saw it); if the channel has not brought it soon, the feed reads it. */
  #armReadTimer(): void {
    if (this.#readTimer !== undefined) return;
    this.#readTimer = unrefTimer(setTimeout(() => {
      this.#readTimer = undefined;
      if (this.#waiters.length > 0) void this.#readStream();
    }, this.#waitBeforeReadMs));
  }

  /** The link is back: reads whatever the channel missed meanwhile. */
  resume(): void {
    if (this.#live) void this.#readStream();
    else void this.start().catch((error: unknown) => this.#host.failed(error));
  }

  /** The room is unsubscribed: waiters go on, nothing more is delivered. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#readTimer);
    this.#ahead.clear();
    this.#early = [];
    this.#earlyDropped = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.then();
  }

  #deliver(message: RecordedMessage): void {
    this.#delivered = message.id;
    this.#host.deliver(message);
  }

  /** Delivers the messages held ahead that now follow on. */
  #drain(): void {
    let next = this.#ahead.get(this.#delivered + 1);
    while (next) {
      this.#ahead.delete(next.id);
      this.#deliver(next);
      next = this.#ahead.get(this.#delivered + 1);
    }
    this.#settleWaiters();
  }

  /**
   * Whether a wait is over: delivered, or of another epoch (`read`, a read
   * that has just come back, also ends waits of any other epoch than the
   * log's, if they began before it was sent: a read sent earlier may have run
   * before the epoch they wait for began). A feed that has seen no log yet
   * waits for a position of any epoch: the room's first messages bring it.
   */
  #passed(waiter: Waiter, read?: { epoch: string; seq: number }): boolean {
    if (waiter.epoch === this.#epoch) return waiter.id <= this.#delivered;
    if (read !== undefined && waiter.readsBefore < read.seq && waiter.epoch !== read.epoch) return true;
    return !(this.#epoch === "" && this.#delivered === 0);
  }

  #settleWaiters(read?: { epoch: string; seq: number }): void {
    if (this.#waiters.length === 0) return;
    const waiting: Waiter[] = [];
    const done: Waiter[] = [];
    for (const waiter of this.#waiters) (this.#passed(waiter, read) ? done : waiting).push(waiter);
    this.#waiters = waiting; // before running any: one may add a waiter
    for (const waiter of done) waiter.then();
  }

  /**
   * Fills what is missing from the stream; resyncs when it cannot. One read
   * at a time; one asked for meanwhile is made after it (the one on its way
   * may have run before the message that asked for it was recorded). The
   * channel goes on delivering while a read is out, so a read is judged from
   * where it started, and what came live meanwhile is skipped.
   */
  async #readStream(): Promise<void> {
    if (this.#closed) return;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = true;
    try {
      for (let round = 0; round < 100 && !this.#closed; round++) {
        this.#readAgain = false;
        const from: Position = { epoch: this.#epoch, id: this.#delivered };
        const seq = ++this.#reads;
        const read = await this.#host.readAfter(from.id);
        if (this.#closed) return;
        const continues = read.epoch === from.epoch && from.id >= read.base && (read.entries.length === 0 ? read.top === from.id : read.entries[0]!.id === from.id + 1);
        const fromEmpty = from.epoch === "" && from.id === 0 && read.base === 0 && (read.entries[0]?.id ?? 1) === 1;
        // A room with no log at the start may have taken its first epoch from the channel since; a read that saw no log yet says nothing against it.
        const otherEpoch = this.#epoch !== from.epoch && read.epoch !== "" && read.epoch !== this.#epoch;
        if ((!continues && !fromEmpty) || otherEpoch) {
          this.#restart(read.epoch, read.top);
          this.#settleWaiters({ epoch: read.epoch, seq });
          if (this.#readAgain) continue;
          return;
        }
        if (read.epoch !== "") this.#epoch = read.epoch;
        let filled = false;
        for (const entry of read.entries) {
          if (entry.id <= this.#delivered) continue; // it came live while the read was out
          if (entry.id !== this.#delivered + 1) break;
          this.#ahead.delete(entry.id);
          this.#deliver(entry);
          filled = true;
        }
        if (filled) this.#host.repaired();
        this.#drain();
        this.#settleWaiters({ epoch: read.epoch, seq });
        if (this.#readAgain) continue;
        // Done once nothing is held ahead and the stream had nothing more than what it gave.
        if (this.#ahead.size === 0 && this.#delivered >= read.top) break;
        if (read.entries.length === 0) break;
      }
    } catch (error) {
      this.#host.failed(error);
    } finally {
      this.#reading = false;
    }
  }

  /** The stream cannot fill the gap: live from the room's top, and the members start again. */
  #restart(epoch: string, top: number): void {
    // In the same epoch, what the channel delivered while the read was out stays delivered: the members go on from there.
    const from = epoch === this.#epoch ? Math.max(top, this.#delivered) : top;
    for (const id of this.#ahead.keys()) if (id <= from) this.#ahead.delete(id);
    this.#epoch = epoch;
    this.#delivered = from;
    // Held messages of the new epoch after its top are delivered in order.
    const held = [...this.#ahead.values()].filter((m) => m.epoch === epoch).sort((a, b) => a.id - b.id);
    this.#ahead.clear();
    for (const message of held) this.#ahead.set(message.id, message);
    this.#host.resync({ epoch, id: from });
    this.#drain();
  }
}
