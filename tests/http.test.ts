/**
 * Conformance: plain HTTP through `serve({ fetch })`. Every runtime serves the
 * fetch handler on the same port as the WebSocket routes: Bun and Deno
 * natively, Node through the adapter's bridge from `node:http`
 * (src/adapters/node/fetch-bridge.ts). What the handler gets (method, URL,
 * headers, a streamed body, a signal that aborts when the client goes away)
 * and what the client gets (status, headers, every set-cookie, streamed
 * bodies with backpressure both ways, HEAD without a body, 500 for a failing
 * handler) is the same on all three.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { deferred, delay, runtime, startServer, type TestServer, waitFor, within } from "./helpers/server.ts";
import { headerValues, RawHttpConnection } from "./helpers/raw-http.ts";

const MiB = 1024 * 1024;

/** The byte at `offset` of the test bodies: a pattern that shows a lost, repeated or reordered chunk. */
function patternByte(offset: number): number {
  return (offset * 31 + (offset >>> 16)) & 0xff;
}

function patternChunk(offset: number, length: number): Uint8Array<ArrayBuffer> {
  const chunk = new Uint8Array(length);
  for (let i = 0; i < length; i++) chunk[i] = patternByte(offset + i);
  return chunk;
}

/** Checks received bytes against the pattern; returns the offset after them, or throws at the first wrong byte. */
function checkPattern(chunk: Uint8Array, offset: number): number {
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] !== patternByte(offset + i)) throw new Error(`Body byte ${offset + i} is ${chunk[i]}, expected ${patternByte(offset + i)}`);
  }
  return offset + chunk.length;
}

/** A response body of `total` pattern bytes made as the client reads it, counting what was made. */
function patternStream(total: number, chunkSize: number, made: { bytes: number; cancelled: boolean }): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (made.bytes >= total) return controller.close();
      const size = Math.min(chunkSize, total - made.bytes);
      controller.enqueue(patternChunk(made.bytes, size));
      made.bytes += size;
    },
    cancel() {
      made.cancelled = true;
    },
  });
}

async function withServer(fetch: (request: Request) => Response | Promise<Response>, run: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startServer({}, fetch);
  try {
    await run(server);
  } finally {
    await server.stop();
  }
}

/** Waits until `read()` has not changed for `quietMs`: the writer has stopped, blocked by backpressure. */
async function settled(read: () => number, quietMs = 300, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`Still changing after ${timeoutMs} ms: ${read()}`);
    await new Promise((r) => setTimeout(r, 20));
    if (read() !== last) {
      last = read();
      since = Date.now();
    }
  }
  return last;
}

describe("plain HTTP through serve({ fetch })", () => {
  test("the response's status, headers and every set-cookie reach the client", async () => {
    await withServer(() => {
      const headers = new Headers({ "x-one": "1", "content-type": "text/plain; charset=utf-8" });
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; HttpOnly");
      headers.append("x-many", "first");
      headers.append("x-many", "second");
      return new Response("made", { status: 201, headers });
    }, async (server) => {
      const response = await fetch(server.http("/things"));
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("x-one"), "1");
      assert.equal(response.headers.get("x-many"), "first, second");
      assert.deepEqual(response.headers.getSetCookie(), ["a=1; Path=/", "b=2; HttpOnly"]);
      assert.equal(response.headers.get("content-length"), "4", "a body ready at once is sent with its length");
      assert.equal(await response.text(), "made");
      // On the wire: each cookie on its own line, as browsers require.
      const raw = await RawHttpConnection.open(server.server.port);
      try {
        raw.write("GET /things HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        const head = await raw.readHead();
        assert.equal(head.status, 201);
        assert.deepEqual(headerValues(head, "set-cookie"), ["a=1; Path=/", "b=2; HttpOnly"]);
      } finally {
        raw.destroy();
      }
    });
  });

  test("the handler gets the method, the URL, every header and the body", async () => {
    const seen: { method: string; url: string; multi: string | null; host: string | null }[] = [];
    await withServer(async (request) => {
      const body = new Uint8Array(await request.arrayBuffer());
      seen.push({ method: request.method, url: request.url, multi: request.headers.get("x-multi"), host: request.headers.get("host") });
      return new Response(body, { headers: { "x-method": request.method } });
    }, async (server) => {
      const echoed = await fetch(server.http("/echo/ü?q=1&r=two"), { method: "POST", body: "payload ü" });
      assert.equal(echoed.headers.get("x-method"), "POST");
      assert.equal(await echoed.text(), "payload ü");
      const bytes = patternChunk(0, 256 * 1024);
      const binary = await fetch(server.http("/bytes"), { method: "PUT", body: bytes });
      assert.deepEqual(new Uint8Array(await binary.arrayBuffer()), bytes);
      const empty = await fetch(server.http("/empty"), { method: "DELETE" });
      assert.equal(await empty.text(), "");
      // A header sent on two lines, as fetch clients cannot send it.
      const raw = await RawHttpConnection.open(server.server.port);
      try {
        raw.write(`GET /raw HTTP/1.1\r\nHost: 127.0.0.1:${server.server.port}\r\nX-Multi: a\r\nX-Multi: b\r\nConnection: close\r\n\r\n`);
        assert.equal((await raw.readHead()).status, 200);
      } finally {
        raw.destroy();
      }
      const origin = `http://127.0.0.1:${server.server.port}`;
      assert.deepEqual(seen.map(({ method, url }) => `${method} ${url}`), [
        `POST ${origin}/echo/%C3%BC?q=1&r=two`,
        `PUT ${origin}/bytes`,
        `DELETE ${origin}/empty`,
        `GET ${origin}/raw`,
      ]);
      assert.equal(seen[3]!.multi, "a, b");
      assert.equal(seen[3]!.host, `127.0.0.1:${server.server.port}`);
    });
  });

  test("a large request body streams to the handler and a large response body to the client", async () => {
    const TOTAL = 16 * MiB;
    await withServer(async (request) => {
      if (request.method === "POST") {
        let offset = 0;
        const reader = request.body!.getReader();
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) offset = checkPattern(chunk.value, offset);
        return Response.json({ received: offset });
      }
      return new Response(patternStream(TOTAL, 64 * 1024, { bytes: 0, cancelled: false }));
    }, async (server) => {
      const upload = await fetch(server.http("/upload"), { method: "POST", body: patternChunk(0, TOTAL) });
      assert.deepEqual(await upload.json(), { received: TOTAL });
      const download = await fetch(server.http("/download"));
      let offset = 0;
      const reader = download.body!.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) offset = checkPattern(chunk.value, offset);
      assert.equal(offset, TOTAL);
    });
  });

  test("a response body is made only as fast as the client reads it", async () => {
    const TOTAL = 128 * MiB;
    const made = { bytes: 0, cancelled: false };
    await withServer(() => new Response(patternStream(TOTAL, 64 * 1024, made)), async (server) => {
      const raw = await RawHttpConnection.open(server.server.port);
      try {
        raw.write("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assert.equal((await raw.readHead()).status, 200);
        raw.pause();
        // Loopback and the runtimes' send buffers hold a few MiB; without backpressure it would be all of it.
        const ahead = await settled(() => made.bytes);
        assert.ok(ahead < 32 * MiB, `made ${ahead} bytes for a client that reads nothing`);
        raw.resume();
        await raw.readToEnd(60_000);
        assert.ok(raw.received >= TOTAL, `received ${raw.received} bytes`);
        assert.equal(made.bytes, TOTAL);
      } finally {
        raw.destroy();
      }
    });
  });

  test("a request body is read only as fast as the handler reads it", async () => {
    // Under Bun's default maxRequestBodySize (128 MiB), which answers 413 past it.
    const TOTAL = 96 * MiB;
    const release = deferred();
    let received = 0;
    await withServer(async (request) => {
      await release.promise;
      const reader = request.body!.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received += chunk.value.length;
      return Response.json({ received });
    }, async (server) => {
      const raw = await RawHttpConnection.open(server.server.port);
      try {
        raw.write(`POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${TOTAL}\r\nConnection: close\r\n\r\n`);
        const upload = raw.send(new Uint8Array(MiB), TOTAL);
        upload.catch(() => {});
        // The kernel's buffers fill, then the socket's, and the client stops: the server does not read ahead.
        const taken = await settled(() => raw.sent);
        assert.ok(taken < 32 * MiB, `the server took ${taken} bytes of a body its handler has not read`);
        assert.equal(received, 0);
        release.resolve();
        await upload;
        const head = await raw.readHead(60_000);
        assert.equal(head.status, 200);
        await raw.readToEnd();
        assert.equal(received, TOTAL);
      } finally {
        release.resolve();
        raw.destroy();
      }
    });
  });

  // Bun sends the head with the first chunk: 3 s late for a stream whose first chunk took 3 s (probe on Bun 1.4.4).
  const headBeforeBody = runtime === "bun" && "Bun holds a streamed response's head until its first chunk";
  test("a streamed response sends its headers before its first chunk", { skip: headBeforeBody }, async () => {
    const first = deferred();
    await withServer(() => {
      const encoder = new TextEncoder();
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            await first.promise;
            controller.enqueue(encoder.encode("data: one\n\n"));
            controller.close();
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    }, async (server) => {
      try {
        // Server-sent events: the client must see the response before the first event exists.
        const response = await within(fetch(server.http("/events")), 5_000, "the response head");
        assert.equal(response.headers.get("content-type"), "text/event-stream");
        first.resolve();
        assert.equal(await response.text(), "data: one\n\n");
      } finally {
        first.resolve();
      }
    });
  });

  test("HEAD gets the status and headers and no body", async () => {
    await withServer((request) => {
      const body = request.method === "HEAD" ? patternStream(MiB, 64 * 1024, { bytes: 0, cancelled: false }) : "after";
      return new Response(body, { headers: { "x-head": request.method } });
    }, async (server) => {
      const head = await fetch(server.http("/resource"), { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("x-head"), "HEAD");
      assert.equal(await head.text(), "");
      // On one connection: had body bytes followed the HEAD response, they would stand where the next head is.
      const raw = await RawHttpConnection.open(server.server.port);
      try {
        raw.write("HEAD /resource HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /resource HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assert.equal((await raw.readHead()).status, 200);
        const next = await raw.readHead();
        assert.deepEqual(headerValues(next, "x-head"), ["GET"]);
      } finally {
        raw.destroy();
      }
    });
  });

  // bun:test fails whichever test is running when a Bun.serve handler throws ("GET - /throw failed"),
  // though Bun does answer 500 (probe on Bun 1.4.4), so the case cannot be observed there.
  const handlerThrows = runtime === "bun" && "bun:test fails the running test when a Bun.serve handler throws";
  test("a handler that throws or rejects gets 500, and the server keeps serving", { skip: handlerThrows }, async () => {
    await withServer(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/throw") throw new Error("handler failed (expected by the test)");
      if (path === "/reject") return await Promise.reject(new Error("handler rejected (expected by the test)"));
      return new Response("still here");
    }, async (server) => {
      for (const path of ["/throw", "/reject"]) {
        const response = await fetch(server.http(path));
        assert.equal(response.status, 500, path);
        await response.body?.cancel();
      }
      assert.equal(await (await fetch(server.http("/ok"))).text(), "still here");
    });
  });

  test("a response body that fails midway does not look complete, and the server keeps serving", async () => {
    await withServer((request) => {
      if (new URL(request.url).pathname !== "/broken") return new Response("still here");
      let sent = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ === 4) return controller.error(new Error("body failed (expected by the test)"));
            controller.enqueue(patternChunk(0, 16 * 1024));
          },
        }),
      );
    }, async (server) => {
      // Node and Deno have sent the head by then, so the body read fails; Bun resets before the head.
      await assert.rejects(fetch(server.http("/broken")).then((response) => response.arrayBuffer()));
      assert.equal(await (await fetch(server.http("/ok"))).text(), "still here");
    });
  });

  test("a body the handler does not read, reads in part or cancels does not leave the client waiting", async () => {
    await withServer(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/cancel") await request.body?.cancel();
      if (path === "/part") await request.body?.getReader().read();
      return new Response(`done ${path};`);
    }, async (server) => {
      const body = new Uint8Array(MiB);
      for (const path of ["/ignore", "/part", "/cancel"]) {
        const raw = await RawHttpConnection.open(server.server.port);
        try {
          raw.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n`);
          raw.write(body);
          raw.write("GET /after HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
          // The server discards the rest of the body and serves the next request (Node, Bun), or closes
          // the connection after the response (Deno); it never holds the connection until a timeout.
          const text = new TextDecoder().decode(await raw.readToEnd(3_000));
          const answers = [...text.matchAll(/done \/\w+;/g)].map((m) => m[0]);
          assert.ok(["done /after;", undefined].includes(answers[1]), `${path}: ${answers.join(" ")}`);
          assert.equal(answers[0], `done ${path};`);
        } finally {
          raw.destroy();
        }
      }
    });
  });

  test("a client that goes away mid-request aborts request.signal and errors the body read", async () => {
    const started = deferred();
    const aborted = deferred();
    const bodyRead = deferred<string>();
    await withServer(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/wait") {
        request.signal.addEventListener("abort", () => aborted.resolve());
        started.resolve();
        await within(aborted.promise, 5_000, "request.signal to abort");
        return new Response("too late");
      }
      if (path === "/upload") {
        // The body read must fail, not hang or resolve with part of the body.
        await request.arrayBuffer().then((b) => bodyRead.resolve(`resolved with ${b.byteLength} bytes`), () => bodyRead.resolve("rejected"));
        return new Response("too late");
      }
      return new Response("still here");
    }, async (server) => {
      const waiting = await RawHttpConnection.open(server.server.port);
      try {
        waiting.write("GET /wait HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        await within(started.promise, 5_000, "the handler to start");
      } finally {
        waiting.destroy();
      }
      await within(aborted.promise, 5_000, "request.signal to abort");

      const uploading = await RawHttpConnection.open(server.server.port);
      try {
        uploading.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${4 * MiB}\r\n\r\n`);
        uploading.write(new Uint8Array(MiB));
        await waitFor(() => uploading.socket.writableLength === 0, 5_000, "the first MiB to be sent");
        // Time for the server to hand the first bytes to the handler's read, so the cut comes midway.
        await delay(50);
      } finally {
        uploading.destroy();
      }
      assert.equal(await within(bodyRead.promise, 5_000, "the body read to end"), "rejected");
      assert.equal(await (await fetch(server.http("/ok"))).text(), "still here");
    });
  });

  test("a client that goes away mid-response cancels the response body, and the server keeps serving", async () => {
    const made = { bytes: 0, cancelled: false };
    await withServer((request) => {
      if (new URL(request.url).pathname !== "/endless") return new Response("still here");
      return new Response(patternStream(Number.MAX_SAFE_INTEGER, 64 * 1024, made));
    }, async (server) => {
      const raw = await RawHttpConnection.open(server.server.port);
      try {
        raw.write("GET /endless HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assert.equal((await raw.readHead()).status, 200);
        await waitFor(() => raw.received > MiB, 5_000, "a MiB of the body");
      } finally {
        raw.destroy();
      }
      await waitFor(() => made.cancelled, 5_000, "the body stream to be cancelled");
      assert.equal(await (await fetch(server.http("/ok"))).text(), "still here");
    });
  });
});

/**
 * What only the Node bridge decides: Bun and Deno build the Request
 * themselves, and differ (a Host of "evil.example/admin?" gives Deno 2.9.5 the
 * path "/admin", and Bun 1.4.4 a relative `request.url`; a handler's
 * `undefined` is a 200 or 204 on Bun and a test failure on Deno).
 */
describe("the Node bridge from node:http to fetch", () => {
  const nodeOnly = runtime !== "node" && "Node only: Bun and Deno serve fetch handlers natively";
  test("the URL comes from the Host header and the request target", { skip: nodeOnly }, async () => {
    const urls: string[] = [];
    await withServer((request) => {
      urls.push(request.url);
      return new Response("ok");
    }, async (server) => {
      const raw = await RawHttpConnection.open(server.server.port);
      try {
        raw.write(`GET http://example.test:8080/absolute?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        assert.equal((await raw.readResponse()).body, "ok");
        // HTTP/1.0 needs no Host.
        raw.write("GET /old HTTP/1.0\r\n\r\n");
        assert.equal((await raw.readResponse()).body, "ok");
      } finally {
        raw.destroy();
      }
      assert.deepEqual(urls, ["http://example.test:8080/absolute?x=1", "http://localhost/old"]);
    });
  });

  test("a request fetch cannot represent is answered 400 without the handler", { skip: nodeOnly }, async () => {
    const paths: string[] = [];
    await withServer((request) => {
      paths.push(new URL(request.url).pathname);
      return new Response("ok");
    }, async (server) => {
      // `http://${host}${target}` would otherwise give the handler "/admin" for "/real".
      for (const request of ["GET /real HTTP/1.1\r\nHost: evil.example/admin?\r\n", "GET /real HTTP/1.1\r\nHost: user@evil.example\r\n", "TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\n"]) {
        const raw = await RawHttpConnection.open(server.server.port);
        try {
          raw.write(`${request}Connection: close\r\n\r\n`);
          assert.equal((await raw.readHead()).status, 400, request);
        } finally {
          raw.destroy();
        }
      }
      assert.deepEqual(paths, []);
    });
  });

  test("a handler that returns no Response gets 500", { skip: nodeOnly }, async () => {
    await withServer(() => undefined as unknown as Response, async (server) => {
      const response = await fetch(server.http("/nothing"));
      assert.equal(response.status, 500);
      await response.body?.cancel();
    });
  });
});
