/** A handle from `setTimeout`/`setInterval`, whatever the runtime's type for it. */
export type TimerHandle = ReturnType<typeof setTimeout>;

/**
 * Lets the process exit while the timer is pending: Node and Bun return timer
 * objects with `unref()`, Deno returns numbers and offers `Deno.unrefTimer`.
 */
export function unrefTimer(handle: TimerHandle): TimerHandle {
  const timer = handle as unknown as { unref?: () => void };
  if (typeof timer.unref === "function") {
    timer.unref();
  } else {
    const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
    deno?.unrefTimer?.(handle as unknown as number);
  }
  return handle;
}

/**
 * `promise`, or a rejection with `timedOut()` once `ms` have passed; the timer
 * is cleared when the promise settles, and keeps the process alive only when
 * `keepAlive` (a wait whose end something is waiting for, such as an upgrade's).
 * The work behind `promise` is not cancelled.
 */
export function rejectAfter<T>(promise: Promise<T>, ms: number, timedOut: () => Error, keepAlive = false): Promise<T> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
    if (!keepAlive) unrefTimer(timer);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
