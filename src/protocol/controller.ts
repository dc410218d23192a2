/**
 * `ProtocolController`: a {@linkcode WebSocketController} that speaks a
 * {@linkcode Protocol}. It decodes each text frame, answers the wire
 * protocol's own (ping, join, leave), validates the application's against
 * its schema and hands it to one typed handler per message type; anything
 * wrong gets an error reply and the connection stays open. Outbound, `send`
 * and `broadcast` are typed and optionally validated.
 *
 * @module
 */
import { checkKnownKeys, checkOptionsObject, describe } from "../core/_check.ts";
import type { Connection } from "../core/connection.ts";
import { type BroadcastOptions, type RecordedBroadcastOptions, WebSocketController } from "../core/controller.ts";
import type { HistoryEntry, HistoryMeta } from "../core/history.ts";
import type { ControllerOptions } from "../core/options.ts";
import type { WirePosition } from "../core/wire/frames.ts";
import type { Dedupe } from "../core/wire/dedupe.ts";
import { ackFrame, type AckOutcome, errorFrame, leftFrame, parseClientFrame, PONG_FRAME } from "../core/wire/server-frames.ts";
import { MessageRefused } from "./errors.ts";
import { Limiter, type MessageLimit, type MessageLimits } from "./limits.ts";
import type { ProtocolShape, ReceivedMessage, SentMessage, StandardSchema } from "./types.ts";
import { formatIssues, isStandardSchema, type MessageIssue, validate, type Validation } from "./validate.ts";

/**
 * When `send` and `broadcast` validate what they send: never ("off"), unless
 * `NODE_ENV` is "production" ("development", the default), or "always".
 * An invalid outbound message is a bug in the server: a TypeError, nothing sent.
 */
export type ValidateOutbound = "off" | "development" | "always";

/** Runs acknowledged messages' handlers at most once per idempotency key. */
export interface ProtocolDedupe<UserData, P extends ProtocolShape = ProtocolShape> {
  /** Where keys are remembered: a `MemoryDedupe`, or a `RedisDedupe` for several processes. */
  readonly store: Dedupe;
  /** Whose keys they are (keys are the client's): default the connection's id. Return a user's id to span reconnects. */
  readonly scope?: (connection: Connection<UserData>) => string;
  /** The client message types deduplicated; default all. Others run on each repeat (say, an idempotent one, to spare the store a round trip). */
  readonly types?: readonly (keyof P["client"] & string)[];
}

/** Options of a {@linkcode ProtocolController}: the controller's, plus outbound validation, dedupe and rate limits. */
export interface ProtocolControllerOptions<UserData = undefined, P extends ProtocolShape = ProtocolShape> extends ControllerOptions {
  /** When outbound messages are validated; default "development". */
  readonly validateOutbound?: ValidateOutbound;
  /** Runs acknowledged messages' handlers through a {@linkcode Dedupe}; default none (each repeat runs again). */
  readonly dedupe?: ProtocolDedupe<UserData, P>;
  /**
   * Rate limits per client message type, in sliding windows, per connection
   * or per key (see {@linkcode MessageLimit}); default none. Checked after
   * validation and before the handler (for an acknowledged, deduplicated
   * message: only when it is not a repeat already done).
   */
  readonly limits?: MessageLimits<P, UserData>;
}

/**
 * Why the dispatcher refuses a message, as {@linkcode ProtocolController.refusal}
 * gets it: the reply it would send, and what it knows of the message.
 */
export interface Refusal<UserData = undefined> {
  /** A {@linkcode ProtocolErrorCode}, "rate_limited", or a handler's {@linkcode MessageRefused} code. */
  readonly code: string;
  /** The default text, for people. */
  readonly message: string;
  /** The message's `type`, when it had a string one. */
  readonly messageType?: string;
  /** With "invalid_message": each problem the schema found. */
  readonly issues?: readonly MessageIssue[];
  /** The message as parsed from JSON (with its `type`, without `ack`), when it was JSON. */
  readonly data?: unknown;
  /** With "rate_limited": the limit that refused it. */
  readonly limit?: MessageLimit<UserData, unknown>;
}

/**
 * The error reply to send, as {@linkcode ProtocolController.refusal} returns
 * it: `{"type":"error", code, message, messageType?, issues?}`, or, for an
 * acknowledged message, an `ack` with `ok: false` and `{ code, message }`.
 */
export interface RefusalReply {
  /** Machine-readable. */
  readonly code: string;
  /** For people. */
  readonly message: string;
  /** Sent when given. */
  readonly messageType?: string;
  /** Sent when given. */
  readonly issues?: readonly MessageIssue[];
}

/**
 * One handler per client message type: it gets the connection and the
 * validated fields (the schema's output, without `type` and `ack`). It may
 * be async; a {@linkcode MessageRefused} it throws is answered as such,
 * anything else goes to `onError`.
 */
export type ProtocolHandlers<P extends ProtocolShape, UserData = undefined> = {
  readonly [Type in keyof P["client"] & string]: (connection: Connection<UserData>, message: ReceivedMessage<P, Type>) => void | Promise<void>;
};

const OWN_KEYS: ReadonlySet<string> = new Set(["validateOutbound", "dedupe", "limits"]);
const OK: AckOutcome = Object.freeze({ ok: true });
const MODES: ReadonlySet<string> = new Set(["off", "development", "always"]);

/**
 * A controller for one {@linkcode Protocol}. Define `handlers` (a class
 * field, annotated with {@linkcode ProtocolHandlers} so that each handler's
 * message is typed); `onTextMessage` dispatches to them. Every other hook
 * is the controller's as usual. A subclass that overrides `onTextMessage`
 * can still call `this.dispatch(conn, text)`.
 *
 * Error replies (the connection stays open): `invalid_json`,
 * `invalid_frame`, `unknown_type` (listing the known types),
 * `invalid_message` (with `issues: [{ path, message }]`), a handler's
 * {@linkcode MessageRefused}, `rate_limited` (see `limits`) and
 * `binary_not_supported`. An acknowledged message (with `ack`) gets an
 * `ack` frame instead: `ok: true` once its handler resolved, `ok: false`
 * with the error's code and message. Override {@linkcode refusal} to
 * choose the codes and texts of all of them.
 *
 * @example
 * ```ts
 * import { type Connection, serve } from "switchboard";
 * import { defineProtocol, ProtocolController, type ProtocolHandlers } from "switchboard/protocol";
 * import { z } from "zod";
 *
 * const chat = defineProtocol({
 *   client: { say: z.object({ text: z.string().min(1) }) },
 *   server: { said: z.object({ from: z.string(), text: z.string() }) },
 * });
 *
 * class Chat extends ProtocolController<typeof chat> {
 *   protected readonly handlers: ProtocolHandlers<typeof chat> = {
 *     say: (conn: Connection, message) => {
 *       this.broadcast("said", { from: conn.id, text: message.text });
 *     },
 *   };
 * }
 *
 * const server = await serve({ port: 8080, routes: { "/chat": new Chat(chat) } });
 * ```
 */
export abstract class ProtocolController<P extends ProtocolShape, UserData = undefined> extends WebSocketController<UserData> {
  /** The protocol this controller speaks. */
  readonly protocol: P;
  /** Whether `send` and `broadcast` validate, as `validateOutbound` resolved at construction. */
  readonly validatesOutbound: boolean;
  /** One handler per client message type; see {@linkcode ProtocolHandlers}. */
  protected abstract readonly handlers: ProtocolHandlers<P, UserData>;

  // Maps, not the protocol's objects: a client's `type` of "constructor" must find nothing.
  readonly #client: ReadonlyMap<string, StandardSchema>;
  readonly #server: ReadonlyMap<string, StandardSchema>;
  readonly #dedupe: (ProtocolDedupe<UserData> & { readonly only?: ReadonlySet<string> }) | undefined;
  readonly #limiter: Limiter<UserData>;

  /** A controller for `protocol`; see {@linkcode ProtocolControllerOptions}. TypeErrors and RangeErrors for bad options. */
  constructor(protocol: P, options: ProtocolControllerOptions<UserData, P> = {}) {
    super(controllerOptions(options));
    this.#client = schemaMap(protocol, "client");
    this.#server = schemaMap(protocol, "server");
    this.protocol = protocol;
    const mode = options.validateOutbound ?? "development";
    if (typeof mode !== "string" || !MODES.has(mode)) {
      throw new TypeError(`Cannot create controller as 'validateOutbound' must be "off", "development" or "always": current value is ${describe(mode)}`);
    }
    this.validatesOutbound = mode === "always" || (mode === "development" && !isProduction());
    const types = new Set(this.#client.keys());
    this.#dedupe = checkDedupe(options.dedupe as ProtocolDedupe<UserData> | undefined, types);
    this.#limiter = new Limiter<UserData>(options.limits, types);
  }

  /**
   * Keys the limits with `per` keep now, summed over those limits (each
   * keeps at most its `maxKeys`): how much rate-limit state is held.
   */
  get rateLimitKeys(): number {
    return this.#limiter.keys;
  }

  /** Dispatches the message; see {@linkcode dispatch}. */
  override onTextMessage(connection: Connection<UserData>, text: string): Promise<void> {
    return this.dispatch(connection, text);
  }

  /** Binary messages are not part of a typed protocol: an error reply `binary_not_supported`. Override to take them. */
  override onBinaryMessage(connection: Connection<UserData>, _data: Uint8Array): void {
    this.#refuse(connection, undefined, { code: "binary_not_supported", message: "Cannot handle a binary message on this endpoint: send JSON text" });
  }

  /**
   * Shapes every error reply the dispatcher sends (and every `ack` with
   * `ok: false`): it gets the refusal (code, default message, the type, the
   * issues, the parsed message, the limit) and returns the code and message
   * to send, with `messageType` and `issues` when they are to be sent. By
   * default the refusal as it is. Override it to map a schema's issues to
   * codes of your own, or to word the replies for your users.
   *
   * @example
   * ```ts
   * import { type Connection } from "switchboard";
   * import { defineProtocol, ProtocolController, type ProtocolHandlers, type Refusal, type RefusalReply } from "switchboard/protocol";
   * import { z } from "zod";
   *
   * const chat = defineProtocol({ client: { say: z.object({ text: z.string().min(1) }) }, server: {} });
   *
   * class Chat extends ProtocolController<typeof chat> {
   *   protected readonly handlers: ProtocolHandlers<typeof chat> = { say: () => {} };
   *   protected override refusal(_conn: Connection, refusal: Refusal): RefusalReply {
   *     if (refusal.code === "invalid_message" && refusal.messageType === "say") return { code: "empty_text", message: "Cannot send an empty message" };
   *     return refusal;
   *   }
   * }
   * ```
   */
  protected refusal(_connection: Connection<UserData>, refusal: Refusal<UserData>): RefusalReply {
    return refusal;
  }

  /** The reply `refusal` makes of it, checked. */
  #reply(connection: Connection<UserData>, refusal: Refusal<UserData>): RefusalReply {
    const reply = this.refusal(connection, refusal);
    if (typeof reply?.code !== "string" || reply.code === "" || typeof reply.message !== "string") {
      throw new TypeError(`Cannot reply to a refused message as 'refusal' must return { code, message } with a non-empty code: it returned ${describe(reply)}`);
    }
    return reply;
  }

  /** Sends the reply to a refused message: an error frame, or the `ack` of `ack`. */
  #refuse(connection: Connection<UserData>, ack: string | undefined, refusal: Refusal<UserData>): void {
    const reply = this.#reply(connection, refusal);
    connection.sendText(ack === undefined ? errorReply(reply) : ackFrame(ack, failed(reply)));
  }

  /**
   * Reads one text frame and acts on it: `ping` -> `pong`; `join`/`leave` ->
   * {@linkcode onJoinRequest}/{@linkcode onLeaveRequest}; the application's
   * messages validated and handed to their handler, or answered with an error
   * reply (an `ack` when acknowledged). Resolves when the handler has; rejects
   * with what a handler threw other than a {@linkcode MessageRefused} (so that
   * it reaches `onError`).
   */
  async dispatch(connection: Connection<UserData>, text: string): Promise<void> {
    const frame = parseClientFrame(text);
    switch (frame.kind) {
      case "ping":
        connection.sendText(PONG_FRAME);
        return;
      case "join":
        return this.onJoinRequest(connection, frame.room, frame.since);
      case "leave":
        return this.onLeaveRequest(connection, frame.room);
      case "invalid":
        return this.#refuse(connection, undefined, { code: "invalid_frame", message: frame.reason });
    }
    const { data, ack } = frame;
    // Only an `ack` frame can answer an acknowledged send: the client waits for one.
    const refuse = (refusal: Omit<Refusal<UserData>, "data">): void => this.#refuse(connection, ack, { ...refusal, data });
    if (data === undefined) return refuse({ code: "invalid_json", message: "Cannot read message as it is not valid JSON" });
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      return refuse({ code: "invalid_frame", message: "Cannot read message as it must be a JSON object with a string 'type'" });
    }
    const { type, ...fields } = data as Record<string, unknown>;
    const schema = typeof type === "string" ? this.#client.get(type) : undefined;
    if (schema === undefined) {
      const known = `known types are ${[...this.#client.keys()].join(", ") || "none"}`;
      return typeof type === "string"
        ? refuse({ code: "unknown_type", message: `Cannot handle message as its type '${type}' is unknown: ${known}`, messageType: type })
        : refuse({ code: "unknown_type", message: `Cannot handle message as it has no string 'type': ${known}` });
    }
    const messageType = type as string;
    const validation = await validate(schema, fields);
    if (!validation.ok) {
      const message = `Cannot handle message '${messageType}' as its fields are invalid: ${formatIssues(validation.issues)}`;
      return refuse({ code: "invalid_message", message, messageType, issues: validation.issues });
    }
    const handler = (this.handlers as Record<string, ((connection: Connection<UserData>, message: unknown) => void | Promise<void>) | undefined>)[messageType];
    if (typeof handler !== "function") {
      throw new TypeError(`Cannot dispatch message '${messageType}' as handlers.${messageType} is not a function: current value is ${describe(handler)}`);
    }
    // Limited, then handled: undefined once done (or dropped), else the reply to the refusal.
    const effect = async (): Promise<RefusalReply | undefined> => {
      const limit = this.#limiter.check(connection, messageType, validation.value);
      if (limit !== undefined) {
        if (limit.action === "drop") return undefined;
        const message = `Cannot handle message '${messageType}' as the limit is ${limit.messages} messages in ${limit.interval / 1000} s: wait a little`;
        return this.#reply(connection, { code: "rate_limited", message, messageType, data, limit });
      }
      try {
        await handler(connection, validation.value);
        return undefined;
      } catch (error) {
        if (!(error instanceof MessageRefused)) throw error;
        return this.#reply(connection, { code: error.code, message: error.message, messageType, data });
      }
    };
    if (ack === undefined) {
      const reply = await effect();
      if (reply !== undefined) connection.sendText(errorReply(reply));
      return;
    }
    const outcome = async (): Promise<AckOutcome> => {
      const reply = await effect();
      return reply === undefined ? OK : failed(reply);
    };
    let answer: AckOutcome;
    try {
      const dedupe = this.#dedupe;
      answer = dedupe === undefined || dedupe.only?.has(messageType) === false
        ? await outcome()
        : (await dedupe.store.run(scopeOf(dedupe, connection), ack, outcome)).outcome;
    } catch (error) {
      // Answered all the same, or the client would retry it after every reconnect; the error itself to onError.
      const message = `Cannot handle message '${messageType}' as the server failed: retry later`;
      connection.sendText(ackFrame(ack, failed(this.#reply(connection, { code: "internal_error", message, messageType, data }))));
      throw error;
    }
    connection.sendText(ackFrame(ack, answer));
  }

  /**
   * A client's `join` of the wire protocol. By default refused with a `left`
   * frame: the server decides which rooms a connection is in. Override to
   * join (`await conn.join(room, { since })`, then `joinedFrame`).
   */
  protected onJoinRequest(connection: Connection<UserData>, room: string, _since: WirePosition | undefined): void | Promise<void> {
    connection.sendText(leftFrame(room, "Cannot join rooms in-band on this endpoint"));
  }

  /** A client's `leave`: by default the connection leaves the room (if in it) and gets a `left` frame. */
  protected onLeaveRequest(connection: Connection<UserData>, room: string): void | Promise<void> {
    if (connection.rooms.has(room)) connection.leave(room);
    connection.sendText(leftFrame(room));
  }

  /**
   * Sends one of the server's messages to `connection`: `{ type, ...fields }`.
   * Returns what `conn.sendText` does (false when it was not sent: the
   * connection is closing); a Promise of it when validation is on and the
   * schema validates asynchronously. Invalid fields: a TypeError, nothing sent.
   */
  send<Type extends keyof P["server"] & string>(connection: Connection<UserData>, type: Type, fields: SentMessage<P, Type>): boolean | Promise<boolean> {
    const checked = this.#outbound("send", type, fields);
    return typeof checked === "string" ? connection.sendText(checked) : checked.then((json) => connection.sendText(json));
  }

  /**
   * Records and broadcasts one of the server's messages (see
   * `broadcastText`); `fields` may be a function of the message's position,
   * so that it carries its own `room`, `epoch` and `id` (a `message` type).
   * A builder is validated as it runs, so its schema must validate synchronously.
   */
  broadcast<Type extends keyof P["server"] & string>(
    type: Type,
    fields: SentMessage<P, Type> | ((meta: HistoryMeta) => SentMessage<P, Type>),
    options: RecordedBroadcastOptions<UserData>,
  ): Promise<HistoryEntry<string>>;
  /**
   * Broadcasts one of the server's messages to every connection, or a room's,
   * minus `except`; returns the number of recipients (a Promise of it with an
   * asynchronous schema and validation on). Invalid fields: a TypeError, nothing sent.
   */
  broadcast<Type extends keyof P["server"] & string>(type: Type, fields: SentMessage<P, Type>, options?: BroadcastOptions<UserData>): number | Promise<number>;
  broadcast<Type extends keyof P["server"] & string>(
    type: Type,
    fields: SentMessage<P, Type> | ((meta: HistoryMeta) => SentMessage<P, Type>),
    options?: BroadcastOptions<UserData> | RecordedBroadcastOptions<UserData>,
  ): number | Promise<number> | Promise<HistoryEntry<string>> {
    if (options?.record === true) {
      const recorded: RecordedBroadcastOptions<UserData> = options;
      try {
        if (typeof fields === "function") {
          const build = fields as (meta: HistoryMeta) => SentMessage<P, Type>;
          return this.broadcastText((meta: HistoryMeta): string => {
            const json = this.#outbound("broadcast", type, build(meta));
            if (typeof json !== "string") {
              throw new TypeError(`Cannot broadcast '${type}' from a builder as its schema validates asynchronously: give the fields, or set validateOutbound: "off"`);
            }
            return json;
          }, recorded);
        }
        const checked = this.#outbound("broadcast", type, fields);
        return typeof checked === "string" ? this.broadcastText(checked, recorded) : checked.then<HistoryEntry<string>>((json) => this.broadcastText(json, recorded));
      } catch (error) {
        return Promise.reject<HistoryEntry<string>>(error);
      }
    }
    const plain = options as BroadcastOptions<UserData> | undefined;
    const checked = this.#outbound("broadcast", type, fields);
    return typeof checked === "string" ? this.broadcastText(checked, plain) : checked.then<number>((json) => this.broadcastText(json, plain));
  }

  /** The frame's JSON, once checked (and validated when on); a Promise when the schema answers with one. */
  #outbound(method: string, type: string, fields: unknown): string | Promise<string> {
    const schema = typeof type === "string" ? this.#server.get(type) : undefined;
    if (schema === undefined) {
      throw new TypeError(`Cannot ${method} as ${describe(type)} is not a server message type of the protocol: known types are ${[...this.#server.keys()].join(", ") || "none"}`);
    }
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      throw new TypeError(`Cannot ${method} '${type}' as 'fields' must be an object: current value is ${describe(fields)}`);
    }
    if (Object.hasOwn(fields, "type")) {
      throw new TypeError(`Cannot ${method} '${type}' as 'fields' has a 'type': it is given apart`);
    }
    // As given, validated or not, so that production sends what development checked (no transform applied).
    const json = JSON.stringify({ type, ...fields });
    if (!this.validatesOutbound) return json;
    const check = (validation: Validation): string => {
      if (!validation.ok) {
        throw new TypeError(`Cannot ${method} '${type}' as its fields are invalid (a bug in the server, not the client's): ${formatIssues(validation.issues)}`);
      }
      return json;
    };
    const validation = validate(schema, fields);
    return validation instanceof Promise ? validation.then(check) : check(validation);
  }
}

/** The controller's own options, without the protocol's, which the core would refuse as unknown. */
function controllerOptions(options: object | undefined): ControllerOptions {
  checkOptionsObject("create controller", options);
  if (options === undefined) return {};
  const rest: Record<string, unknown> = {};
  for (const key of Object.keys(options)) if (!OWN_KEYS.has(key)) rest[key] = (options as Record<string, unknown>)[key];
  return rest as ControllerOptions;
}

/** The error frame of a refusal's reply. */
function errorReply(reply: RefusalReply): string {
  return errorFrame(reply.code, reply.message, { messageType: reply.messageType, issues: reply.issues });
}

/** An `ack` with `ok: false`: the reply's code and message only (its issues are in the message). */
function failed(reply: RefusalReply): AckOutcome {
  return { ok: false, error: { code: reply.code, message: reply.message } };
}

function checkDedupe<UserData>(
  dedupe: ProtocolDedupe<UserData> | undefined,
  types: ReadonlySet<string>,
): (ProtocolDedupe<UserData> & { readonly only?: ReadonlySet<string> }) | undefined {
  if (dedupe === undefined) return undefined;
  checkOptionsObject("create controller with 'dedupe'", dedupe);
  checkKnownKeys("create controller with 'dedupe'", dedupe, new Set(["store", "scope", "types"]));
  if (typeof dedupe.store?.run !== "function") {
    throw new TypeError(`Cannot create controller as 'dedupe.store' must be a Dedupe (MemoryDedupe, RedisDedupe): current value is ${describe(dedupe.store)}`);
  }
  if (dedupe.scope !== undefined && typeof dedupe.scope !== "function") {
    throw new TypeError(`Cannot create controller as 'dedupe.scope' must be a function of the connection: current value is ${describe(dedupe.scope)}`);
  }
  let only: ReadonlySet<string> | undefined;
  if (dedupe.types !== undefined) {
    if (!Array.isArray(dedupe.types) || dedupe.types.some((type) => !types.has(type))) {
      throw new TypeError(`Cannot create controller as 'dedupe.types' must be an array of client message types (${[...types].join(", ")}): current value is ${JSON.stringify(dedupe.types)}`);
    }
    only = new Set(dedupe.types);
  }
  return { store: dedupe.store, ...(dedupe.scope === undefined ? {} : { scope: dedupe.scope }), ...(only === undefined ? {} : { only }) };
}

function scopeOf<UserData>(dedupe: ProtocolDedupe<UserData>, connection: Connection<UserData>): string {
  if (dedupe.scope === undefined) return connection.id;
  const scope = dedupe.scope(connection);
  if (typeof scope !== "string") throw new TypeError(`Cannot deduplicate as 'dedupe.scope' must return a string: it returned ${describe(scope)}`);
  return scope;
}

function schemaMap(protocol: ProtocolShape, side: "client" | "server"): ReadonlyMap<string, StandardSchema> {
  const schemas = (protocol as Partial<ProtocolShape> | undefined)?.[side];
  if (typeof schemas !== "object" || schemas === null) {
    throw new TypeError(`Cannot create controller as 'protocol.${side}' must be an object of schemas: use defineProtocol({ client, server })`);
  }
  const map = new Map<string, StandardSchema>();
  for (const type of Object.keys(schemas)) {
    const schema = schemas[type];
    if (!isStandardSchema(schema)) {
      throw new TypeError(`Cannot create controller as 'protocol.${side}.${type}' must be a Standard Schema: current value is ${describe(schema)}`);
    }
    map.set(type, schema);
  }
  return map;
}

/** "development" means on unless NODE_ENV says production; Deno without env permission throws on reading it: then on. */
function isProduction(): boolean {
  try {
    return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NODE_ENV === "production";
  } catch {
    return false;
  }
}
