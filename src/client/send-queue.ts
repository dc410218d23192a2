/**
 * What the client holds for the server: plain frames waiting for a socket,
 * and acknowledged sends waiting for their `ack`. One bound covers both, so
 * a client cut off for a long time holds at most `max` frames.
 *
 * @module
 */

/** What a socket's `send` takes. */
export type Outgoing = string | ArrayBuffer | ArrayBufferView | Blob;

/** An acknowledged send in flight: its frame (with the key) and how to settle its promises. */
interface Unacked {
  readonly frame: string;
  readonly settle: ((error: Error | undefined) => void)[];
}

/** The bounded queue of plain frames and the unacknowledged sends, in the order they were made. */
export class SendQueue {
  readonly #max: number;
  #queued: Outgoing[] = [];
  // A Map keeps insertion order: unacked sends are re-sent in the order they were made.
  readonly #unacked = new Map<string, Unacked>();

  /** A queue holding at most `max` frames, queued and unacknowledged together. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Frames held: queued plus unacknowledged. */
  get size(): number {
    return this.#queued.length + this.#unacked.size;
  }

  /** Whether one more frame fits. */
  get full(): boolean {
    return this.size >= this.#max;
  }

  /** Queues a plain frame for the next open socket; false (and nothing queued) when full. */
  enqueue(frame: Outgoing): boolean {
    if (this.full) return false;
    this.#queued.push(frame);
    return true;
  }

  /** Whether an acknowledged send with `key` is in flight. */
  has(key: string): boolean {
    return this.#unacked.has(key);
  }

  /**
   * Holds an acknowledged send until its ack, and returns a promise of its
   * outcome. A second send with a key in flight is not sent again: it waits
   * for the first one's outcome (the key names one operation).
   */
  track(key: string, frame: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (error: Error | undefined) => (error ? reject(error) : resolve());
      const known = this.#unacked.get(key);
      if (known) known.settle.push(settle);
      else this.#unacked.set(key, { frame, settle: [settle] });
    });
  }

  /** Settles the send with `key`: resolved without `error`, rejected with it. False when no send has that key (a second ack after a re-send). */
  settle(key: string, error?: Error): boolean {
    const entry = this.#unacked.get(key);
    if (!entry) return false;
    this.#unacked.delete(key);
    for (const settle of entry.settle) settle(error);
    return true;
  }

  /** What a newly opened socket sends, in order: every unacknowledged send again, then the queued frames (taken out). */
  drain(): Outgoing[] {
    const frames: Outgoing[] = [...this.#unacked.values()].map((entry) => entry.frame);
    frames.push(...this.#queued);
    this.#queued = [];
    return frames;
  }

  /** Drops the queued frames and rejects every unacknowledged send with `error` (on close). */
  clear(error: Error): void {
    this.#queued = [];
    const entries = [...this.#unacked.values()];
    this.#unacked.clear();
    for (const entry of entries) for (const settle of entry.settle) settle(error);
  }
}
