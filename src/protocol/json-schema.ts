/**
 * A protocol described for other tools: each message as JSON Schema (the
 * validator's own Standard JSON Schema, where it provides one), and the whole
 * protocol as an AsyncAPI 3.0 document.
 *
 * @module
 */
import type { MessageSchemas, ProtocolShape, StandardSchema } from "./types.ts";

/** A JSON Schema, as a plain object. */
export type JsonSchema = Record<string, unknown>;

/** The dialect asked of every validator: the one AsyncAPI tools and most validators read. */
export const JSON_SCHEMA_TARGET = "draft-2020-12";

/** Options of `protocol.toJsonSchema()`. */
export interface JsonSchemaOptions {
  /**
   * The JSON Schema of a message whose schema has no Standard JSON Schema
   * (`~standard.jsonSchema`), such as valibot's without
   * `@valibot/to-json-schema`. Without it, such a schema is an Error.
   * `direction` is "client" for what clients send, "server" for what the server sends.
   */
  readonly fallback?: (type: string, schema: StandardSchema, direction: "client" | "server") => JsonSchema;
}

/** Every message of a protocol as JSON Schema, by direction and `type`; each includes `type: { const }`. */
export interface ProtocolJsonSchema {
  /** What clients send: each message's input JSON Schema. */
  readonly client: Readonly<Record<string, JsonSchema>>;
  /** What the server sends: each message's input JSON Schema (what the server's `send` takes and puts on the wire). */
  readonly server: Readonly<Record<string, JsonSchema>>;
}

/** Options of `protocol.toAsyncApi()`. */
export interface AsyncApiOptions extends JsonSchemaOptions {
  /** The API's title (`info.title`). */
  readonly title: string;
  /** The API's version (`info.version`), not AsyncAPI's. */
  readonly version: string;
  /** The endpoint's path, such as "/chat" or "/chat/:room" (the channel's `address`, with `:room` as `{room}`). */
  readonly channel: string;
  /** For people (`info.description`). */
  readonly description?: string;
}

/** An AsyncAPI 3.0.0 document, as a plain object ready for `JSON.stringify`. */
export interface AsyncApiDocument {
  /** Always "3.0.0". */
  readonly asyncapi: "3.0.0";
  /** Title, version, description. */
  readonly info: { readonly title: string; readonly version: string; readonly description?: string };
  /** Always "application/json": every message is a JSON text frame. */
  readonly defaultContentType: string;
  /** The one channel: the endpoint. */
  readonly channels: Readonly<Record<string, unknown>>;
  /** `send` (what clients send, which the server receives) and `receive` (what the server sends). */
  readonly operations: Readonly<Record<string, unknown>>;
  /** `messages`: every message, by id (`client.<type>`, `server.<type>`). */
  readonly components: { readonly messages: Readonly<Record<string, unknown>> };
}

/**
 * Every message of `protocol` as JSON Schema (draft 2020-12): each schema's
 * input side, which is what goes on the wire both ways (a client sends what
 * it writes, and the server the fields it was given), with
 * `type: { const: name }` added. Throws an Error naming the type and the validator when a schema
 * cannot describe itself and there is no `fallback`.
 */
export function toJsonSchema(protocol: ProtocolShape, options: JsonSchemaOptions = {}): ProtocolJsonSchema {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Cannot export JSON Schema as the options must be an object");
  }
  if (options.fallback !== undefined && typeof options.fallback !== "function") {
    throw new TypeError("Cannot export JSON Schema as 'fallback' must be a function (type, schema, direction) => JSON Schema");
  }
  return {
    client: side(protocol.client, "client", options.fallback),
    server: side(protocol.server, "server", options.fallback),
  };
}

/**
 * `protocol` as an AsyncAPI 3.0.0 document: one channel at `options.channel`
 * with every message, whose payloads are {@linkcode toJsonSchema}'s, and two
 * operations from the server's point of view: `send` (what clients send:
 * action "receive") and `receive` (what the server sends: action "send").
 * An operation without messages is left out.
 */
export function toAsyncApi(protocol: ProtocolShape, options: AsyncApiOptions): AsyncApiDocument {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Cannot export AsyncAPI as the options must be an object with title, version and channel");
  }
  for (const key of ["title", "version", "channel"] as const) {
    if (typeof options[key] !== "string" || options[key] === "") {
      throw new TypeError(`Cannot export AsyncAPI as '${key}' must be a non-empty string`);
    }
  }
  if (options.description !== undefined && typeof options.description !== "string") {
    throw new TypeError("Cannot export AsyncAPI as 'description' must be a string");
  }
  const schemas = toJsonSchema(protocol, options.fallback === undefined ? {} : { fallback: options.fallback });
  // Ids must match ^[A-Za-z0-9_.-]+$ (AsyncAPI's pattern for component keys).
  const channelId = options.channel.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "") || "root";
  const channelMessages: Record<string, unknown> = {};
  const components: Record<string, unknown> = {};
  const refs: Record<"client" | "server", { $ref: string }[]> = { client: [], server: [] };
  for (const direction of ["client", "server"] as const) {
    for (const [type, payload] of Object.entries(schemas[direction])) {
      const id = `${direction}.${type.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
      components[id] = {
        name: type,
        title: type,
        summary: direction === "client" ? `Sent by clients: ${type}` : `Sent by the server: ${type}`,
        contentType: "application/json",
        payload,
      };
      channelMessages[id] = { $ref: `#/components/messages/${id}` };
      refs[direction].push({ $ref: `#/channels/${channelId}/messages/${id}` });
    }
  }
  const channel = { $ref: `#/channels/${channelId}` };
  const operations: Record<string, unknown> = {};
  if (refs.client.length > 0) {
    operations.send = { action: "receive", channel, summary: "Messages clients send", messages: refs.client };
  }
  if (refs.server.length > 0) {
    operations.receive = { action: "send", channel, summary: "Messages the server sends", messages: refs.server };
  }
  const info = options.description === undefined
    ? { title: options.title, version: options.version }
    : { title: options.title, version: options.version, description: options.description };
  return {
    asyncapi: "3.0.0",
    info,
    defaultContentType: "application/json",
    channels: { [channelId]: channelOf(options.channel, channelMessages) },
    operations,
    components: { messages: components },
  };
}

function side(
  schemas: MessageSchemas,
  direction: "client" | "server",
  fallback: JsonSchemaOptions["fallback"],
): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const type of Object.keys(schemas)) {
    const schema = schemas[type]!;
    const standard = schema["~standard"];
    let json: unknown;
    if (standard.jsonSchema !== undefined) {
      // The input schema both ways: it is what goes on the wire (a server sends the fields it was
      // given, validated but not transformed, so an output schema would promise defaults it never sends).
      try {
        json = standard.jsonSchema.input({ target: JSON_SCHEMA_TARGET });
      } catch (error) {
        throw new Error(`Cannot export the ${direction} message '${type}' as JSON Schema as its ${standard.vendor} converter refused: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    } else if (fallback !== undefined) {
      json = fallback(type, schema, direction);
    } else {
      throw new Error(
        `Cannot export the ${direction} message '${type}' as JSON Schema as its ${standard.vendor} schema has no Standard JSON Schema ` +
          `(~standard.jsonSchema): wrap it (valibot: toStandardJsonSchema from @valibot/to-json-schema) or pass a 'fallback'`,
      );
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new TypeError(`Cannot export the ${direction} message '${type}' as JSON Schema as its converter gave no object`);
    }
    Object.defineProperty(out, type, { value: withType(type, json as JsonSchema), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * The channel at `path`: a route's `:name` segments (switchboard's route
 * syntax, as in "/chat/:room") become AsyncAPI's `{name}` expressions, each
 * declared in `parameters`.
 */
function channelOf(path: string, messages: Record<string, unknown>): Record<string, unknown> {
  const names: string[] = [];
  const address = path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_match, name: string) => (names.push(name), `{${name}}`));
  if (names.length === 0) return { address, messages };
  const parameters = Object.fromEntries(names.map((name) => [name, { description: `The route's :${name}` }]));
  return { address, messages, parameters };
}

/** `schema` with the message's `type` required as a constant; an object schema is extended, anything else combined with allOf. */
function withType(type: string, schema: JsonSchema): JsonSchema {
  const typeProperty = { type: { const: type } };
  if (schema.type === "object") {
    const properties = typeof schema.properties === "object" && schema.properties !== null ? schema.properties as JsonSchema : {};
    const required = Array.isArray(schema.required) ? (schema.required as unknown[]).filter((key) => key !== "type") : [];
    return { ...schema, properties: { ...typeProperty, ...omit(properties, "type") }, required: ["type", ...required] };
  }
  // A union or a reference: the frame must match both the fields' schema and the type.
  const { $schema, ...rest } = schema;
  return {
    ...($schema === undefined ? {} : { $schema }),
    allOf: [{ type: "object", properties: typeProperty, required: ["type"] }, rest],
  };
}

function omit(object: JsonSchema, key: string): JsonSchema {
  const { [key]: _, ...rest } = object;
  return rest;
}
