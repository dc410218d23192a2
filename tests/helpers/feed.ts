/**
 * The controller and client bookkeeping of the catch-up tests (the fast core
 * tests and the conformance test over real sockets): a room joined with
 * catch-up from the position a client sends back, and a log of what a
 * client was given across its reconnects.
 */
import { type CatchUp, type Connection, type HistoryEntry, parsePosition, type Position, type UpgradeRequest, WebSocketController } from "../../mod.ts";

type Since = Position | number | undefined;

/** Joins `feed` with catch-up on connect, from the `?since=&epoch=` position, and says what the catch-up was. */
export class Feed extends WebSocketController<{ since: Since }> {
  override onUpgrade(request: UpgradeRequest): { userData: { since: Since } } {
    return { userData: { since: parsePosition(request.query.get("since"), request.query.get("epoch")) } };
  }
  override async onConnect(conn: Connection<{ since: Since }>): Promise<void> {
    const catchUp: CatchUp = await conn.join("feed", { since: conn.userData.since });
    conn.sendJson({ type: "catchup", complete: catchUp.complete, ids: catchUp.entries.map((e) => e.id), position: catchUp.position });
  }
  /** Records message `n` in `feed`; it carries its own position. */
  send(n: number): Promise<HistoryEntry<string>> {
    return this.broadcastJson(({ id, epoch }) => ({ type: "msg", id, epoch, n }), { room: "feed", record: true });
  }
}

/** What `Feed` sends: the catch-up first, then live messages. */
export type FeedMessage =
  | { type: "catchup"; complete: boolean; ids: number[]; position: Position }
  | { type: "msg"; id: number; epoch: string; n: number };

/** Every id one client was given, in order, over all its connections, and how its resumes went. */
export class FeedLog {
  readonly ids: number[] = [];
  position: Position | undefined;
  resumes = 0;
  incompleteResumes = 0;
  liveBeforeCatchUp = 0;
  #resuming = false;
  #caughtUp = false;

  /** The query of the next connection: the last position, if any. */
  get query(): string {
    return this.position ? `?since=${this.position.id}&epoch=${this.position.epoch}` : "";
  }

  /** A new connection starts (call before it opens). */
  connecting(): void {
    this.#resuming = this.position !== undefined;
    this.#caughtUp = false;
  }

  /** One message of the current connection. */
  take(message: FeedMessage): void {
    if (message.type === "catchup") {
      this.#caughtUp = true;
      if (this.#resuming) {
        this.resumes++;
        if (!message.complete) this.incompleteResumes++;
      }
      this.ids.push(...message.ids);
      this.position = message.position;
    } else {
      if (!this.#caughtUp) this.liveBeforeCatchUp++;
      this.ids.push(message.id);
      this.position = { epoch: message.epoch, id: message.id };
    }
  }
}
