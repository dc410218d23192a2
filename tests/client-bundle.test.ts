/**
 * The browser build of `switchboard/client`
 * (src/client/browser/switchboard-client.js, shipped as
 * dist/client.browser.js): it is what scripts/build-client.mjs makes from
 * the source today (not stale), it imports nothing but the dynamic `ws` a
 * browser never reaches, and it works as a module on its own.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fakeWebSockets } from "./helpers/fake-websocket.ts";
import { runtime } from "./helpers/server.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BUNDLE = join(root, "src", "client", "browser", "switchboard-client.js");

/** Runs the build script under Node (esbuild's API needs it) and returns what it prints. */
function rebuild(): Promise<string> {
  return new Promise((resolveText, reject) => {
    const node = runtime === "node" ? process.execPath : "node";
    const child = spawn(node, [join(root, "scripts", "build-client.mjs"), "--stdout"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolveText(Buffer.concat(out).toString("utf8")) : reject(new Error(`build-client exited ${code}: ${err}`))));
  });
}

describe("client browser bundle", () => {
  test("the committed file is what scripts/build-client.mjs builds now", { timeout: 60_000 }, async () => {
    const fresh = await rebuild();
    const committed = readFileSync(BUNDLE, "utf8");
    assert.ok(fresh.length > 1_000, `built ${fresh.length} bytes`);
    assert.ok(committed === fresh, "src/client/browser/switchboard-client.js is stale: run `npm run build:client` and commit it");
  });

  test("it imports nothing but the dynamic ws (for Node 20, never reached in a browser)", () => {
    const text = readFileSync(BUNDLE, "utf8");
    const statics = [...text.matchAll(/^\s*(?:import\s[^(]|export\s[^;]*\sfrom\s)/gm)].map((m) => m[0].trim());
    assert.deepEqual(statics, [], "no static import or re-export");
    const dynamics = [...text.matchAll(/\bimport\s*\(\s*([^)]*)\)/g)].map((m) => m[1]);
    assert.deepEqual(dynamics, ['"ws"']);
    assert.doesNotMatch(text, /\brequire\s*\(/);
    assert.doesNotMatch(text, /\bfrom\s*["']/);
  });

  test("it works as a module of its own", async (t) => {
    const mod = await import(pathToFileURL(BUNDLE).href) as typeof import("../src/client/mod.ts");
    assert.equal(typeof mod.connect, "function");
    assert.equal(mod.closeClass(1012), "retry");
    const server = fakeWebSockets();
    const client = mod.connect("ws://fake.test/", { WebSocket: server.WebSocket, pingInterval: 0 });
    t.after(() => client.close());
    const got: unknown[] = [];
    client.addEventListener("message", (e) => got.push(e.data));
    const socket = await server.socket(1);
    socket.open();
    socket.receive({ type: "welcome", rooms: {} });
    socket.receive({ type: "message", room: "r", epoch: "e", id: 1 });
    assert.equal(client.state, "open");
    assert.deepEqual(got, [{ type: "message", room: "r", epoch: "e", id: 1 }]);
    assert.deepEqual(client.position("r"), { epoch: "e", id: 1 });
  });
});
