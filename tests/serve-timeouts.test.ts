/**
 * Conformance: `serve()`'s HTTP timeouts, where the runtime can enforce them
 * (`capabilities.headersTimeout`, `capabilities.httpIdleTimeout`; the README's
 * table says where it cannot). A client that never finishes its request's
 * headers (slowloris) and a kept-alive connection that sends nothing are
 * closed, and other clients go on being served.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { serve, WebSocketController } from "../mod.ts";
import { RawHttpConnection } from "./helpers/raw-http.ts";
import { capabilities } from "./helpers/server.ts";

/** Milliseconds until the server ends the connection, or `limit` if it has not by then. */
async function closedAfter(connection: RawHttpConnection, limit: number): Promise<number> {
  const started = Date.now();
  await connection.readToEnd(limit).catch(() => undefined); // rejects at `limit` if the server never ends it
  return Date.now() - started;
}

describe("serve() timeouts", () => {
  test("a request whose headers never finish is closed after headersTimeout", { skip: !capabilities.headersTimeout && "this runtime's server bounds unfinished headers itself (Bun, ~10 s) or not at all (Deno)" }, async (t) => {
    const server = await serve({ port: 0, routes: { "/ws": new WebSocketController() }, fetch: () => new Response("ok"), headersTimeout: 1_000 });
    t.after(() => server.stop());
    const slow = await RawHttpConnection.open(server.port);
    slow.write("GET / HT");
    const took = await closedAfter(slow, 8_000);
    slow.destroy();
    assert.ok(took < 4_000, `closed after ${took} ms`);
    const healthy = await RawHttpConnection.open(server.port);
    healthy.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assert.equal((await healthy.readResponse()).body, "ok", "other clients are served");
    healthy.destroy();
  });

  test("a kept-alive HTTP connection with no request is closed after idleTimeout", { skip: !capabilities.httpIdleTimeout && "Deno.serve has no idle timeout" }, async (t) => {
    const server = await serve({ port: 0, routes: {}, fetch: () => new Response("ok"), idleTimeout: 1_000 });
    t.after(() => server.stop());
    const idle = await RawHttpConnection.open(server.port);
    idle.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.equal((await idle.readResponse()).status, 200);
    // Bun counts in a 4 s timer wheel: the close comes within 1-5 s there.
    const took = await closedAfter(idle, 8_000);
    idle.destroy();
    assert.ok(took < 6_500, `closed after ${took} ms`);
  });

  test("bad timeouts are a RangeError or TypeError", async () => {
    await assert.rejects(serve({ port: 0, routes: {}, headersTimeout: 0 }), RangeError);
    await assert.rejects(serve({ port: 0, routes: {}, idleTimeout: -1 }), RangeError);
    await assert.rejects(serve({ port: 0, routes: {}, idleTimeout: "1s" as unknown as number }), TypeError);
  });
});
