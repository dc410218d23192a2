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

/** Messages held ahead of a gap; past this many the room resyncs instead of holding more. */
const MAX_AHEAD = 10_000;
/** How long a join waits for a message it knows of before the feed reads the stream for it. */
const WAIT_BEFORE_READ_MS = 250;

interface Waiter {
  readonly epoch: string;
  readonly id: number;
  readonly then: () => void;
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
  #live = false;
  #epoch = "";
  #delivered = 0;
  /** Messages that came while starting, or ahead of a gap. */
  #ahead: Map<number, RecordedMessage> = new Map();
  #early: RecordedMessage[] = [];
  #waiters: Waiter[] = [];
  #reading = false;
  #closed = false;
  #readTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(host: FeedHost) {
    this.#host = host;
  }

  /** The last id delivered, in the feed's epoch. */
  get position(): Position {
    return { epoch: this.#epoch, id: this.#delivered };
  }

  /** The subscription is up: learns where the room is; resolves once the feed is live. */
  async start(): Promise<void> {
    const read = await this.#host.readAfter(Number.MAX_SAFE_INTEGER);
    if (this.#closed) return;
    this.#epoch = read.epoch;
    this.#delivered = read.top;
    this.#live = true;
    const early = this.#early;
    this.#early = [];
    for (const message of early) this.receive(message);
    this.#settleWaiters();
  }

  /** A recorded message from the channel. */
  receive(message: RecordedMessage): void {
    if (this.#closed) return;
    if (!this.#live) {
      this.#early.push(message);
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
    if (this.#ahead.size > MAX_AHEAD) this.#ahead.clear();
    void this.#readStream();
  }

  /** Runs `then` once every message up to `position` has been delivered (at once for another epoch). */
  afterDelivered(position: Position | undefined, then: () => void): void {
    if (!position || this.#closed || (this.#live && (position.epoch !== this.#epoch || position.id <= this.#delivered))) {
      then();
      return;
    }
    this.#waiters.push({ epoch: position.epoch, id: position.id, then });
    // The message is in the stream (the read saw it); if the channel has not brought it soon, read it.
    if (this.#readTimer === undefined && this.#live) {
      this.#readTimer = unrefTimer(setTimeout(() => {
        this.#readTimer = undefined;
        if (this.#waiters.length > 0) void this.#readStream();
      }, WAIT_BEFORE_READ_MS));
    }
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

  #settleWaiters(): void {
    if (this.#waiters.length === 0) return;
    const waiting: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.epoch !== this.#epoch || waiter.id <= this.#delivered) waiter.then();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  /** Fills what is missing from the stream; resyncs when it cannot. One read at a time. */
  async #readStream(): Promise<void> {
    if (this.#reading || this.#closed) return;
    this.#reading = true;
    try {
      for (let round = 0; round < 100 && !this.#closed; round++) {
        // The channel may deliver while the read is on the way (the link is back and flows, or a
        // join's read for a slow channel): the reply then starts before what is delivered, and
        // continues from where the read was sent, not from where the feed is now.
        const from = this.#delivered;
        const read = await this.#host.readAfter(from);
        if (this.#closed) return;
        const continues = read.epoch === this.#epoch && from >= read.base && (read.entries.length === 0 ? read.top === from : read.entries[0]!.id === from + 1);
        const fromEmpty = this.#epoch === "" && this.#delivered === 0 && read.base === 0 && (read.entries[0]?.id ?? 1) === 1;
        if (!continues && !fromEmpty) {
          this.#restart(read.epoch, read.top);
          return;
        }
        this.#epoch = read.epoch;
        let filled = false;
        for (const entry of read.entries) {
          if (entry.id <= this.#delivered) continue; // delivered live while the read was on the way
          if (entry.id !== this.#delivered + 1) break;
          this.#ahead.delete(entry.id);
          this.#deliver(entry);
          filled = true;
        }
        if (filled) this.#host.repaired();
        this.#drain();
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
    for (const id of this.#ahead.keys()) if (id <= top) this.#ahead.delete(id);
    this.#epoch = epoch;
    this.#delivered = top;
    // Held messages of the new epoch after its top are delivered in order.
    const held = [...this.#ahead.values()].filter((m) => m.epoch === epoch).sort((a, b) => a.id - b.id);
    this.#ahead.clear();
    for (const message of held) this.#ahead.set(message.id, message);
    this.#host.resync({ epoch, id: top });
    this.#drain();
  }
}
