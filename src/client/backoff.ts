/**
 * Reconnection delays: exponential backoff with full jitter.
 *
 * @module
 */

/** The bounds of the backoff, in milliseconds. */
export interface BackoffBounds {
  /** The window of attempt 0: its delay is in [0, minDelay). */
  readonly minDelay: number;
  /** The cap of the window, reached after a few attempts. */
  readonly maxDelay: number;
}

/**
 * The delay before reconnection attempt `attempt` (0 first):
 * `random() * min(maxDelay, minDelay * 2 ** attempt)`. The jitter is "full"
 * (from 0) at every attempt, the cap included: clients that lost the same
 * server at the same moment then come back spread over the whole window
 * instead of all together at the cap.
 */
export function backoffDelay(attempt: number, bounds: BackoffBounds, random: () => number = Math.random): number {
  // 2 ** attempt becomes Infinity past 1023; min() keeps the cap.
  const window = Math.min(bounds.maxDelay, bounds.minDelay * 2 ** attempt);
  return random() * window;
}
