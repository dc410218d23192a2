/**
 * Serves a fetch handler (`(request: Request) => Response`) on a `node:http`
 * server: an `IncomingMessage` becomes a `Request`, the handler's `Response`
 * is written to the `ServerResponse`. Node-only; Bun and Deno serve fetch
 * handlers natively.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { once } from "node:events";
import type { FetchHandler } from "../../adapter/mod.ts";

/** A `node:http` request listener, as `createServer()` takes it. */
export type RequestListener = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/**
 * What a response's `close` listener needs: one object per exchange instead
 * of closures, read through {@linkcode exchanges} by a module-level listener.
 */
interface Exchange {
  /** Aborts `request.signal` when the client goes away before the response is complete. */
  readonly aborter: AbortController;
  /** The request body, discarded once the response is over. */
  body: IncomingBody | undefined;
  /** The response body being written, cancelled when the client goes away. */
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
}

const exchanges = new WeakMap<ServerResponse, Exchange>();

function exchangeOf(outgoing: ServerResponse): Exchange {
  let exchange = exchanges.get(outgoing);
  if (!exchange) {
    exchange = { aborter: new AbortController(), body: undefined, reader: undefined };
    exchanges.set(outgoing, exchange);
    outgoing.once("close", onResponseClose);
  }
  return exchange;
}

/**
 * The end of an exchange: the response is complete, or its client went away
 * first (or it was destroyed on an error), which aborts `request.signal` and
 * cancels the response body.
 */
function onResponseClose(this: ServerResponse): void {
  const exchange = exchanges.get(this);
  if (!exchange) return;
  if (this.writableFinished) {
    exchange.body?.discard(new TypeError("Cannot read the request body as the response has been sent: read it before the Response completes"));
    return;
  }
  const reason = new DOMException("The client closed the connection", "AbortError");
  exchange.aborter.abort(reason);
  exchange.body?.discard(reason);
  exchange.reader?.cancel(reason).catch(ignore);
}

function ignore(): void {}

/** Characters that would move the path or the credentials into the Host, or are no host at all. */
const NOT_A_HOST = /[\s/?#@\\]/;

/** The request's absolute URL, from the Host header and the request target; a TypeError for a Host that is no host. */
export function urlOf(incoming: IncomingMessage): string {
  const host = incoming.headers.host || "localhost";
  if (NOT_A_HOST.test(host)) {
    // `http://${host}${target}` would parse with another host or path than the client asked for.
    throw new TypeError(`Cannot read the request as its Host header is not a host: current value is ${JSON.stringify(host)}`);
  }
  const origin = `${(incoming.socket as { encrypted?: boolean }).encrypted ? "https" : "http"}://${host}`;
  const target = incoming.url || "/";
  // Origin form ("/path?q") is the rule; absolute form (from proxies) and "*" (OPTIONS) are resolved.
  return target.startsWith("/") ? origin + target : new URL(target, `${origin}/`).href;
}

/** The request headers, repeated ones included, in the order they came. */
function headersOf(incoming: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

/** Whether the message carries a body: HTTP/1.1 says so with Content-Length or Transfer-Encoding. */
function hasBody(incoming: IncomingMessage): boolean {
  const method = incoming.method;
  // fetch's Request refuses a body on GET and HEAD; Node discards one after the response.
  if (method === "GET" || method === "HEAD") return false;
  const length = incoming.headers["content-length"];
  return incoming.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * The request body as the source of a web stream. It reads from the socket
 * only when the handler reads the body (the stream's high-water mark is 0),
 * so a handler that reads slowly makes the client send slowly.
 */
class IncomingBody implements UnderlyingDefaultSource<Uint8Array> {
  readonly #incoming: IncomingMessage;
  #chunks: AsyncIterator<Uint8Array> | undefined;
  /** Why the body can no longer be read, once it is discarded. */
  #discarded: Error | undefined;

  constructor(incoming: IncomingMessage) {
    this.#incoming = incoming;
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (this.#discarded) throw this.#discarded;
    // destroyOnReturn: false, so that discarding the body does not destroy the socket and the response with it.
    this.#chunks ??= this.#incoming.iterator({ destroyOnReturn: false });
    // Rejects when the client goes away mid-body, which errors the stream for the handler.
    const { done, value } = await this.#chunks.next();
    if (done) controller.close();
    else controller.enqueue(value);
  }

  cancel(): void {
    this.discard(new TypeError("Cannot read the request body as it was cancelled"));
  }

  /**
   * Stops reading for the handler and lets the rest of the body go, as Node
   * does with a body nobody reads: the connection can then carry the next
   * request instead of waiting, full, until it times out.
   */
  discard(reason: Error): void {
    if (this.#discarded) return;
    this.#discarded = reason;
    const incoming = this.#incoming;
    const chunks = this.#chunks;
    // resume() does nothing while the iterator listens for 'readable', so it must let go first.
    if (!chunks?.return) incoming.resume();
    else chunks.return().then(() => incoming.resume(), ignore);
  }
}

/**
 * The fetch `Request` for a `node:http` request: method, absolute URL (Host
 * and target), headers and, for a request with a body, the body as a stream
 * read as the handler reads it. `signal` becomes `request.signal`.
 * Throws a `TypeError` for a request fetch cannot represent (a Host header
 * that is not a host, or a method such as TRACE).
 */
export function requestFrom(incoming: IncomingMessage, signal?: AbortSignal): Request {
  return newRequest(incoming, signal, undefined);
}

function newRequest(incoming: IncomingMessage, signal: AbortSignal | undefined, exchange: Exchange | undefined): Request {
  const init: RequestInit & { duplex?: "half" } = { method: incoming.method, headers: headersOf(incoming), signal };
  const url = urlOf(incoming);
  if (hasBody(incoming)) {
    const body = new IncomingBody(incoming);
    if (exchange) exchange.body = body;
    init.body = new ReadableStream(body, { highWaterMark: 0 });
    // Required by Node's fetch for a stream body: the request is read while the response may already be written.
    init.duplex = "half";
  }
  return new Request(url, init);
}

const PENDING: unique symbol = Symbol("pending");

/**
 * The read's result if it settles within a few microtasks, else PENDING. A
 * body made from a string or bytes is ready at once; a stream that waits for
 * its data (server-sent events) is not, and must not hold back the headers.
 */
function readSoon(read: Promise<ReadableStreamReadResult<Uint8Array>>): Promise<ReadableStreamReadResult<Uint8Array> | typeof PENDING> {
  return Promise.race([read, Promise.resolve(PENDING).then().then()]);
}

/** Statuses whose responses never have a body, so they must not state a length either. */
function isBodyless(status: number): boolean {
  return status === 204 || status === 304;
}

/**
 * Writes the status line and headers (every set-cookie on its own line), with
 * `length` as Content-Length unless the handler set a length or an encoding.
 * If Node refuses them (a status or header `node:http` does not allow), nothing
 * has been sent yet: the client gets a 500 instead, and this returns false.
 */
function writeHead(outgoing: ServerResponse, response: Response, length?: number): boolean {
  // A flat name/value list: Headers yields each set-cookie separately and joins other repeated names.
  const headers: string[] = [];
  response.headers.forEach((value, name) => headers.push(name, value));
  if (length !== undefined && !response.headers.has("content-length") && !response.headers.has("transfer-encoding")) {
    headers.push("content-length", String(length));
  }
  try {
    if (response.statusText) outgoing.writeHead(response.status, response.statusText, headers);
    else outgoing.writeHead(response.status, headers);
    return true;
  } catch (error) {
    console.error("switchboard: cannot write the response head:", error);
    outgoing.writeHead(500, ["content-length", "0"]).end();
    return false;
  }
}

/**
 * Writes a fetch `Response` to a `ServerResponse`: status, status text,
 * headers (every set-cookie on its own line) and the body, streamed as the
 * client takes it. A body that is ready at once goes out in one write with a
 * Content-Length; a streamed one sends its headers at once and its chunks as
 * they come, each only after the socket took the one before. A HEAD request
 * gets no body (the stream is cancelled unread). If the client goes away, the
 * body stream is cancelled; if the stream fails midway, the connection is
 * destroyed so that the truncated body does not look complete. Never rejects.
 */
export async function writeResponse(outgoing: ServerResponse, response: Response): Promise<void> {
  const body = response.body;
  if (outgoing.destroyed || !body || outgoing.req?.method === "HEAD") {
    body?.cancel().catch(ignore);
    if (outgoing.destroyed) return;
    if (writeHead(outgoing, response, body || isBodyless(response.status) ? undefined : 0)) outgoing.end();
    return;
  }
  const exchange = exchangeOf(outgoing);
  const reader = body.getReader();
  exchange.reader = reader;
  const { signal } = exchange.aborter;
  try {
    let read = reader.read();
    const first = await readSoon(read);
    if (first === PENDING) {
      if (!writeHead(outgoing, response)) return void reader.cancel().catch(ignore);
      outgoing.flushHeaders();
    } else if (first.done) {
      if (writeHead(outgoing, response, 0)) outgoing.end();
      return;
    } else {
      read = reader.read();
      const second = await readSoon(read);
      // All of the body in one chunk, ready at once.
      const whole = second !== PENDING && second.done;
      if (!writeHead(outgoing, response, whole ? byteLengthOf(first.value) : undefined)) return void reader.cancel().catch(ignore);
      if (whole) return void outgoing.end(first.value);
      if (!outgoing.write(first.value)) await once(outgoing, "drain", { signal });
    }
    for (let chunk = await read; !chunk.done; chunk = await reader.read()) {
      // Backpressure: the next chunk is read only once the socket has taken this one.
      if (!outgoing.write(chunk.value)) await once(outgoing, "drain", { signal });
    }
    if (!outgoing.destroyed) outgoing.end();
  } catch (error) {
    // The client going away ends the write quietly; a failing body stream is the application's error.
    if (!signal.aborted) console.error("switchboard: the response body failed:", error);
    reader.cancel(error).catch(ignore);
    // Before the head (the first read failed), the client can still be told; after it, only the cut shows.
    if (!outgoing.headersSent && !outgoing.destroyed) outgoing.writeHead(500, ["content-length", "0"]).end();
    else outgoing.destroy();
  } finally {
    exchange.reader = undefined;
  }
}

/** A chunk's length in bytes; anything but bytes is refused, as on Bun and Deno. */
function byteLengthOf(chunk: unknown): number {
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  throw new TypeError(`Cannot write the response body as a chunk is not a Uint8Array: current value is ${Object.prototype.toString.call(chunk)}`);
}

/**
 * A `node:http` request listener that serves `handler`: each request becomes
 * a fetch `Request` whose `signal` aborts when the client goes away, and the
 * handler's `Response` is written back. A handler that throws, rejects or
 * returns something other than a `Response` is logged and answered with 500;
 * a request fetch cannot represent is answered with 400.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { requestListener } from "./fetch-bridge.ts";
 *
 * createServer(requestListener((request) => new Response(`hello ${new URL(request.url).pathname}`))).listen(8080);
 * ```
 */
export function requestListener(handler: FetchHandler): RequestListener {
  return (incoming, outgoing) => void respond(handler, incoming, outgoing);
}

async function respond(handler: FetchHandler, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  const exchange = exchangeOf(outgoing);
  let request: Request;
  try {
    request = newRequest(incoming, exchange.aborter.signal, exchange);
  } catch {
    return writeResponse(outgoing, new Response(null, { status: 400 }));
  }
  let response: Response;
  try {
    response = await handler(request);
    if (!((response as unknown) instanceof Response)) {
      throw new TypeError(
        `Cannot answer ${request.method} ${incoming.url} as the fetch handler did not return a Response: current value is ${String(response)}`,
      );
    }
  } catch (error) {
    console.error("switchboard: fetch handler failed:", error);
    response = new Response(null, { status: 500 });
  }
  return writeResponse(outgoing, response);
}
