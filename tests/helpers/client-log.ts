/**
 * What a `switchboard/client` did, for the end-to-end client tests
 * (tests/client-runtimes.test.ts, tests/client-faults.test.ts): every event
 * it dispatched, in order, with the `n` of each recorded message per room;
 * a compact check that a room's delivered sequence is exactly 1..N; a
 * WebSocket constructor that notes each attempt and close (to time them);
 * and the check that nothing of a closed client is left running.
 */
import process from "node:process";
import type {
  ClientState,
  SwitchboardClient,
  WebSocketConstructor,
  WebSocketLike,
  WirePosition,
} from "../../src/client/mod.ts";

/** A state event as noted, with the time it came. */
export interface NotedState {
  readonly state: ClientState;
  readonly attempt: number;
  readonly delay: number | undefined;
  readonly code: number | undefined;
  readonly reason: string | undefined;
  readonly at: number;
}

/** Everything a client dispatched. */
export interface ClientLog {
  /** In order: "welcome", "resync:<room>:<epoch>/<id>", "message:<room>:<epoch>/<id>", "state:<state>", "dropped", "left:<room>". */
  readonly events: string[];
  readonly states: NotedState[];
  /** Resyncs with the time they came. */
  readonly resyncs: { room: string; position: WirePosition; at: number }[];
  readonly dropped: unknown[];
  readonly errors: string[];
  /** Each delivered recorded message of `room` as [epoch, n] (the app field `n`). */
  delivered(room: string): { epoch: string; id: number; n: number }[];
  /** The `n` of each delivered recorded message of `room`, in delivery order. */
  ns(room: string): number[];
  /** How many welcome frames came. */
  readonly welcomes: number;
  /** How many times the client was open. */
  readonly opens: number;
}

/** Notes every event of `client` from now on. */
export function recordClient(client: SwitchboardClient): ClientLog {
  const events: string[] = [];
  const states: NotedState[] = [];
  const resyncs: { room: string; position: WirePosition; at: number }[] = [];
  const dropped: unknown[] = [];
  const errors: string[] = [];
  const rooms = new Map<string, { epoch: string; id: number; n: number }[]>();
  let welcomes = 0;
  client.addEventListener("state", (e) => {
    states.push({ state: e.state, attempt: e.attempt, delay: e.delay, code: e.code, reason: e.reason, at: performance.now() });
    events.push(`state:${e.state}`);
  });
  client.addEventListener("welcome", () => {
    welcomes++;
    events.push("welcome");
  });
  client.addEventListener("resync", (e) => {
    resyncs.push({ room: e.room, position: e.position, at: performance.now() });
    events.push(`resync:${e.room}:${e.position.epoch}/${e.position.id}`);
  });
  client.addEventListener("message", (e) => {
    if (e.room === undefined || e.position === undefined) return void events.push("message");
    const n = (e.data as { n?: unknown }).n;
    const list = rooms.get(e.room) ?? rooms.set(e.room, []).get(e.room)!;
    list.push({ epoch: e.position.epoch, id: e.position.id, n: typeof n === "number" ? n : NaN });
    events.push(`message:${e.room}:${e.position.epoch}/${e.position.id}`);
  });
  client.addEventListener("dropped", (e) => {
    dropped.push(e.data);
    events.push("dropped");
  });
  client.addEventListener("left", (e) => events.push(`left:${e.room}`));
  client.addEventListener("error", (e) => errors.push(e.error.message));
  return {
    events,
    states,
    resyncs,
    dropped,
    errors,
    delivered: (room) => rooms.get(room) ?? [],
    ns: (room) => (rooms.get(room) ?? []).map((m) => m.n),
    get welcomes() {
      return welcomes;
    },
    get opens() {
      return states.filter((s) => s.state === "open").length;
    },
  };
}

/**
 * What is wrong with `ns` as the sequence from..to (inclusive), in a few
 * words (missing, repeated, out of order, unexpected), or "" when it is
 * exactly that sequence. Short on purpose: a deepEqual of 2 000 numbers
 * prints pages.
 */
export function sequenceProblems(ns: readonly number[], to: number, from = 1): string {
  const problems: string[] = [];
  const expected = to - from + 1;
  if (ns.length !== expected) problems.push(`${ns.length} delivered, expected ${expected}`);
  const seen = new Map<number, number>();
  for (const n of ns) seen.set(n, (seen.get(n) ?? 0) + 1);
  const repeated = [...seen].filter(([, count]) => count > 1).map(([n]) => n);
  if (repeated.length) problems.push(`repeated: ${head(repeated)}`);
  const missing: number[] = [];
  for (let n = from; n <= to; n++) if (!seen.has(n)) missing.push(n);
  if (missing.length) problems.push(`missing: ${head(missing)}`);
  const unexpected = [...seen.keys()].filter((n) => !(n >= from && n <= to));
  if (unexpected.length) problems.push(`unexpected: ${head(unexpected)}`);
  const disorder = ns.findIndex((n, i) => i > 0 && n <= ns[i - 1]!);
  if (disorder > 0) problems.push(`out of order at index ${disorder}: ${ns[disorder - 1]} then ${ns[disorder]}`);
  return problems.join("; ");
}

function head(list: readonly number[]): string {
  return list.length > 12 ? `${list.slice(0, 12).join(",")},… (${list.length})` : list.join(",");
}

/** Attempts and closes seen by a {@linkcode tapWebSocket}, with their times (performance.now()). */
export interface Tap {
  /** The constructor to give the client as its `WebSocket` option. */
  readonly WebSocket: WebSocketConstructor;
  /** Each socket made: its URL and when. */
  readonly attempts: { url: string; at: number }[];
  /** The sockets themselves, in the order made. */
  readonly sockets: WebSocketLike[];
  /** Each close event of those sockets: code, reason and when. */
  readonly closes: { code: number; reason: string; at: number }[];
  /** Each text frame that came, with when. */
  readonly frames: { data: string; at: number }[];
}

/**
 * A WebSocket constructor that makes real sockets of `Base` (the runtime's
 * standard one) and notes when each was made, what it received, and when it
 * closed: listeners of its own, next to the client's handlers.
 */
export function tapWebSocket(Base: WebSocketConstructor): Tap {
  const attempts: Tap["attempts"] = [];
  const closes: Tap["closes"] = [];
  const frames: Tap["frames"] = [];
  const sockets: WebSocketLike[] = [];
  // A constructor that returns another object: `new Tapped(url)` is the Base socket.
  function Tapped(url: string, protocols?: string | string[]): WebSocketLike {
    const socket = new Base(url, protocols) as WebSocketLike & EventTarget;
    attempts.push({ url, at: performance.now() });
    sockets.push(socket);
    socket.addEventListener("message", (e) => {
      const data = (e as MessageEvent).data;
      if (typeof data === "string") frames.push({ data, at: performance.now() });
    });
    socket.addEventListener("close", (e) => {
      const { code, reason } = e as CloseEvent;
      closes.push({ code, reason, at: performance.now() });
    });
    return socket;
  }
  return { WebSocket: Tapped as unknown as WebSocketConstructor, attempts, sockets, closes, frames };
}

/** Timeout timers alive in this process (`process.getActiveResourcesInfo()`: Node, Bun and Deno list them); undefined where it is missing. */
export function activeTimers(): number | undefined {
  const info = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo;
  return typeof info === "function" ? info().filter((r) => r === "Timeout").length : undefined;
}
