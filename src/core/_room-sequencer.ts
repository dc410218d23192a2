function noop(): void {}

/**
 * Keeps the recorded messages of each room in call order. Each append starts
 * at once (a History that pipelines its writes stays fast), and each delivery
 * waits for the previous delivery of the same room, so messages go out in id
 * order even when the History answers out of order. Rooms do not wait for
 * each other, and a room that is idle holds no state.
 */
export class RoomSequencer {
  readonly #tails: Map<string, Promise<void>> = new Map();

  /** Delivers `appended`'s value once it and every earlier message of `room` are done; resolves with it. */
  run<T>(room: string, appended: Promise<T>, deliver: (value: T) => void): Promise<T> {
    // Handled now: a rejection must not count as unhandled while it waits for the previous message.
    appended.catch(noop);
    const previous = this.#tails.get(room);
    const done = (previous ? previous.then(() => appended) : appended).then((value) => {
      deliver(value);
      return value;
    });
    const tail = done.then(noop, noop);
    this.#tails.set(room, tail);
    void tail.then(() => {
      if (this.#tails.get(room) === tail) this.#tails.delete(room); // nothing queued behind it
    });
    return done;
  }

  /**
   * Runs `then` once every recorded message of `room` on its way now has
   * been delivered (at once when none is): a join with catch-up ends there,
   * so a message its read already returned cannot reach it again afterwards.
   */
  afterInFlight(room: string, then: () => void): void {
    const tail = this.#tails.get(room);
    if (tail) void tail.then(then);
    else then();
  }
}
