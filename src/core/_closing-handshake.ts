import { CloseCode } from "./close-codes.ts";
import { HOOK_DISCONNECT, OrderedHooks } from "./_ordered-hooks.ts";
import { unrefTimer, type TimerHandle } from "./_timers.ts";
import type { Transport } from "./transport.ts";

/** The connection is open (as `readyState` 1). */
export const OPEN = 1;
/** The server has started the closing handshake (as `readyState` 2). */
export const CLOSING = 2;
/** The socket is gone (as `readyState` 3). */
export const CLOSED = 3;
/** Where a connection is in its life: {@linkcode OPEN}, {@linkcode CLOSING} or {@linkcode CLOSED}. */
export type ConnectionStatus = 1 | 2 | 3;

/**
 * The close state machine of one connection: open, closing (the server sent
 * its close frame and waits for the client's, at most a grace period), closed.
 * Reports the close to the subclass once, with the code the client was sent
 * when the server closed, and queues `onDisconnect` last.
 *
 * A close started by the server drops the messages waiting behind a running
 * hook: the server is done with that client. After a close by the client they
 * still run, but a hook that has not settled `hookTimeout` ms after the socket
 * went is given up on, and `onDisconnect` runs.
 */
export abstract class ClosingHandshake extends OrderedHooks {
  #status: ConnectionStatus = OPEN;
  /** The code and reason the server closed with, once it has (one field: idle connections stay light). */
  #closedWith: { readonly code: number; readonly reason: string } | undefined;
  #timer: TimerHandle | undefined;

  /** The runtime socket. */
  protected abstract readonly transport: Transport;
  /** The socket closed with this code and reason: forget it everywhere. `onDisconnect` runs after. */
  protected abstract closed(code: number, reason: string): void;
  /** How long a hook may still run after the socket has gone. */
  protected abstract hookTimeout(): number;

  /** {@linkcode OPEN}, {@linkcode CLOSING} or {@linkcode CLOSED}. */
  get status(): ConnectionStatus {
    return this.#status;
  }

  /** Whether the connection is open: not closing, not closed. */
  get isOpen(): boolean {
    return this.#status === OPEN;
  }

  /** Starts the closing handshake and terminates the socket after `grace` ms without an answer. */
  beginClose(code: number, reason: string, grace: number): void {
    if (this.#status !== OPEN) return;
    this.#status = CLOSING;
    this.#closedWith = { code, reason };
    this.dropQueuedMessages();
    try {
      this.transport.close(code, reason);
    } catch {
      // The runtime already considers the socket gone; the close event or the timer finishes it.
    }
    if (this.#status === CLOSING) this.#timer = unrefTimer(setTimeout(() => this.terminate(), grace));
  }

  /** Cuts the connection at once; reported as 1006 unless the server had started closing with its own code. */
  terminate(): void {
    if (this.#status === CLOSED) return;
    this.dropQueuedMessages();
    try {
      this.transport.terminate?.();
    } catch {
      // Already gone.
    }
    // Finish now: a runtime without terminate (Deno) may never report the close.
    this.transportClosed(CloseCode.Abnormal, "");
  }

  /** The client stopped answering pings: cut it, reported as 1006 "Heartbeat timeout". */
  heartbeatTimedOut(): void {
    if (this.#status === CLOSED) return;
    this.#closedWith = { code: CloseCode.Abnormal, reason: "Heartbeat timeout" };
    this.terminate();
  }

  /** The socket is gone, with the code and reason the runtime reported. */
  transportClosed(code: number, reason: string): void {
    if (this.#status === CLOSED) return;
    const byServer = this.#closedWith;
    this.#status = CLOSED;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // When the server closed, report its code: the runtime may only know 1005/1006.
    const finalCode = byServer ? byServer.code : code;
    const finalReason = byServer ? byServer.reason : reason;
    this.closed(finalCode, finalReason);
    this.limitWaitForStuckHook(this.hookTimeout());
    this.runHook(HOOK_DISCONNECT, [finalCode, finalReason]);
  }
}
