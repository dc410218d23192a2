/**
 * One Redis command over a fresh, short-lived TCP connection, with a minimal
 * RESP2 parser. The Redis test helpers use it to ping, inspect and set up
 * servers without going through the client under test (ioredis), so a bug
 * or a reconnect in the client cannot hide the server's real state.
 */
import { Buffer } from "node:buffer";
import { connect } from "node:net";

/** A parsed RESP2 reply: `null` is a nil bulk string or nil array. */
type Reply = string | null | Reply[];

/** A reply parsed from `buffer` at `offset`, and where it ends; undefined when more bytes are needed. */
type Parsed = { value: Reply | Error; end: number } | undefined;

function parse(buffer: Buffer, offset: number): Parsed {
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.toString("utf8", offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
    case ":":
      return { value: line, end: next };
    case "-":
      return { value: new Error(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString("utf8", next, next + length), end: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, end);
        if (!item) return undefined;
        // An error inside an array (EXEC) is kept as its text: this parser is for inspection only.
        items.push(item.value instanceof Error ? item.value.message : item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`not a RESP2 reply: ${JSON.stringify(buffer.toString("utf8", offset, lineEnd))}`);
  }
}

/** A reply as text: nil is "", an array is its items' texts one per line (nested arrays flattened). */
function text(reply: Reply): string {
  if (reply === null) return "";
  if (Array.isArray(reply)) return reply.map(text).join("\n");
  return reply;
}

/** The command as a RESP2 array of bulk strings. */
function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}

/**
 * Sends one command to 127.0.0.1:`port` on a new connection and returns its
 * reply as text (see {@linkcode text}); rejects on an error reply, a
 * connection error or after `timeoutMs` (a stopped server never answers).
 */
export function redisCommand(port: number, args: readonly string[], timeoutMs = 2_000): Promise<string> {
  if (args.length === 0) return Promise.reject(new TypeError("redisCommand needs a command"));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (result: string | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (typeof result === "string") resolve(result);
      else reject(result);
    };
    const where = `redis 127.0.0.1:${port} ${args[0]}`;
    const timer = setTimeout(() => finish(new Error(`${where}: no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]); // replies here are small: re-concatenating is fine
      let parsed: Parsed;
      try {
        parsed = parse(received, 0);
      } catch (error) {
        return finish(error as Error);
      }
      if (!parsed) return;
      if (parsed.value instanceof Error) finish(new Error(`${where}: ${parsed.value.message}`));
      else finish(text(parsed.value));
    });
    socket.on("error", (error: Error) => finish(new Error(`${where}: ${error.message}`)));
    socket.on("close", () => finish(new Error(`${where}: connection closed before a reply`)));
    socket.write(encode(args));
  });
}

/** The `field:value` lines of an INFO reply, as a map. */
export function parseInfo(info: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of info.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}
