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
import { ackFrame, type AckOutcome, leftFrame, parseClientFrame, PONG_FRAME } from "../core/wire/server-frames.ts";
import { errorReply, MessageRefused } from "./errors.ts";
import type { ProtocolShape, ReceivedMessage, SentMessage, StandardSchema } from "./types.ts";
import { formatIssues, isStandardSchema, validate, type Validation } from "./validate.ts";

/**
 * When `send` and `broadcast` validate what they send: never ("off"), unless
 * `NODE_ENV` is "production" ("development", the default), or "always".
 * An invalid outbound message is a bug in the server: a TypeError, nothing sent.
 */
export type ValidateOutbound = "off" | "development" | "always";

/** Runs acknowledged messages' handlers at most once per idempotency key. */
export interface ProtocolDedupe<UserData> {
  /** Where keys are remembered: a `MemoryDedupe`, or a `RedisDedupe` for several processes. */
  readonly store: Dedupe;
  /** Whose keys they are (keys are the client's): default the connection's id. Return a user's id to span reconnects. */
  readonly scope?: (connection: Connection<UserData>) => string;
}

/** Options of a {@linkcode ProtocolController}: the controller's, plus outbound validation and dedupe. */
export interface ProtocolControllerOptions<UserData = undefined> extends ControllerOptions {
  /** When outbound messages are validated; default "development". */
  readonly validateOutbound?: ValidateOutbound;
  /** Runs acknowledged messages' handlers through a {@linkcode Dedupe}; default none (each repeat runs again). */
  readonly dedupe?: ProtocolDedupe<UserData>;
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

const OWN_KEYS: ReadonlySet<string> = new Set(["validateOutbound", "dedupe"]);
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
 * {@linkcode MessageRefused}, and `binary_not_supported`. An acknowledged
 * message (with `ack`) gets an `ack` frame instead: `ok: true` once its
 * handler resolved, `ok: false` with the error's code and message.
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
  readonly #dedupe: ProtocolDedupe<UserData> | undefined;

  /** A controller for `protocol`; see {@linkcode ProtocolControllerOptions}. TypeErrors and RangeErrors for bad options. */
  constructor(protocol: P, options: ProtocolControllerOptions<UserData> = {}) {
    super(controllerOptions(options));
    this.#client = schemaMap(protocol, "client");
    this.#server = schemaMap(protocol, "server");
    this.protocol = protocol;
    const mode = options.validateOutbound ?? "development";
    if (typeof mode !== "string" || !MODES.has(mode)) {
      throw new TypeError(`Cannot create controller as 'validateOutbound' must be "off", "development" or "always": current value is ${describe(mode)}`);
    }
    this.validatesOutbound = mode === "always" || (mode === "development" && !isProduction());
    this.#dedupe = checkDedupe(options.dedupe);
  }

  /** Dispatches the message; see {@linkcode dispatch}. */
  override onTextMessage(connection: Connection<UserData>, text: string): Promise<void> {
    return this.dispatch(connection, text);
  }

  /** Binary messages are not part of a typed protocol: an error reply `binary_not_supported`. Override to take them. */
  override onBinaryMessage(connection: Connection<UserData>, _data: Uint8Array): void {
    connection.sendText(errorReply("binary_not_supported", "Cannot handle a binary message on this endpoint: send JSON text"));
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
        connection.sendText(errorReply("invalid_frame", frame.reason));
        return;
    }
    const { data, ack } = frame;
    // Only an `ack` frame can answer an acknowledged send: the client waits for one.
    const refuse = (code: string, message: string, extra: Parameters<typeof errorReply>[2] = {}): void => {
      connection.sendText(ack === undefined ? errorReply(code, message, extra) : ackFrame(ack, { ok: false, error: { code, message } }));
    };
    if (data === undefined) return refuse("invalid_json", "Cannot read message as it is not valid JSON");
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      return refuse("invalid_frame", "Cannot read message as it must be a JSON object with a string 'type'");
    }
    const { type, ...fields } = data as Record<string, unknown>;
    const schema = typeof type === "string" ? this.#client.get(type) : undefined;
    if (schema === undefined) {
      const known = `known types are ${[...this.#client.keys()].join(", ") || "none"}`;
      return typeof type === "string"
        ? refuse("unknown_type", `Cannot handle message as its type '${type}' is unknown: ${known}`, { messageType: type })
        : refuse("unknown_type", `Cannot handle message as it has no string 'type': ${known}`);
    }
    const messageType = type as string;
    const validation = await validate(schema, fields);
    if (!validation.ok) {
      return refuse("invalid_message", `Cannot handle message '${messageType}' as its fields are invalid: ${formatIssues(validation.issues)}`, {
        messageType,
        issues: validation.issues,
      });
    }
    const handler = (this.handlers as Record<string, ((connection: Connection<UserData>, message: unknown) => void | Promise<void>) | undefined>)[messageType];
    if (typeof handler !== "function") {
      throw new TypeError(`Cannot dispatch message '${messageType}' as handlers.${messageType} is not a function: current value is ${describe(handler)}`);
    }
    if (ack === undefined) {
      try {
        await handler(connection, validation.value);
      } catch (error) {
        if (!(error instanceof MessageRefused)) throw error;
        connection.sendText(errorReply(error.code, error.message, { messageType }));
      }
      return;
    }
    const effect = async (): Promise<AckOutcome> => {
      try {
        await handler(connection, validation.value);
        return { ok: true };
      } catch (error) {
        if (error instanceof MessageRefused) return { ok: false, error: { code: error.code, message: error.message } };
        throw error;
      }
    };
    let outcome: AckOutcome;
    try {
      const dedupe = this.#dedupe;
      outcome = dedupe === undefined ? await effect() : (await dedupe.store.run(scopeOf(dedupe, connection), ack, effect)).outcome;
    } catch (error) {
      // Answered all the same, or the client would retry it after every reconnect; the error itself to onError.
      connection.sendText(ackFrame(ack, { ok: false, error: { code: "internal_error", message: `Cannot handle message '${messageType}' as the server failed: retry later` } }));
      throw error;
    }
    connection.sendText(ackFrame(ack, outcome));
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
function controllerOptions<UserData>(options: ProtocolControllerOptions<UserData>): ControllerOptions {
  checkOptionsObject("create controller", options);
  if (options === undefined) return {};
  const rest: Record<string, unknown> = {};
  for (const key of Object.keys(options)) if (!OWN_KEYS.has(key)) rest[key] = (options as Record<string, unknown>)[key];
  return rest as ControllerOptions;
}

function checkDedupe<UserData>(dedupe: ProtocolDedupe<UserData> | undefined): ProtocolDedupe<UserData> | undefined {
  if (dedupe === undefined) return undefined;
  checkOptionsObject("create controller with 'dedupe'", dedupe);
  checkKnownKeys("create controller with 'dedupe'", dedupe, new Set(["store", "scope"]));
  if (typeof dedupe.store?.run !== "function") {
    throw new TypeError(`Cannot create controller as 'dedupe.store' must be a Dedupe (MemoryDedupe, RedisDedupe): current value is ${describe(dedupe.store)}`);
  }
  if (dedupe.scope !== undefined && typeof dedupe.scope !== "function") {
    throw new TypeError(`Cannot create controller as 'dedupe.scope' must be a function of the connection: current value is ${describe(dedupe.scope)}`);
  }
  return { store: dedupe.store, ...(dedupe.scope === undefined ? {} : { scope: dedupe.scope }) };
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
