/**
 * Conformance: the opening handshake is checked by the core (RFC 6455
 * section 4.2.1) before `onUpgrade`, so every runtime refuses the same
 * malformed requests with the same status (Deno used to accept key "abc" and
 * version 8, Bun a request without `Connection: Upgrade`, and Deno answered a
 * missing key with 500 and a stack trace), and `onUpgrade` never sees them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocketController } from "../mod.ts";
import { RawHttpConnection } from "./helpers/raw-http.ts";
import { startServer } from "./helpers/server.ts";

const VALID: Record<string, string> = {
  host: "127.0.0.1",
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

/** Sends one upgrade request with `changes` applied to a valid one (undefined removes a header); returns the status. */
async function statusOf(port: number, changes: Record<string, string | undefined>, method = "GET"): Promise<{ status: number; version: string | undefined }> {
  const headers = { ...VALID, ...changes };
  let text = `${method} /ws HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) text += `${name}: ${value}\r\n`;
  const connection = await RawHttpConnection.open(port);
  try {
    connection.write(`${text}\r\n`);
    const head = await connection.readHead();
    return { status: head.status, version: head.headers.find(([name]) => name === "sec-websocket-version")?.[1] };
  } finally {
    connection.destroy();
  }
}

describe("handshake", () => {
  test("malformed upgrades get the same 400 or 426 on every runtime, and never reach onUpgrade", async (t) => {
    let upgrades = 0;
    class Counting extends WebSocketController {
      override onUpgrade() {
        upgrades++;
      }
    }
    const controller = new Counting();
    const server = await startServer({ "/ws": controller });
    t.after(() => server.stop());
    const port = server.server.port;
    const cases: [string, Record<string, string | undefined>, number, string?][] = [
      ["key abc", { "sec-websocket-key": "abc" }, 400],
      ["key of 15 bytes", { "sec-websocket-key": "AAAAAAAAAAAAAAAAAAAA" }, 400],
      ["no key", { "sec-websocket-key": undefined }, 400],
      ["version 8", { "sec-websocket-version": "8" }, 426],
      ["no version", { "sec-websocket-version": undefined }, 426],
      ["no Connection: Upgrade", { connection: "keep-alive" }, 400],
      ["POST", {}, 400, "POST"],
    ];
    for (const [what, changes, expected, method] of cases) {
      const { status, version } = await statusOf(port, changes, method);
      assert.equal(status, expected, what);
      if (expected === 426) assert.equal(version, "13", `${what}: says which version it speaks`);
    }
    assert.equal(upgrades, 0, "onUpgrade saw none of them");
    assert.equal((await controller.stats()).rejectedUpgrades, cases.length, "each is counted as refused");
    assert.equal((await statusOf(port, { connection: "keep-alive, Upgrade", upgrade: "WebSocket" })).status, 101, "token lists and letter case are fine");
    assert.equal(upgrades, 1);
  });
});
