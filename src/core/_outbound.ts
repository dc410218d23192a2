import { CloseCode } from "./close-codes.ts";
import { ClosingHandshake } from "./_closing-handshake.ts";
import type { SlowConsumerPolicy } from "./options.ts";
import type { StatCounters } from "./stats.ts";

/** What the outbound path reads from its controller. */
export interface OutboundHost {
  readonly options: {
    readonly maxBufferedAmount: number;
    readonly slowConsumerPolicy: SlowConsumerPolicy;
    readonly closeTimeout: number;
  };
  readonly stats: StatCounters;
}

/**
 * The outbound path of one connection: flow control against
 * `maxBufferedAmount`, the slow-consumer policy, and the counters of what
 * was sent. A native publish (Bun) sends without this path but is accounted
 * by {@linkcode accountNativePublish} through the same two steps: the policy
 * in {@linkcode Outbound.overflow}, the counting in {@linkcode countSent}.
 */
export abstract class Outbound extends ClosingHandshake {
  /** The controller's options and counters. */
  protected abstract readonly host: OutboundHost;

  /** Sends text whose UTF-8 length the caller knows (a broadcast measures once). */
  deliverText(text: string, bytes: number): boolean {
    if (!this.isOpen || !this.#admit(bytes)) return false;
    if (!this.transport.sendText(text)) return this.overflow();
    countSent(this.host.stats, 1, bytes);
    return true;
  }

  /** Sends a binary message. */
  deliverBinary(data: Uint8Array): boolean {
    if (!this.isOpen || !this.#admit(data.byteLength)) return false;
    if (!this.transport.sendBinary(data)) return this.overflow();
    countSent(this.host.stats, 1, data.byteLength);
    return true;
  }

  /** Whether `bytes` more fit under `maxBufferedAmount`; an empty buffer always takes one message. */
  #admit(bytes: number): boolean {
    // Bytes sent earlier in this event-loop pass count too, on every runtime: Bun and Deno
    // write nothing until the pass ends, and Node's adapter corks until then.
    const buffered = this.transport.bufferedAmount;
    if (buffered === 0 || buffered + bytes <= this.host.options.maxBufferedAmount) return true;
    return this.overflow();
  }

  /** Whether the send buffer is past `maxBufferedAmount`. */
  get overLimit(): boolean {
    return this.isOpen && this.transport.bufferedAmount > this.host.options.maxBufferedAmount;
  }

  /** Applies the slow-consumer policy to a message this connection could not take; always `false`. */
  overflow(): false {
    this.host.stats.droppedMessages++;
    if (this.host.options.slowConsumerPolicy === "close") {
      this.beginClose(CloseCode.TryAgainLater, "Slow consumer", this.host.options.closeTimeout);
    }
    return false;
  }
}

/** Counts `recipients` messages of `bytes` each as sent. */
export function countSent(stats: StatCounters, recipients: number, bytes: number): void {
  stats.messagesOut += recipients;
  stats.bytesOut += bytes * recipients;
}

/**
 * Accounts a native publish (Bun) that went to `recipients` of `targets`
 * (all but `except`): when the runtime dropped the message for someone past
 * its limit (`delivered` false), the policy applies to each target over the
 * limit, and those are not counted. Returns the number of recipients.
 */
export function accountNativePublish(
  targets: Iterable<Outbound>,
  except: Outbound | undefined,
  recipients: number,
  delivered: boolean,
  bytes: number,
  stats: StatCounters,
): number {
  if (!delivered) {
    for (const target of targets) {
      if (target !== except && target.overLimit) {
        target.overflow();
        recipients--;
      }
    }
  }
  countSent(stats, recipients, bytes);
  return recipients;
}
