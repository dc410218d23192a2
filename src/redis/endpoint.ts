import type { EndpointEngine, EngineEndpoint, EngineState, EngineStats } from "../core/engine.ts";
import type { HistoryData, HistoryEntry, HistoryMeta, Position } from "../core/history.ts";
import { SwitchboardError } from "../core/errors.ts";
import type { RedisClient } from "./client.ts";
import { encodeUnrecorded, type Envelope } from "./envelope.ts";
import { EndpointKeys } from "./keys.ts";
import { type HistoryLink, RedisHistory } from "./redis-history.ts";
import { RedisPresence } from "./presence.ts";
import { RoomFeed } from "./room-feed.ts";

/** What an endpoint needs from its engine: the link, the subscriber, who this process is. */
export interface EngineLink extends HistoryLink {
  readonly processId: string;
  readonly state: EngineState;
  readonly degradedSince: number;
  /** Whether the link has been degraded for longer than its grace. */
  readonly pastGrace: boolean;
  /** How long presences outlive their process's last renewal (ms). */
  readonly presenceLease: number;
  /** How long a command may take (ms). */
  readonly commandTimeout: number;
  /** Whether commands may be sent: not while degraded after having been up (before the first connection, they wait). */
  readonly available: boolean;
  /** The command client as it is, for presence (which checks its state itself). */
  readonly commandClient: RedisClient;
  /** Subscribes the engine's subscriber connection to a channel for an endpoint; resolves once Redis confirms. */
  listen(channel: string, endpoint: RedisEndpoint, room: string | undefined): Promise<void>;
  /** Unsubscribes a channel. */
  unlisten(channel: string): void;
  /** The endpoint is closed. */
  forget(endpoint: RedisEndpoint): void;
}

interface Subscription {
  readonly feed: RoomFeed;
  /** The subscribe on its way or done: resolves once the room's messages flow and the feed knows where the room is; undefined after it failed. */
  ready: Promise<void> | undefined;
}

/**
 * The Redis engine's side of one endpoint (one controller of this process):
 * its history, the feed of each room that has local members, and the
 * publish of unrecorded messages.
 */
export class RedisEndpoint implements EndpointEngine {
  readonly history: RedisHistory;
  readonly presence: RedisPresence;
  readonly #endpoint: EngineEndpoint;
  readonly #link: EngineLink;
  readonly #keys: EndpointKeys;
  readonly #rooms: Map<string, Subscription> = new Map();
  #gapsRepaired = 0;
  #resyncs = 0;
  #closed = false;

  constructor(endpoint: EngineEndpoint, link: EngineLink) {
    this.#endpoint = endpoint;
    this.#link = link;
    this.#keys = new EndpointKeys(endpoint.name);
    this.history = new RedisHistory(link, this.#keys, endpoint.options.historySize, endpoint.options.historyTtl, link.processId);
    this.presence = new RedisPresence(link.commandClient, {
      name: endpoint.name,
      processId: link.processId,
      lease: link.presenceLease,
      commandTimeout: link.commandTimeout,
      available: () => link.available,
    });
    // Messages to every connection of the endpoint; a failure here is retried when the link is back.
    link.listen(this.#keys.everyone, this, undefined).catch(() => {});
  }

  get endpoint(): EngineEndpoint {
    return this.#endpoint;
  }

  get state(): EngineState {
    return this.#link.state;
  }

  get accepting(): boolean {
    return !this.#link.pastGrace;
  }

  publish(room: string | undefined, data: string | Uint8Array, except: readonly string[]): void {
    if (this.#link.state !== "up") return; // at most once: the other processes miss it
    const channel = room === undefined ? this.#keys.everyone : this.#keys.channel(room);
    let client;
    try {
      client = this.#link.client();
    } catch {
      return;
    }
    client.call("PUBLISH", channel, encodeUnrecorded(this.#link.processId, data, except)).catch(() => {});
  }

  record(room: string, data: HistoryData | ((meta: HistoryMeta) => HistoryData), except: readonly string[]): Promise<HistoryEntry> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.history.record(room, data, except);
  }

  subscribe(room: string): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    let subscription = this.#rooms.get(room);
    if (!subscription) {
      subscription = { feed: this.#feed(room), ready: undefined };
      this.#rooms.set(room, subscription);
    }
    return this.#ready(room, subscription);
  }

  /**
   * The subscription's readiness: at once for a live feed (the link's return
   * made it live if the first try failed), else the try on its way, else a
   * new one. A failed try is forgotten, so that the next subscribe tries again.
   */
  #ready(room: string, subscription: Subscription): Promise<void> {
    if (subscription.feed.live) return Promise.resolve();
    if (subscription.ready) return subscription.ready;
    const ready = this.#link.listen(this.#keys.channel(room), this, room).then(() => subscription.feed.start());
    subscription.ready = ready;
    // Handled here; callers that wait see the failure (a join's is reported there).
    ready.catch(() => {
      if (subscription.ready === ready) subscription.ready = undefined;
    });
    return ready;
  }

  #feed(room: string): RoomFeed {
    return new RoomFeed({
      readAfter: (id) => this.history.readAfter(room, id),
      deliver: (message) => this.#endpoint.deliver(room, message.data, message.except, { epoch: message.epoch, id: message.id }),
      resync: (position) => {
        this.#resyncs++;
        this.#endpoint.resync(room, position);
      },
      repaired: () => this.#gapsRepaired++,
      failed: () => {}, // the link's state says why; the feed reads again once it is back
    });
  }

  unsubscribe(room: string): void {
    const subscription = this.#rooms.get(room);
    if (!subscription) return;
    this.#rooms.delete(room);
    subscription.feed.close();
    this.#link.unlisten(this.#keys.channel(room));
  }

  afterDelivered(room: string, position: Position | undefined, then: () => void): void {
    const subscription = this.#rooms.get(room);
    if (subscription) subscription.feed.afterDelivered(position, then);
    else then();
  }

  /** A message on one of this endpoint's channels. */
  received(room: string | undefined, envelope: Envelope): void {
    if (this.#closed) return;
    if (!envelope.recorded) {
      if (envelope.origin !== this.#link.processId) this.#endpoint.deliver(room, envelope.data, envelope.except, undefined);
      return;
    }
    if (room !== undefined) this.#rooms.get(room)?.feed.receive(envelope);
  }

  /** The link is back: each room's feed reads what its channel missed. */
  resume(): void {
    for (const { feed } of this.#rooms.values()) feed.resume();
  }

  /** Channels to subscribe again after the link was down. */
  channels(): string[] {
    return [this.#keys.everyone, ...[...this.#rooms.keys()].map((room) => this.#keys.channel(room))];
  }

  stats(): EngineStats {
    return {
      state: this.#link.state,
      degradedSince: this.#link.degradedSince,
      rooms: this.#rooms.size,
      gapsRepaired: this.#gapsRepaired,
      resyncs: this.#resyncs,
    };
  }

  #closedError(): SwitchboardError {
    return new SwitchboardError("ENGINE_UNAVAILABLE", `Cannot use the engine of controller '${this.#endpoint.name}' as it is closed (the controller shut down, or the engine was closed)`);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const room of [...this.#rooms.keys()]) this.unsubscribe(room);
    this.#link.unlisten(this.#keys.everyone);
    this.#link.forget(this);
    return this.presence.close();
  }
}
