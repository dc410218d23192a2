/**
 * A History with latency, the way a remote store has it: each call is
 * carried out in call order when it is made (as one Redis connection would),
 * and its answer arrives after a random delay, so answers come back out of
 * order. Reads wait a random time before and after they look.
 */
import { type History, type HistoryData, type HistoryEntry, type HistoryMeta, MemoryHistory, type Position, type SinceResult } from "../../mod.ts";

/** A seeded pseudo-random number generator (mulberry32): the same run for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class LatentHistory implements History {
  readonly inner: MemoryHistory;
  readonly #maxLatency: number;
  readonly #random: () => number;

  constructor(options: { size: number; maxLatency: number; random: () => number }) {
    this.inner = new MemoryHistory({ size: options.size });
    this.#maxLatency = options.maxLatency;
    this.#random = options.random;
  }

  #delay(): Promise<void> {
    return sleep(Math.floor(this.#random() * (this.#maxLatency + 1)));
  }

  async append(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData)): Promise<HistoryEntry> {
    const entry = await this.inner.append(room, data); // carried out now, in call order
    await this.#delay();
    return entry;
  }
  async #read<T>(read: () => Promise<T>): Promise<T> {
    await this.#delay();
    const result = await read();
    await this.#delay();
    return result;
  }
  recent(room: string, limit?: number): Promise<HistoryEntry[]> {
    return this.#read(() => this.inner.recent(room, limit));
  }
  since(room: string, since: Position | number): Promise<SinceResult> {
    return this.#read(() => this.inner.since(room, since));
  }
  position(room: string): Promise<Position> {
    return this.#read(() => this.inner.position(room));
  }
  count(room?: string): Promise<number> {
    return this.inner.count(room);
  }
  rooms(): Promise<string[]> {
    return this.inner.rooms();
  }
  clear(room?: string): Promise<void> {
    return this.inner.clear(room);
  }
}
