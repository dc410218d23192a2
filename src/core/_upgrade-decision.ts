import { describe } from "./_check.ts";
import { rejectAfter } from "./_timers.ts";
import { checkHandshake } from "./_handshake.ts";
import { SwitchboardError } from "./errors.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Transport, TransportEvents } from "./transport.ts";
import type { UpgradeRequest, UpgradeResult } from "./upgrade.ts";

/** What deciding an upgrade needs from the hub of its controller. */
export interface UpgradeHost<UserData> {
  readonly options: ResolvedOptions;
  /** Why new upgrades are refused with 503 now (a shutdown, an engine that cannot serve), or undefined. */
  readonly unavailable: string | undefined;
  onUpgrade(request: UpgradeRequest): UpgradeResult<UserData> | Promise<UpgradeResult<UserData>>;
  /** Counts a refused upgrade. */
  refused(): void;
  /** Reports a failure of (or about) `onUpgrade` to `onError`. */
  upgradeFailed(error: unknown): void;
  /** Registers an accepted socket, hands its events to `bind`, and runs `onConnect`. */
  open(transport: Transport, upgrade: AcceptedUpgrade<UserData>, bind: ((events: TransportEvents) => void) | undefined): TransportEvents;
}

/** An upgrade `onUpgrade` accepted: what the adapter needs to complete it, and `open` once the socket is up. */
export class AcceptedUpgrade<UserData> {
  /** Always true: the adapter completes the handshake. */
  readonly accept = true as const;
  /** The subprotocol chosen ("" for none); the adapter puts it on the 101. */
  readonly protocol: string;
  /** Extra headers for the 101 response, from `onUpgrade`. */
  readonly headers: Headers | undefined;
  /** The request, as `onUpgrade` saw it. */
  readonly request: UpgradeRequest;
  /** The connection's first `userData`. */
  readonly userData: UserData;
  readonly #host: UpgradeHost<UserData>;
  #opened = false;

  /** Made by the core's upgrade decision; adapters receive it, they do not build it. */
  constructor(host: UpgradeHost<UserData>, request: UpgradeRequest, userData: UserData, protocol: string, headers: Headers | undefined) {
    this.#host = host;
    this.request = request;
    this.userData = userData;
    this.protocol = protocol;
    this.headers = headers;
  }

  /**
   * The socket is open: registers the connection, runs `onConnect`, and
   * returns where the adapter reports the socket's events. `bind` gets them
   * before `onConnect` runs: a close that `onConnect` causes may be reported
   * by the runtime at once (Bun does), and must find them. Call it once.
   */
  open(transport: Transport, bind?: (events: TransportEvents) => void): TransportEvents {
    if (this.#opened) throw new TypeError("Cannot open the connection as this upgrade was already opened");
    this.#opened = true;
    return this.#host.open(transport, this, bind);
  }
}

/** An upgrade refused: the adapter answers with `response`. */
export interface RefusedUpgrade {
  /** Always false: the adapter sends `response` instead of a 101. */
  readonly accept: false;
  /** The refusal, with its status, headers and body. */
  readonly response: Response;
}

/** The core's verdict on an upgrade, which the adapter carries out. */
export type UpgradeDecision<UserData> = AcceptedUpgrade<UserData> | RefusedUpgrade;

const ACCEPT_KEYS: ReadonlySet<string> = new Set(["userData", "protocol", "headers"]);
const TEXT = { "content-type": "text/plain; charset=utf-8" };

/**
 * Decides an upgrade: the RFC 6455 handshake first (400/426), then a
 * shutdown or an engine past its degraded grace (503), then `onUpgrade` within `upgradeTimeout` (503 past it),
 * its answer checked (500 for one that is neither an accept nor a
 * `Response`), then the subprotocol rules (400 when none of `protocols` was
 * offered). Every refusal is counted in `rejectedUpgrades`.
 */
export async function decideUpgrade<UserData>(
  host: UpgradeHost<UserData>,
  request: UpgradeRequest,
  method: string,
): Promise<UpgradeDecision<UserData>> {
  const invalid = checkHandshake(method, (name) => request.header(name));
  if (invalid) return refused(host, invalid);
  const unavailable = host.unavailable;
  if (unavailable !== undefined) return refuse(host, 503, unavailable);
  let result: unknown;
  try {
    result = await withTimeout(host.onUpgrade(request), host.options.upgradeTimeout);
  } catch (error) {
    host.upgradeFailed(error);
    return error instanceof SwitchboardError && error.code === "UPGRADE_TIMEOUT"
      ? refuse(host, 503, "Service Unavailable")
      : refuse(host, 500, "Internal Server Error");
  }
  if (result instanceof Response) return refused(host, result);
  const problem = acceptProblem(result, host.options.requireUserData);
  if (problem) {
    host.upgradeFailed(problem);
    return refuse(host, 500, "Internal Server Error");
  }
  const accept = result as { userData?: UserData; protocol?: string; headers?: HeadersInit } | undefined;
  const offered = request.protocols;
  let protocol = accept?.protocol;
  if (protocol !== undefined) {
    if (!offered.includes(protocol)) {
      host.upgradeFailed(new SwitchboardError("INVALID_UPGRADE_RESULT", `Cannot accept upgrade as protocol '${protocol}' was not offered by the client: offered ${JSON.stringify(offered)}`));
      return refuse(host, 500, "Internal Server Error");
    }
  } else {
    const supported = host.options.protocols;
    // `protocols` is documented as the endpoint's order of preference, so it decides among the offered ones.
    protocol = supported ? supported.find((p) => offered.includes(p)) : offered[0];
    if (protocol === undefined && supported && offered.length > 0) {
      return refuse(host, 400, `Unsupported subprotocol: supported are ${supported.join(", ")}`);
    }
  }
  let headers: Headers | undefined;
  try {
    headers = accept?.headers ? new Headers(accept.headers) : undefined;
  } catch (error) {
    host.upgradeFailed(new SwitchboardError("INVALID_UPGRADE_RESULT", "Cannot accept upgrade as its 'headers' are not valid headers", { cause: error }));
    return refuse(host, 500, "Internal Server Error");
  }
  return new AcceptedUpgrade(host, request, accept?.userData as UserData, protocol ?? "", headers);
}

/** Why `onUpgrade`'s answer is not an accept, or undefined when it is one. */
function acceptProblem(result: unknown, requireUserData: boolean): SwitchboardError | undefined {
  if (result === undefined) {
    return requireUserData ? new SwitchboardError("USER_DATA_MISSING", "Cannot accept upgrade as 'userData' is required but onUpgrade returned nothing") : undefined;
  }
  if (typeof result !== "object" || result === null || Array.isArray(result)) {
    return new SwitchboardError("INVALID_UPGRADE_RESULT", `Cannot accept upgrade as onUpgrade must return { userData, protocol, headers }, nothing, or a Response: current value is ${describe(result)}`);
  }
  for (const key of Object.keys(result)) {
    if (!ACCEPT_KEYS.has(key)) {
      return new SwitchboardError("INVALID_UPGRADE_RESULT", `Cannot accept upgrade as '${key}' is not a field of an accept: the fields are userData, protocol and headers`);
    }
  }
  const { protocol, userData } = result as { protocol?: unknown; userData?: unknown };
  if (protocol !== undefined && typeof protocol !== "string") {
    return new SwitchboardError("INVALID_UPGRADE_RESULT", `Cannot accept upgrade as 'protocol' must be a string: current value is ${describe(protocol)}`);
  }
  if (requireUserData && userData === undefined) {
    return new SwitchboardError("USER_DATA_MISSING", "Cannot accept upgrade as 'userData' is required but onUpgrade accepted without it");
  }
  return undefined;
}

/** `value`, or a rejection with `UPGRADE_TIMEOUT` if it is a promise that takes longer than `ms`. */
function withTimeout<T>(value: T | Promise<T>, ms: number): T | Promise<T> {
  if (value === null || typeof value !== "object" || typeof (value as { then?: unknown }).then !== "function") return value;
  return rejectAfter(value as Promise<T>, ms, () => new SwitchboardError("UPGRADE_TIMEOUT", `Cannot accept upgrade as onUpgrade had not settled after ${ms} ms`), true);
}

function refuse<UserData>(host: UpgradeHost<UserData>, status: number, body: string): UpgradeDecision<UserData> {
  return refused(host, new Response(body, { status, headers: TEXT }));
}

function refused<UserData>(host: UpgradeHost<UserData>, response: Response): UpgradeDecision<UserData> {
  host.refused();
  return { accept: false, response };
}
