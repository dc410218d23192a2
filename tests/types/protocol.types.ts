/**
 * Type tests of `switchboard/protocol` and of `switchboard/client` given a
 * protocol's type: each `@ts-expect-error` line must fail to type-check, and
 * everything else must pass. Checked by `tsc` (tests/protocol-types.test.ts
 * runs it on tests/types/tsconfig.json; the main typecheck includes it too),
 * never run.
 */
import * as v from "valibot";
import { z } from "zod";
import type { Connection } from "../../mod.ts";
import { connect, type SwitchboardClient } from "../../src/client/mod.ts";
import {
  type ClientMessage,
  defineProtocol,
  ProtocolController,
  type ProtocolHandlers,
  type ServerMessage,
} from "../../src/protocol/mod.ts";

const chat = defineProtocol({
  client: {
    say: z.object({ text: z.string(), tags: z.array(z.string()).optional() }),
    vote: v.object({ poll: v.string(), choice: v.number() }),
    typing: z.object({}),
  },
  server: {
    said: z.object({ from: z.string(), text: z.string() }),
    message: z.object({ room: z.string(), epoch: z.string(), id: z.number(), text: z.string() }),
    count: v.object({ n: v.number() }),
  },
});
type Chat = typeof chat;

// --- Server: handlers ----------------------------------------------------------------------------

class Good extends ProtocolController<Chat, { name: string }> {
  protected readonly handlers: ProtocolHandlers<Chat, { name: string }> = {
    say: (conn, message) => {
      const text: string = message.text;
      const tags: string[] | undefined = message.tags;
      const name: string = conn.userData.name;
      this.send(conn, "said", { from: name, text: text + (tags?.join(",") ?? "") });
    },
    vote: async (_conn, message) => {
      const choice: number = message.choice;
      await this.broadcast("count", { n: choice });
    },
    typing: () => {},
  };
}

class WrongMessage extends ProtocolController<Chat> {
  protected readonly handlers: ProtocolHandlers<Chat> = {
    // @ts-expect-error -- a wrong handler message type: `say` has `text: string`, not a number
    say: (_conn: Connection, message: { text: number }) => void message,
    vote: () => {},
    typing: () => {},
  };
}

class MissingHandler extends ProtocolController<Chat> {
  // @ts-expect-error -- every client type needs a handler: `typing` is missing
  protected readonly handlers: ProtocolHandlers<Chat> = {
    say: () => {},
    vote: () => {},
  };
}

class ReadsMissingField extends ProtocolController<Chat> {
  protected readonly handlers: ProtocolHandlers<Chat> = {
    // @ts-expect-error -- `vote` has no `text`
    vote: (_conn, message) => void message.text,
    say: () => {},
    typing: () => {},
  };
}

// --- Server: send and broadcast ------------------------------------------------------------------

class Outbound extends ProtocolController<Chat> {
  protected readonly handlers: ProtocolHandlers<Chat> = {
    say: (conn, message) => {
      this.send(conn, "said", { from: "a", text: message.text });
      // @ts-expect-error -- an unknown type in `send`
      this.send(conn, "shout", { text: message.text });
      // @ts-expect-error -- `say` is a client message, not the server's
      this.send(conn, "say", { text: message.text });
      // @ts-expect-error -- a wrong field type in `send`
      this.send(conn, "said", { from: 1, text: message.text });
      // @ts-expect-error -- a missing field in `send`
      this.send(conn, "said", { text: message.text });
    },
    vote: async () => {
      const recipients: number | Promise<number> = this.broadcast("count", { n: 1 }, { room: "r" });
      void recipients;
      const entry = await this.broadcast("message", (meta) => ({ room: meta.room, epoch: meta.epoch, id: meta.id, text: "hi" }), {
        room: "r",
        record: true,
      });
      const id: number = entry.id;
      void id;
      // @ts-expect-error -- an unknown type in `broadcast`
      this.broadcast("shout", { n: 1 });
      // @ts-expect-error -- a builder must return the type's fields
      void this.broadcast("message", (meta) => ({ room: meta.room, epoch: meta.epoch, id: meta.id }), { room: "r", record: true });
      // @ts-expect-error -- a builder needs record: true
      this.broadcast("count", () => ({ n: 1 }), { room: "r" });
    },
    typing: () => {},
  };
}

// --- Client ----------------------------------------------------------------------------------------

const client: SwitchboardClient<Chat> = connect<Chat>("ws://127.0.0.1:1/chat");
client.send({ type: "say", text: "hi" });
client.send({ type: "vote", poll: "p", choice: 2 });
void client.send({ type: "say", text: "hi", tags: ["a"] }, { ack: true, key: "k-1" });
// @ts-expect-error -- a wrong field on the client's `send`
client.send({ type: "say", text: 1 });
// @ts-expect-error -- an unknown type on the client's `send`
client.send({ type: "shout", text: "hi" });
// @ts-expect-error -- a wrong field on an acknowledged send
void client.send({ type: "vote", poll: "p", choice: "two" }, { ack: true });
// @ts-expect-error -- a typed client sends the protocol's messages only, not raw text
client.send("hello");

client.addEventListener("message", (event) => {
  const data = event.data;
  if (data.type === "said") {
    const text: string = data.text;
    void text;
    // @ts-expect-error -- reading a field that a server message lacks: `said` has no `n`
    void data.n;
  } else if (data.type === "message") {
    const id: number = data.id;
    void id;
  } else if (data.type === "error") {
    // A refused send's answer is a message too, typed as the wire protocol's error frame.
    const code: string = data.code;
    void code;
  } else {
    const n: number = data.n;
    void n;
  }
  // @ts-expect-error -- not narrowed: `count` has no `text`
  void data.text;
});

// The unions, as the client sees them.
const outgoing: ClientMessage<Chat> = { type: "typing" };
const incoming: ServerMessage<Chat> = { type: "count", n: 1 };
void [outgoing, incoming];

// --- The untyped default: as before ---------------------------------------------------------------

const plain = connect("ws://127.0.0.1:1/any");
const sent: boolean = plain.send("raw text");
plain.send({ anything: [1, 2] });
void plain.send({ type: "x" }, { ack: true });
plain.addEventListener("message", (event) => {
  const data: unknown = event.data;
  // @ts-expect-error -- untyped: data is unknown
  void event.data.type;
  void data;
});
void [sent, Good, WrongMessage, MissingHandler, ReadsMissingField, Outbound];
