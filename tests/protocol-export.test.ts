/**
 * A protocol exported for other tools: each message as JSON Schema (zod's
 * Standard JSON Schema; valibot's through `@valibot/to-json-schema`, or a
 * `fallback`, or a clear Error), and the whole protocol as an AsyncAPI 3.0.0
 * document whose required structure is checked by hand (no network for the
 * official schema).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { toStandardJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { z } from "zod";
import { type AsyncApiDocument, defineProtocol, type JsonSchema } from "../src/protocol/mod.ts";

const chat = defineProtocol({
  client: {
    say: z.object({ text: z.string().min(1), items: z.array(z.object({ name: z.string() })).optional() }),
    vote: toStandardJsonSchema(v.object({ poll: v.string(), choice: v.number() })),
    typing: z.object({}),
  },
  server: {
    said: z.object({ from: z.string(), text: z.string().default("") }),
    message: z.object({ room: z.string(), epoch: z.string(), id: z.number(), text: z.string() }),
    count: z.union([z.object({ n: z.number() }), z.object({ total: z.number() })]),
  },
});

type Schema = JsonSchema & { properties?: Record<string, JsonSchema>; required?: string[] };

describe("protocol: JSON Schema", () => {
  test("each message is its validator's Standard JSON Schema (draft 2020-12) with type: { const } added and required", () => {
    const { client, server } = chat.toJsonSchema() as { client: Record<string, Schema>; server: Record<string, Schema> };
    assert.deepEqual(Object.keys(client), ["say", "vote", "typing"]);
    assert.deepEqual(Object.keys(server), ["said", "message", "count"]);
    const say = client.say!;
    assert.equal(say.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.equal(say.type, "object");
    assert.deepEqual(say.properties!.type, { const: "say" });
    assert.deepEqual(Object.keys(say.properties!), ["type", "text", "items"]);
    assert.deepEqual(say.properties!.text, { type: "string", minLength: 1 });
    assert.deepEqual(say.required, ["type", "text"]);
    // valibot, wrapped by @valibot/to-json-schema.
    const vote = client.vote!;
    assert.deepEqual(vote.properties, { type: { const: "vote" }, poll: { type: "string" }, choice: { type: "number" } });
    assert.deepEqual(vote.required, ["type", "poll", "choice"]);
    assert.deepEqual([client.typing!.properties, client.typing!.required], [{ type: { const: "typing" } }, ["type"]]);
  });

  test("both ways a message is described by its input, which is what goes on the wire (the server sends fields as given)", () => {
    const withDefault = z.object({ from: z.string(), text: z.string().default("") });
    const exported = defineProtocol({ client: { said: withDefault }, server: { said: withDefault } }).toJsonSchema() as {
      client: Record<string, Schema>;
      server: Record<string, Schema>;
    };
    // As output a default would make `text` required, yet `send(conn, "said", { from })` sends no text.
    assert.deepEqual(exported.client.said!.required, ["type", "from"]);
    assert.deepEqual(exported.server.said!.required, ["type", "from"]);
  });

  test("a converter that refuses a schema (a zod Date) is an Error naming the message; a transform is its input", () => {
    const dated = defineProtocol({ client: {}, server: { at: z.object({ when: z.date() }) } });
    assert.throws(() => dated.toJsonSchema(), { message: /^Cannot export the server message 'at' as JSON Schema as its zod converter refused: Date cannot/ });
    const transformed = defineProtocol({ client: {}, server: { size: z.object({ n: z.string().transform((s) => s.length) }) } });
    assert.deepEqual((transformed.toJsonSchema().server.size as Schema).properties!.n, { type: "string" }, "what is sent: the string given");
  });

  test("a schema that is not an object (a union) is combined with the type through allOf", () => {
    const count = chat.toJsonSchema().server.count as Schema;
    assert.equal(count.$schema, "https://json-schema.org/draft/2020-12/schema");
    const allOf = count.allOf as Schema[];
    assert.deepEqual(allOf[0], { type: "object", properties: { type: { const: "count" } }, required: ["type"] });
    assert.ok(Array.isArray(allOf[1]!.anyOf) || Array.isArray(allOf[1]!.oneOf), "the union itself");
  });

  test("a schema without Standard JSON Schema (plain valibot 1.5) is a clear Error naming the type and vendor, unless a fallback is given", () => {
    const plain = defineProtocol({ client: { vote: v.object({ poll: v.string() }) }, server: {} });
    assert.equal(typeof (v.object({})["~standard"] as { jsonSchema?: unknown }).jsonSchema, "undefined", "valibot 1.5 has none of its own");
    assert.throws(() => plain.toJsonSchema(), {
      name: "Error",
      message: "Cannot export the client message 'vote' as JSON Schema as its valibot schema has no Standard JSON Schema (~standard.jsonSchema): " +
        "wrap it (valibot: toStandardJsonSchema from @valibot/to-json-schema) or pass a 'fallback'",
    });
    const calls: unknown[] = [];
    const exported = plain.toJsonSchema({
      fallback: (type, schema, direction) => {
        calls.push([type, schema["~standard"].vendor, direction]);
        return { type: "object", properties: { poll: { type: "string" } }, required: ["poll"] };
      },
    });
    assert.deepEqual(calls, [["vote", "valibot", "client"]]);
    assert.deepEqual(exported.client.vote, { type: "object", properties: { type: { const: "vote" }, poll: { type: "string" } }, required: ["type", "poll"] });
    assert.throws(() => plain.toJsonSchema({ fallback: "no" as never }), /'fallback' must be a function/);
    assert.throws(() => plain.toJsonSchema({ fallback: () => null as never }), /its converter gave no object/);
  });
});

describe("protocol: AsyncAPI 3.0", () => {
  const doc: AsyncApiDocument = chat.toAsyncApi({ title: "Chat", version: "1.2.0", channel: "/chat", description: "The chat's messages" });

  /** Follows a local `$ref` ("#/a/b") in the document. */
  function resolve(ref: unknown): Record<string, unknown> {
    assert.equal(typeof ref, "string");
    assert.match(ref as string, /^#\//);
    let node: unknown = doc;
    for (const part of (ref as string).slice(2).split("/")) {
      node = (node as Record<string, unknown>)[part];
      assert.ok(node !== undefined, `${ref as string}: ${part} is missing`);
    }
    return node as Record<string, unknown>;
  }

  test("the required fields: asyncapi 3.0.0, info.title/version, one channel at the address, components.messages", () => {
    assert.equal(doc.asyncapi, "3.0.0");
    assert.deepEqual(doc.info, { title: "Chat", version: "1.2.0", description: "The chat's messages" });
    assert.equal(doc.defaultContentType, "application/json");
    assert.deepEqual(Object.keys(doc.channels), ["chat"]);
    const channel = doc.channels.chat as { address: string; messages: Record<string, { $ref: string }> };
    assert.equal(channel.address, "/chat");
    const ids = ["client.say", "client.vote", "client.typing", "server.said", "server.message", "server.count"];
    assert.deepEqual(Object.keys(channel.messages), ids);
    assert.deepEqual(Object.keys(doc.components.messages), ids);
    for (const id of ids) {
      assert.match(id, /^[\w\d.\-_]+$/, "AsyncAPI's pattern for component keys");
      assert.equal(resolve(channel.messages[id]!.$ref), doc.components.messages[id]);
    }
    const say = doc.components.messages["client.say"] as { name: string; contentType: string; payload: JsonSchema };
    assert.deepEqual([say.name, say.contentType], ["say", "application/json"]);
    assert.deepEqual(say.payload, chat.toJsonSchema().client.say, "the payload is the message's JSON Schema");
  });

  test("operations: send (what clients send; the server receives) and receive (what the server sends), each referring to the channel's messages", () => {
    assert.deepEqual(Object.keys(doc.operations), ["send", "receive"]);
    const expected = { send: ["receive", ["say", "vote", "typing"]], receive: ["send", ["said", "message", "count"]] } as const;
    for (const [id, [action, names]] of Object.entries(expected)) {
      const operation = doc.operations[id] as { action: string; channel: { $ref: string }; messages: { $ref: string }[] };
      assert.equal(operation.action, action, id);
      assert.equal(operation.channel.$ref, "#/channels/chat");
      assert.equal(resolve(operation.channel.$ref), doc.channels.chat);
      // AsyncAPI 3: an operation's messages are references to messages of its channel.
      for (const ref of operation.messages) assert.match(ref.$ref, /^#\/channels\/chat\/messages\//);
      assert.deepEqual(operation.messages.map((ref) => (resolve(resolve(ref.$ref).$ref) as { name: string }).name), names);
    }
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(doc)));
  });

  test("a side without messages has no operation; the channel id is made from the address; bad options are refused", () => {
    const oneWay = defineProtocol({ client: {}, server: { tick: z.object({ at: z.number() }) } }).toAsyncApi({ title: "T", version: "1", channel: "/live/ticks" });
    assert.deepEqual(Object.keys(oneWay.operations), ["receive"]);
    assert.deepEqual(Object.keys(oneWay.channels), ["live-ticks"]);
    assert.equal(oneWay.info.description, undefined);
    assert.equal(Object.hasOwn(oneWay.info, "description"), false);
    for (const bad of [{ version: "1", channel: "/c" }, { title: "T", channel: "/c" }, { title: "T", version: "1" }, { title: "T", version: "1", channel: "" }]) {
      assert.throws(() => chat.toAsyncApi(bad as never), /Cannot export AsyncAPI as '(title|version|channel)' must be a non-empty string/);
    }
    assert.throws(() => defineProtocol({ client: { v: v.object({}) }, server: {} }).toAsyncApi({ title: "T", version: "1", channel: "/c" }), /no Standard JSON Schema/);
  });

  test("a route's :params become the channel's {params}, declared in parameters", () => {
    const rooms = chat.toAsyncApi({ title: "T", version: "1", channel: "/chat/:room/:thread_id" });
    const [id] = Object.keys(rooms.channels);
    const channel = (rooms.channels as Record<string, Record<string, unknown>>)[id!]!;
    assert.equal(channel.address, "/chat/{room}/{thread_id}");
    assert.deepEqual(Object.keys(channel.parameters as object), ["room", "thread_id"]);
    const plain = (chat.toAsyncApi({ title: "T", version: "1", channel: "/chat" }).channels as Record<string, Record<string, unknown>>).chat!;
    assert.equal(Object.hasOwn(plain, "parameters"), false, "no parameters without :params");
  });
});
