import { unrefTimer, type TimerHandle } from "./_timers.ts";

// Hook kinds, queued as (kind, argument, cost) triples so an ordinary message costs no closure.
export const HOOK_CONNECT = 0;
export const HOOK_TEXT = 1;
export const HOOK_BINARY = 2;
export const HOOK_PING = 3;
export const HOOK_PONG = 4;
export const HOOK_DISCONNECT = 5;
/** Which hook to run: one of the `HOOK_*` constants. */
export type HookKind = 0 | 1 | 2 | 3 | 4 | 5;
/** Tells `drain` to take its first hook from the queue. */
const NEXT_QUEUED = -1;
const SLOT = 3;
/**
 * What a queued event costs besides its payload, for the byte bound: its
 * queue slots and its message. An empty frame or a ping is not free, or a
 * client could queue millions of them.
 */
const EVENT_COST = 64;

/** How many messages and bytes may wait behind a running hook. */
export interface PendingLimits {
  readonly maxPendingMessages: number;
  readonly maxPendingBytes: number;
}

/** The events waiting behind a running hook; made only when one has to wait. */
class Waiting {
  /** (kind, argument, cost) triples, from `head` on. */
  readonly items: unknown[] = [];
  head = 0;
  /** What the waiting events cost, for `maxPendingBytes`. */
  bytes = 0;

  get count(): number {
    return (this.items.length - this.head) / SLOT;
  }
}

/** Tokens of hook runs, one per run over all connections: a settling hook knows whether it is still the one running. */
let nextRun = 1;

/**
 * Runs the hooks of one connection one at a time, in the order of their
 * events: while an async hook is pending, later events wait in a queue, and
 * `onDisconnect` runs last, exactly once. The first link of the chain of
 * classes that make up one connection (one object per socket keeps idle
 * connections light, which is also why this class has three fields and no
 * private methods: V8 and JSC give each class with `#methods` a slot of its
 * own); the subclass says how to call, fail and close.
 *
 * Bounds: the bytes waiting are checked as each event queues (memory),
 * the count of messages only once the event loop has turned, so a burst the
 * hook keeps up with through promise callbacks alone is never refused.
 */
export abstract class OrderedHooks {
  /** The token of the hook running (its synchronous part, or its promise not yet settled), or 0. */
  #running = 0;
  #waiting: Waiting | undefined;
  /** A pending count check, or the wait for a hook still running after the socket has gone. */
  #timer: TimerHandle | undefined;

  /** Calls the hook of `kind` with `arg`; returns what it returned. */
  protected abstract callHook(kind: HookKind, arg: unknown): unknown;
  /** A hook threw or rejected. */
  protected abstract hookFailed(error: unknown): void;
  /** More is waiting than the limits allow: the subclass closes the connection (1008). */
  protected abstract pendingOverflow(): void;
  /** A hook finished (after its promise settled, for an async one). */
  protected abstract hookFinished(kind: HookKind): void;
  /** A hook did not settle in time after the socket had gone; the subclass reports it. */
  protected abstract hookGivenUp(): void;
  /** The limits in force. */
  protected abstract pendingLimits(): PendingLimits;

  /** Whether a hook is running (its synchronous part, or its promise has not settled). */
  protected get hookRunning(): boolean {
    return this.#running !== 0;
  }

  /** Runs a hook now, or queues it behind the running one; `bytes` is a message's size, for the bound. */
  protected runHook(kind: HookKind, arg: unknown, bytes = 0): void {
    // Running covers a hook's synchronous part too: an event it causes (a close or terminate
    // from inside the hook) waits in the queue instead of running in the middle of it.
    if (this.#running === 0) return this.drain(kind, arg);
    const waiting = (this.#waiting ??= new Waiting());
    let cost = 0;
    if (kind !== HOOK_DISCONNECT) {
      cost = bytes + EVENT_COST;
      const limits = this.pendingLimits();
      // One message always fits in an empty queue, as one frame always fits in an empty send buffer.
      if (waiting.bytes > 0 && waiting.bytes + cost > limits.maxPendingBytes) return this.pendingOverflow();
      waiting.bytes += cost;
      if (waiting.count >= limits.maxPendingMessages) this.checkCountLater();
    }
    waiting.items.push(kind, arg, cost);
  }

  /** Forgets the messages waiting (not a queued `onDisconnect`): the server is done with this client. */
  protected dropQueuedMessages(): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    const { items } = waiting;
    let disconnect: unknown;
    for (let i = waiting.head; i < items.length; i += SLOT) {
      if (items[i] === HOOK_DISCONNECT) disconnect = items[i + 1];
    }
    this.#waiting = undefined;
    if (disconnect !== undefined) (this.#waiting = new Waiting()).items.push(HOOK_DISCONNECT, disconnect, 0);
  }

  /**
   * The socket has gone while a hook may still be running: wait for it at most
   * `timeout` ms, then drop what is queued and run `onDisconnect` anyway. A
   * hook given up on may still settle later; that changes nothing. Call it
   * before queueing `onDisconnect`, so that only an earlier hook is waited
   * for: `onDisconnect` itself may take as long as it needs.
   */
  protected limitWaitForStuckHook(timeout: number): void {
    if (this.#running === 0) return;
    this.clearTimer();
    this.#timer = unrefTimer(setTimeout(() => {
      this.#timer = undefined;
      if (this.#running === 0) return;
      this.#running = 0; // the stuck hook's token is stale from here on
      this.dropQueuedMessages();
      this.hookGivenUp();
      this.drain(NEXT_QUEUED, undefined);
    }, timeout));
  }

  private checkCountLater(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const waiting = this.#waiting;
      if (waiting && waiting.count > this.pendingLimits().maxPendingMessages) this.pendingOverflow();
    }, 0);
  }

  private clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Runs one hook (or, given NEXT_QUEUED, the next queued one), then what
   * queued behind it, in order, until a hook returns a promise.
   */
  private drain(kind: HookKind | typeof NEXT_QUEUED, arg: unknown): void {
    for (;;) {
      if (kind === NEXT_QUEUED) {
        const waiting = this.#waiting;
        if (!waiting || waiting.head >= waiting.items.length) {
          this.#waiting = undefined;
          return;
        }
        const { items, head } = waiting;
        kind = items[head] as HookKind;
        arg = items[head + 1];
        waiting.bytes -= items[head + 2] as number;
        items[head + 1] = undefined;
        waiting.head += SLOT;
      }
      // onDisconnect has started: a wait for a stuck hook before it is over.
      if (kind === HOOK_DISCONNECT) this.clearTimer();
      const run = (this.#running = nextRun++);
      if (this.invoke(kind, arg, run)) return; // async: settled() continues
      this.#running = 0;
      this.hookFinished(kind);
      kind = NEXT_QUEUED;
    }
  }

  /** Calls a hook; `true` when it returned a promise, whose settling then resumes the queue. */
  private invoke(kind: HookKind, arg: unknown, run: number): boolean {
    let result: unknown;
    try {
      result = this.callHook(kind, arg);
    } catch (error) {
      this.hookFailed(error);
      return false;
    }
    if (result === null || typeof result !== "object" || typeof (result as Promise<unknown>).then !== "function") {
      return false;
    }
    (result as Promise<unknown>).then(
      () => this.settled(kind, run),
      (error: unknown) => {
        this.hookFailed(error);
        this.settled(kind, run);
      },
    );
    return true;
  }

  /** An async hook finished: run what queued up behind it, unless it was given up on. */
  private settled(kind: HookKind, run: number): void {
    if (run !== this.#running) return;
    this.#running = 0;
    this.hookFinished(kind);
    this.drain(NEXT_QUEUED, undefined);
  }
}
