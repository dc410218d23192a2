/**
 * A name or a room as a part of a key: `%`, `:`, `{` and `}` escaped as in a
 * URL, so that endpoint "a:b" with room "c" and endpoint "a" with room "b:c"
 * never share keys, and a brace in a room cannot end the hash tag early.
 */
export function keyPart(text: string): string {
  return /[%:{}]/.test(text) ? text.replace(/[%:{}]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase()) : text;
}

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
  /** ZSET of the endpoint's rooms that have presences, to sweep. */
  readonly presenceIndex: string;

  constructor(name: string) {
    this.#name = keyPart(name);
    this.everyone = `sb:${this.#name}:all`;
    this.roomIndex = `sb:${this.#name}:rooms`;
    this.presenceIndex = `sb:${this.#name}:presence-rooms`;
  }

  #tag(room: string): string {
    return `sb:{${this.#name}:${keyPart(room)}}`;
  }

  /** A room's presence keys: ZSET of holdings by lease expiry, HASH of holder counts, HASH of data. */
  presence(room: string): [pz: string, pc: string, ph: string] {
    const tag = this.#tag(room);
    return [`${tag}:pz`, `${tag}:pc`, `${tag}:ph`];
  }

  /** HASH of a room's log: epoch `e`, top id `t`, base id `b` (the epoch's ids start after it), run id `r` of the server that set them. */
  meta(room: string): string {
    return this.#tag(room) + ":meta";
  }

  /** STREAM of a room's recorded messages, entry ids `<id>-0`. */
  stream(room: string): string {
    return this.#tag(room) + ":log";
  }

  /** STRING: the number of the last append of process `processId` in the room (it expires 10 minutes after). */
  appendNumber(room: string, processId: string): string {
    return `${this.#tag(room)}:q:${processId}`;
  }

  /** Channel of a room's messages. */
  channel(room: string): string {
    return this.#tag(room) + ":msg";
  }
}
