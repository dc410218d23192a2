import { CloseCode } from "./close-codes.ts";
import { ClosingHandshake } from "./_closing-handshake.ts";
import type { SlowConsumerPolicy } from "./options.ts";
import { PRESSURE_BYTES } from "./_send-budget.ts";
import type { StatCounters } from "./stats.ts";
import type { PublishResult } from "./transport.ts";

/** What the outbound path reads from its controller. */
export interface OutboundHost {
  readonly options: {
    readonly maxBufferedAmount: number;
    readonly slowConsumerPolicy: SlowConsumerPolicy;
    readonly closeTimeout: number;
  };
  readonly stats: StatCounters;
  /** A buffer is filling: the controller's send budget takes a look. */
  sendPressure(): void;
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
    if (!this.isOpen || !this.admit(bytes)) return false;
    if (!this.transport.sendText(text)) return this.overflow();
    countSent(this.host.stats, 1, bytes);
    return true;
  }

  /** Sends a binary message. */
  deliverBinary(data: Uint8Array): boolean {
    if (!this.isOpen || !this.admit(data.byteLength)) return false;
    if (!this.transport.sendBinary(data)) return this.overflow();
    countSent(this.host.stats, 1, data.byteLength);
    return true;
  }

  /** Whether `bytes` more fit under `maxBufferedAmount`; an empty buffer always takes one message. */
  private admit(bytes: number): boolean {
    // Bytes sent earlier in this event-loop pass count too, on every runtime: Bun and Deno
    // write nothing until the pass ends, and Node's adapter corks until then.
    const buffered = this.transport.bufferedAmount;
    if (buffered === 0) return true;
    if (buffered > PRESSURE_BYTES) this.host.sendPressure();
    if (buffered + bytes <= this.host.options.maxBufferedAmount) return true;
    return this.overflow();
  }

  /** Whether the send buffer is past `maxBufferedAmount`. */
  get overLimit(): boolean {
    return this.isOpen && this.transport.bufferedAmount > this.host.options.maxBufferedAmount;
  }

  /**
   * Closes the connection for the controller's send budget (1013): its
   * buffer is among the largest when all of them together are past
   * `maxTotalBufferedAmount`. The grace is short: a client that does not
   * read cannot read a close frame either.
   */
  exceedBudget(): void {
    // Closing already (for being slow, say) and still holding that much: let it go now.
    if (!this.isOpen) return this.terminate();
    this.beginClose(CloseCode.TryAgainLater, "Server send budget exceeded", Math.min(1_000, this.host.options.closeTimeout));
  }

  /** Applies the slow-consumer policy to a message this connection could not take; always `false`. */
  overflow(): false {
    this.host.stats.droppedMessages++;
    if (this.host.options.slowConsumerPolicy === "close") this.closeAsSlow();
    return false;
  }

  /** Closes a slow consumer (1013). */
  closeAsSlow(): void {
    this.beginClose(CloseCode.TryAgainLater, "Slow consumer", this.host.options.closeTimeout);
  }
}

/** Counts `recipients` messages of `bytes` each as sent. */
export function countSent(stats: StatCounters, recipients: number, bytes: number): void {
  stats.messagesOut += recipients;
  stats.bytesOut += bytes * recipients;
}

/**
 * Accounts a native publish (Bun) that went to `recipients` of `targets`
 * (all but `except` and those `skipped`, which the runtime did not reach).
 * The runtime has one limit per server, the largest of its controllers', so
 * this controller's own is applied here: when the runtime dropped the message
 * for someone, the policy applies to each target over this controller's
 * limit, and those are not counted; when it queued the message under
 * backpressure, targets over the limit are closed under the "close" policy
 * (under "drop" they keep what the runtime queued), and the send budget
 * takes a look. Returns the number of recipients.
 */
export function accountNativePublish(
  targets: Iterable<Outbound>,
  except: Outbound | undefined,
  skipped: ReadonlySet<Outbound> | undefined,
  recipients: number,
  result: PublishResult,
  bytes: number,
  host: OutboundHost,
): number {
  if (result !== "sent") {
    if (result === "backpressure") host.sendPressure();
    const closing = host.options.slowConsumerPolicy === "close";
    for (const target of targets) {
      if (target === except || skipped?.has(target) || !target.overLimit) continue;
      if (result === "dropped") {
        target.overflow();
        recipients--;
      } else if (closing) {
        target.closeAsSlow();
      }
    }
  }
  countSent(host.stats, recipients, bytes);
  return recipients;
}
