/**
 * Conformance: what `serve()` and the routes accept. Mistakes a caller
 * without types can make are TypeErrors that name the problem, not a crash
 * deep inside ("Cannot convert undefined or null to object", "controller.
 * shutdown is not a function"). On Node, `attach()` twice on one server
 * composes the routes instead of leaving clients hanging.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, test } from "node:test";
import { serve, type ServeOptions, WebSocketController } from "../mod.ts";
import { rawConnect, RawWebSocket } from "./helpers/raw-client.ts";
import { runtime } from "./helpers/server.ts";

const loose = (options: unknown) => serve(options as ServeOptions);

describe("routes", () => {
  test("serve() refuses missing routes, values that are not controllers, bad paths, shadowed patterns and unknown options", async () => {
    const chat = new WebSocketController();
    await assert.rejects(loose(undefined), { name: "TypeError", message: /options are missing/ });
    await assert.rejects(loose({ port: 0 }), { name: "TypeError", message: /'routes' is missing/ });
    await assert.rejects(loose({ port: 0, routes: { "/ws": {} } }), { name: "TypeError", message: /route '\/ws' as its value must be a WebSocketController/ });
    await assert.rejects(loose({ port: 0, routes: { ws: chat } }), { name: "TypeError", message: /must start with "\/"/ });
    await assert.rejects(loose({ port: 0, routes: { "/room/:a": chat, "/room/:b": chat } }), { name: "TypeError", message: /'\/room\/:b' as the earlier route '\/room\/:a'/ });
    await assert.rejects(loose({ port: 0, routes: { "/chat/*": chat, "/chat/:room": chat } }), { name: "TypeError", message: /'\/chat\/:room'/ });
    await assert.rejects(loose({ port: 0, routes: { "/ws": chat }, prot: 1 }), { name: "TypeError", message: /'prot' is not an option/ });
    await assert.rejects(loose({ port: 70_000, routes: {} }), RangeError);
    const fine = await serve({ port: 0, routes: { "/chat/:room": chat, "/chat/*": chat } });
    await fine.stop();
  });

  // `attach()` is the Node adapter's call for a node:http server; Bun and Deno have their own embedding calls.
  test("attach() twice on one node:http server composes the routes; a path routed twice is a TypeError; other paths get 404", { skip: runtime !== "node" && "attach() is the Node adapter's API" }, async () => {
    const { attach } = await import("../src/adapters/node/mod.ts");
    const server = createServer((_req, res) => res.end("http"));
    assert.throws(() => attach(server, { "/x": {} as WebSocketController }), TypeError);
    assert.equal(server.listenerCount("upgrade"), 0, "a refused attach() leaves nothing behind");
    const a = new WebSocketController();
    const b = new WebSocketController();
    const detachA = attach(server, { "/a": a });
    attach(server, { "/b/:id": b });
    assert.throws(() => attach(server, { "/a": b }), { name: "TypeError", message: /already routed/ });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      for (const path of ["/a", "/b/7"]) {
        const client = await rawConnect(`ws://127.0.0.1:${port}${path}`, { timeoutMs: 2_000 });
        assert.ok(client instanceof RawWebSocket, `${path} upgrades`);
        client.close();
        await client.closed;
      }
      const unknown = await rawConnect(`ws://127.0.0.1:${port}/nowhere`, { timeoutMs: 2_000 });
      assert.ok(!(unknown instanceof RawWebSocket) && unknown.status === 404, "an unknown path gets 404, it does not hang");
      detachA();
      const gone = await rawConnect(`ws://127.0.0.1:${port}/a`, { timeoutMs: 2_000 });
      assert.ok(!(gone instanceof RawWebSocket) && gone.status === 404, "a detached route is gone");
      const still = await rawConnect(`ws://127.0.0.1:${port}/b/1`, { timeoutMs: 2_000 });
      assert.ok(still instanceof RawWebSocket, "the other attach() still serves");
      still.close();
      await still.closed;
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
