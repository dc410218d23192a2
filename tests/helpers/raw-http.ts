/**
 * A raw HTTP/1.1 connection over `node:net`, for the tests that `fetch` cannot
 * write: header lines exactly as sent (repeated names, a hostile Host), a
 * reader that stops reading, a client that goes away midway. Only `node:net`,
 * so it runs unchanged on Node, Bun and Deno.
 */
import { connect, type Socket } from "node:net";

const decoder = new TextDecoder();

/** Where the first CRLF CRLF starts, or -1. */
function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/** The status line and header lines of a response, as they came. */
export interface RawHead {
  status: number;
  reason: string;
  /** Names lowercased, in order; a repeated header is one entry per line. */
  headers: [string, string][];
}

/** One TCP connection to the test server; the test writes requests and reads responses as bytes. */
export class RawHttpConnection {
  readonly socket: Socket;
  /** Bytes received and not yet taken by `readHead`, as they came (joined only when read). */
  #chunks: Uint8Array[] = [];
  /** Every body byte received after the last head, counted even while nobody takes them. */
  received = 0;
  #wake: (() => void) | undefined;
  #ended = false;
  /** Resolves when the socket has closed; never rejects. */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.received += chunk.length;
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    const end = (): void => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on("end", end);
    socket.on("close", end);
  }

  /** Connects to 127.0.0.1:port. */
  static open(port: number): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawHttpConnection(socket));
      });
    });
  }

  /** Writes request bytes; false when they wait in user space for the kernel (backpressure). */
  write(data: string | Uint8Array): boolean {
    return this.socket.write(data);
  }

  /** Body bytes handed to the socket by {@linkcode send}. */
  sent = 0;

  /**
   * Sends `chunk` repeatedly until `total` bytes, each write only after the
   * socket drained the one before, so `sent` stops growing when the server
   * stops reading. Rejects if the connection closes first.
   */
  async send(chunk: Uint8Array, total: number): Promise<void> {
    while (this.sent < total) {
      const part = total - this.sent < chunk.length ? chunk.subarray(0, total - this.sent) : chunk;
      this.sent += part.length;
      if (!this.socket.write(part)) await this.#drained();
    }
  }

  #drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.socket.off("close", onClose);
        resolve();
      };
      const onClose = (): void => {
        this.socket.off("drain", onDrain);
        reject(new Error(`Connection closed after ${this.sent} bytes were sent`));
      };
      this.socket.once("drain", onDrain);
      this.socket.once("close", onClose);
    });
  }

  /** Waits for the next response head and takes it (its body bytes stay in the buffer). */
  async readHead(timeoutMs = 5_000): Promise<RawHead> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const buffer = this.#joined();
      const end = indexOfHeadEnd(buffer);
      if (end !== -1) {
        const rest = buffer.subarray(end + 4);
        this.#chunks = rest.length ? [rest] : [];
        this.received = rest.length;
        return parseHead(decoder.decode(buffer.subarray(0, end)));
      }
      if (this.#ended) throw new Error(`Connection ended before a response head; received: ${JSON.stringify(decoder.decode(buffer.subarray(0, 200)))}`);
      await this.#waitForData(deadline, "a response head");
    }
  }

  /** Waits for the next response, which must have a Content-Length, and takes it with its body. */
  async readResponse(timeoutMs = 5_000): Promise<RawHead & { body: string }> {
    const deadline = Date.now() + timeoutMs;
    const head = await this.readHead(timeoutMs);
    const length = Number(headerValues(head, "content-length")[0]);
    if (!Number.isSafeInteger(length)) throw new Error(`readResponse needs a Content-Length: ${JSON.stringify(head.headers)}`);
    while (this.#joined().length < length) {
      if (this.#ended) throw new Error(`Connection ended within a body of ${length} bytes`);
      await this.#waitForData(deadline, "a response body");
    }
    const buffer = this.#joined();
    this.#chunks = buffer.length > length ? [buffer.subarray(length)] : [];
    this.received = buffer.length - length;
    return { ...head, body: decoder.decode(buffer.subarray(0, length)) };
  }

  /** Waits until the server has closed the connection and returns every byte not taken yet. */
  async readToEnd(timeoutMs = 10_000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended) await this.#waitForData(deadline, "the end of the connection");
    return this.#joined();
  }

  #joined(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0]!;
    const joined = new Uint8Array(this.#chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    let offset = 0;
    for (const chunk of this.#chunks) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    this.#chunks = joined.length ? [joined] : [];
    return joined;
  }

  /** Stops reading the socket: unread bytes back up into the kernel and then the server. */
  pause(): void {
    this.socket.pause();
  }

  /** Reads the socket again. */
  resume(): void {
    this.socket.resume();
  }

  /** Drops the connection without a clean HTTP ending, as a client that goes away does. */
  destroy(): void {
    this.socket.destroy();
  }

  #waitForData(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(new Error(`Timed out waiting for ${what}`));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, Math.min(left, 50));
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}

function parseHead(head: string): RawHead {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
  if (!match) throw new Error(`Not an HTTP/1.x status line: ${JSON.stringify(statusLine)}`);
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  });
  return { status: Number(match[1]), reason: match[2]!, headers };
}

/** The values of every line of one header. */
export function headerValues(head: RawHead, name: string): string[] {
  return head.headers.filter(([n]) => n === name).map(([, v]) => v);
}
