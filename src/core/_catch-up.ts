import type { Position } from "./history.ts";

/** Where a buffered message goes once the catch-up is over. */
export interface CatchUpTarget {
  deliverText(text: string, bytes: number): boolean;
  deliverBinary(data: Uint8Array): boolean;
}

/**
 * The live messages of one room for a connection that is joining it with
 * catch-up: held from the moment the join starts until the history has been
 * read, the hook that joined has finished, and every recorded message that
 * was on its way then has been delivered; then replayed minus those the read
 * already returned (recorded messages at or before the read's position). So
 * every message is in the catch-up or live, never both, never neither,
 * whatever the history's latency: a message the read saw but whose delivery
 * came later is held and dropped here, not sent twice.
 */
export class CatchUpBuffer {
  /** Whether the history read is done. */
  read = false;
  /**
   * The last position the read returned everything up to (its last entry,
   * or the `since` it found nothing after); held recorded messages at or
   * before it are the read's, and are skipped. Undefined: skip none.
   */
  skipUpTo: Position | undefined;
  /** Whether the end is under way: the hook has finished, recorded messages in flight are being waited for. */
  ending = false;
  /** Bytes held, bounded by the connection's `maxBufferedAmount`. */
  bytes = 0;
  readonly #items: (string | Uint8Array | number | Position | undefined)[] = [];

  /** Holds one live message; `position` is a recorded message's own. */
  hold(data: string | Uint8Array, bytes: number, position: Position | undefined): void {
    this.#items.push(data, bytes, position);
    this.bytes += bytes;
  }

  /** Sends what was held, in order, skipping recorded messages the read returned. */
  replay(target: CatchUpTarget): void {
    const skip = this.skipUpTo;
    const items = this.#items;
    for (let i = 0; i < items.length; i += 3) {
      const data = items[i] as string | Uint8Array;
      const own = items[i + 2] as Position | undefined;
      if (skip && own && own.epoch === skip.epoch && own.id <= skip.id) continue;
      if (typeof data === "string") target.deliverText(data, items[i + 1] as number);
      else target.deliverBinary(data);
    }
    items.length = 0;
    this.bytes = 0;
  }
}
