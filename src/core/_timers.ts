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
