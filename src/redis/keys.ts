/**
 * The names of an endpoint's Redis keys and channels. A room's keys share
 * the hash tag `{name:room}`, so that they land in one slot of a Redis
 * Cluster (and one shard of sharded pub/sub) when those come.
 */
export class EndpointKeys {
  readonly #name: string;
  /** Channel of the messages to every connection of the endpoint. */
  readonly everyone: string;
  /** ZSET of the endpoint's rooms that have a log, scored by their last write (ms). */
  readonly roomIndex: string;

  constructor(name: string) {
    this.#name = name;
    this.everyone = `sb:${name}:all`;
    this.roomIndex = `sb:${name}:rooms`;
  }

  #tag(room: string): string {
    return `sb:{${this.#name}:${room}}`;
  }

  /** HASH of a room's log: epoch `e`, top id `t`, base id `b` (the epoch's ids start after it), run id `r` of the server that set them. */
  meta(room: string): string {
    return this.#tag(room) + ":meta";
  }

  /** STREAM of a room's recorded messages, entry ids `<id>-0`. */
  stream(room: string): string {
    return this.#tag(room) + ":log";
  }

  /** Channel of a room's messages. */
  channel(room: string): string {
    return this.#tag(room) + ":msg";
  }
}
