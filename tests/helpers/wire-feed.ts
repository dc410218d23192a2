/**
 * A server that speaks the wire protocol, for the client's tests: one room
 * "feed" joined at connect (resumed from `?resume=`), rooms joined and left
 * in-band, pings answered, and `{"type":"publish","n"}` from a client
 * recorded in its room (acknowledged and deduplicated when it carries an
 * `ack` key, scoped by the `?client=` the client names itself with).
 */
import {
  ackFrame,
  type ControllerOptions,
  type Connection,
  type Dedupe,
  type HistoryEntry,
  joinedFrame,
  leftFrame,
  MemoryDedupe,
  messageFrame,
  parseClientFrame,
  PONG_FRAME,
  readResume,
  type UpgradeRequest,
  WebSocketController,
  welcomeFrame,
  type WirePosition,
} from "../../mod.ts";

/** What the feed keeps per connection. */
export interface WireFeedUser {
  /** The `?client=` name: the scope of its idempotency keys. */
  client: string;
  resume: Map<string, WirePosition>;
}

/** Rooms a client may join in-band. */
const ROOM = /^[a-z0-9-]{1,32}$/;

/** The feed; `dedupe` defaults to one in memory. */
export class WireFeed extends WebSocketController<WireFeedUser> {
  readonly dedupe: Dedupe;
  /** Publishes from clients that ran (not those deduplicated), by room. */
  readonly published: Map<string, number[]> = new Map();

  constructor(options: ControllerOptions & { dedupe?: Dedupe } = {}) {
    const { dedupe, ...controllerOptions } = options;
    super({ historySize: 10_000, ...controllerOptions });
    this.dedupe = dedupe ?? new MemoryDedupe();
  }

  override onUpgrade(request: UpgradeRequest): { userData: WireFeedUser } {
    return { userData: { client: request.query.get("client") ?? "", resume: readResume(request.query) } };
  }

  override async onConnect(conn: Connection<WireFeedUser>): Promise<void> {
    const feed = await conn.join("feed", { since: conn.userData.resume.get("feed"), limit: 10_000 });
    conn.sendText(welcomeFrame({ feed }, { connectionId: conn.id }));
  }

  override async onTextMessage(conn: Connection<WireFeedUser>, text: string): Promise<void> {
    const frame = parseClientFrame(text);
    switch (frame.kind) {
      case "ping":
        conn.sendText(PONG_FRAME);
        return;
      case "join": {
        if (!ROOM.test(frame.room)) return void conn.sendText(leftFrame(frame.room, "no such room"));
        const catchUp = await conn.join(frame.room, { since: frame.since, limit: 10_000 });
        conn.sendText(joinedFrame(frame.room, catchUp));
        return;
      }
      case "leave":
        conn.leave(frame.room);
        conn.sendText(leftFrame(frame.room));
        return;
      case "invalid":
        conn.sendJson({ type: "error", message: frame.reason });
        return;
    }
    const data = frame.data as { type?: unknown; n?: unknown; room?: unknown } | undefined;
    if (data?.type !== "publish" || typeof data.n !== "number") return;
    const room = typeof data.room === "string" && ROOM.test(data.room) ? data.room : "feed";
    const n = data.n;
    const publish = async () => {
      (this.published.get(room) ?? this.published.set(room, []).get(room)!).push(n);
      await this.publish(n, room);
      return { ok: true as const };
    };
    if (frame.ack === undefined) return void await publish();
    const { outcome } = await this.dedupe.run(conn.userData.client, frame.ack, publish);
    if (conn.readyState === 1) conn.sendText(ackFrame(frame.ack, outcome));
  }

  /** Records `{n}` in `room` as a message frame, sent to the room. */
  publish(n: number, room = "feed"): Promise<HistoryEntry<string>> {
    return this.broadcastText((meta) => messageFrame(meta, { n }), { room, record: true });
  }
}
