/**
 * `defineProtocol`: a protocol's messages, both ways, declared once as
 * Standard Schemas, for the server's {@linkcode ProtocolController}, the
 * client's types and the exports.
 *
 * @module
 */
import { describe } from "../core/_check.ts";
import {
  type AsyncApiDocument,
  type AsyncApiOptions,
  type JsonSchemaOptions,
  type ProtocolJsonSchema,
  toAsyncApi,
  toJsonSchema,
} from "./json-schema.ts";
import type { MessageSchemas, ProtocolShape } from "./types.ts";
import { isStandardSchema, RESERVED_CLIENT_TYPES, RESERVED_SERVER_TYPES } from "./validate.ts";

/**
 * A protocol: the schemas of what clients send (`client`) and of what the
 * server sends (`server`), each by message `type`. Give it to a
 * {@linkcode ProtocolController}, and its type to `connect<typeof protocol>()`.
 */
export interface Protocol<C extends MessageSchemas = MessageSchemas, S extends MessageSchemas = MessageSchemas> extends ProtocolShape {
  /** What clients send: the schema of each message's fields (all but `type`), by `type`. */
  readonly client: C;
  /** What the server sends: the schema of each message's fields, by `type`. */
  readonly server: S;
  /** Every message as JSON Schema; see {@linkcode toJsonSchema}. */
  toJsonSchema(options?: JsonSchemaOptions): ProtocolJsonSchema;
  /** The protocol as an AsyncAPI 3.0.0 document; see {@linkcode toAsyncApi}. */
  toAsyncApi(options: AsyncApiOptions): AsyncApiDocument;
}

/** What {@linkcode defineProtocol} takes. */
export interface ProtocolDefinition<C extends MessageSchemas, S extends MessageSchemas> {
  /** What clients send, by `type`: any Standard Schema of the fields (all but `type` and `ack`). */
  readonly client: C;
  /** What the server sends, by `type`. */
  readonly server: S;
}

/**
 * Declares a protocol. Every value must be a Standard Schema (zod 4,
 * valibot 1, arktype...): a TypeError names the key of one that is not, and
 * of a type the wire protocol keeps for itself (`ping`, `join`, `leave` from
 * clients; `welcome`, `joined`, `left`, `ack`, `pong`, `reconnect`, `error`
 * from the server). The maps are copied and frozen.
 *
 * @example
 * ```ts
 * import { defineProtocol } from "switchboard/protocol";
 * import { z } from "zod";
 *
 * export const chat = defineProtocol({
 *   client: { say: z.object({ text: z.string().min(1) }) },
 *   server: { said: z.object({ from: z.string(), text: z.string() }) },
 * });
 * export type ChatProtocol = typeof chat;
 * ```
 */
export function defineProtocol<const C extends MessageSchemas, const S extends MessageSchemas>(
  definition: ProtocolDefinition<C, S>,
): Protocol<C, S> {
  if (typeof definition !== "object" || definition === null || Array.isArray(definition)) {
    throw new TypeError(`Cannot define protocol as the definition must be an object { client, server }: current value is ${describe(definition)}`);
  }
  const client = checkSide(definition.client, "client", RESERVED_CLIENT_TYPES);
  const server = checkSide(definition.server, "server", RESERVED_SERVER_TYPES);
  const protocol: Protocol<C, S> = {
    client: client as C,
    server: server as S,
    toJsonSchema(options?: JsonSchemaOptions): ProtocolJsonSchema {
      return toJsonSchema(protocol, options);
    },
    toAsyncApi(options: AsyncApiOptions): AsyncApiDocument {
      return toAsyncApi(protocol, options);
    },
  };
  return Object.freeze(protocol);
}

function checkSide(schemas: unknown, side: "client" | "server", reserved: readonly string[]): MessageSchemas {
  if (typeof schemas !== "object" || schemas === null || Array.isArray(schemas)) {
    throw new TypeError(`Cannot define protocol as '${side}' must be an object of schemas by message type: current value is ${describe(schemas)}`);
  }
  // No prototype: a client's `type` of "constructor" or "__proto__" must find nothing.
  const copy: Record<string, unknown> = Object.create(null);
  for (const type of Object.keys(schemas)) {
    const schema = (schemas as Record<string, unknown>)[type];
    if (type === "") {
      throw new TypeError(`Cannot define protocol as '${side}' has a message type "": a type is a non-empty string`);
    }
    if (reserved.includes(type)) {
      throw new TypeError(`Cannot define protocol as '${side}.${type}' is a type of the wire protocol: rename it (reserved on the ${side} side: ${reserved.join(", ")})`);
    }
    if (!isStandardSchema(schema)) {
      throw new TypeError(`Cannot define protocol as '${side}.${type}' must be a Standard Schema (zod, valibot, arktype...): current value is ${describe(schema)}`);
    }
    copy[type] = schema;
  }
  return Object.freeze(copy) as MessageSchemas;
}
