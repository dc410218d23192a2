/**
 * `/lobby`: which rooms have whom, on every process.
 *
 * @module
 */
import { CloseCode, type Connection, type Engine, parseClientFrame, PONG_FRAME, type ShutdownOptions, WebSocketController } from "../../mod.ts";
import { now, type RoomOccupancy } from "./protocol.ts";

/** Milliseconds between two `rooms_update`s to the lobby. */
export const DEFAULT_LOBBY_INTERVAL = 1_000;

/** Where the lobby reads who is where: the chat (`ChatController`). */
export interface RoomDirectory {
  /** Who is in each room that has someone in it, on every process. */
  occupancy(): Promise<Record<string, RoomOccupancy>>;
}

/** What the lobby sends. */
export interface RoomsUpdate {
  type: "rooms_update";
  rooms: Record<string, RoomOccupancy>;
  timestamp: string;
}

/**
 * `/lobby`: which rooms have whom, sent on connect and after joins, leaves
 * and renames. Those updates are coalesced: the first change after a quiet
 * interval goes out at once, later ones within the interval go out together
 * at its end, so every lobby client sees the final state and one busy room
 * cannot make the lobby resend every room's user list per change.
 *
 * With an engine, a change is reported (through `onPresence`) on the one
 * process that made it, which sends the update to the lobby clients of
 * every process: the lobby is then one endpoint, named "lobby", everywhere.
 */
export class LobbyController extends WebSocketController {
  readonly #chat: RoomDirectory;
  readonly #updates: Coalescer;
  /** Whether other processes have lobby clients too (there is an engine). */
  readonly #shared: boolean;
  #stopped = false;

  /** The lobby of `chat`, with at most one `rooms_update` per `interval` ms from this process. */
  constructor(chat: RoomDirectory, interval: number = DEFAULT_LOBBY_INTERVAL, engine?: Engine) {
    super({ name: "lobby", engine, maxMessageSize: 1024 }); // lobby clients only listen
    this.#chat = chat;
    this.#shared = engine !== undefined;
    this.#updates = new Coalescer(interval, () => void this.#sendUpdate());
  }

  override async onConnect(conn: Connection): Promise<void> {
    try {
      conn.sendJson(await this.#roomsUpdate());
    } catch (error) {
      conn.close(CloseCode.InternalError, "Presence unavailable");
      throw error;
    }
  }

  /** The lobby only listens for the wire protocol's `ping` (a client checking its link), answered with `pong`. */
  override onTextMessage(conn: Connection, text: string): void {
    if (parseClientFrame(text).kind === "ping") conn.sendText(PONG_FRAME);
  }

  /** Something the lobby shows changed: every lobby client hears of it within the interval. */
  announce(): void {
    if (!this.#stopped && this.#listened()) this.#updates.request();
  }

  /**
   * Stops the coalesced updates too, so that no timer outlives the server.
   * An update still waiting for the end of its interval goes out first: with
   * an engine, the other processes' lobby clients would not hear of the
   * change otherwise.
   */
  override async shutdown(options?: ShutdownOptions): Promise<void> {
    const waiting = !this.#stopped && this.#updates.cancel();
    this.#stopped = true;
    if (waiting) await this.#sendUpdate(true);
    return super.shutdown(options);
  }

  /** Whether anybody may be listening: a lobby client here, or maybe on another process. */
  #listened(): boolean {
    return this.#shared || this.connections.size > 0;
  }

  async #sendUpdate(last = false): Promise<void> {
    if (!this.#listened()) return;
    try {
      const update = await this.#roomsUpdate();
      if (last || !this.#stopped) this.broadcastJson(update);
    } catch (error) {
      this.onError(undefined, error as Error);
    }
  }

  /** The rooms now; `timestamp` is when they were read. */
  async #roomsUpdate(): Promise<RoomsUpdate> {
    const timestamp = now();
    return { type: "rooms_update", rooms: await this.#chat.occupancy(), timestamp };
  }
}

/**
 * Runs `run` at most once per `interval` ms however often it is requested:
 * a request while idle runs it at once; requests in the interval after a run
 * make one more run at the end of the interval, which then reflects all of them.
 */
class Coalescer {
  readonly #interval: number;
  readonly #run: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pending = false;

  constructor(interval: number, run: () => void) {
    this.#interval = interval;
    this.#run = run;
  }

  request(): void {
    if (this.#timer !== undefined) {
      this.#pending = true;
      return;
    }
    this.#runNow();
  }

  /** Stops the timer; true when a run was waiting for it. */
  cancel(): boolean {
    const pending = this.#pending;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = false;
    return pending;
  }

  #runNow(): void {
    this.#timer = setTimeout(() => this.#intervalEnded(), this.#interval);
    this.#run();
  }

  #intervalEnded(): void {
    this.#timer = undefined;
    if (!this.#pending) return;
    this.#pending = false;
    this.#runNow();
  }
}
