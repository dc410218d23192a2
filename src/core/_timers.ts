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
 * `promise`, or a rejection with `timedOut()` once `ms` have passed (the timer
 * does not keep the process alive, and is cleared when the promise settles).
 * The work behind `promise` is not cancelled.
 */
export function rejectAfter<T>(promise: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = unrefTimer(setTimeout(() => reject(timedOut()), ms));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
