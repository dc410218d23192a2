/**
 * Self-test for raw-client.ts against the `ws` server, on any runtime:
 *   npx tsx tests/helpers/raw-client.selftest.ts
 *   npx bun tests/helpers/raw-client.selftest.ts
 *   npx deno run -A tests/helpers/raw-client.selftest.ts
 * Not named *.test.ts on purpose: it checks the test tool, not switchboard. Exits 1 on any failure.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { connectOrThrow, rawConnect, RawWebSocket, type HttpRejection } from "./raw-client.ts";

const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
const runtime = g.Bun ? `bun ${g.Bun.version}` : g.Deno ? `deno ${g.Deno.version.deno}` : `node ${process.version}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Server side of one connection, as seen by `ws`. */
interface Peer {
  ws: WebSocket;
  req: IncomingMessage;
  pongs: number;
  closed: Promise<{ code: number; reason: string }>;
}

const waiting: ((peer: Peer) => void)[] = [];
const wss = new WebSocketServer({
  noServer: true,
  handleProtocols: (protocols: Set<string>) => [...protocols][0] ?? false,
});
wss.on("connection", (ws: WebSocket, req: IncomingMessage) => {
  const peer: Peer = {
    ws,
    req,
    pongs: 0,
    closed: new Promise((resolve) => ws.on("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))),
  };
  ws.on("pong", () => peer.pongs++);
  ws.on("error", () => {}); // protocol-error tests make ws emit this; the close code is what we check
  if (req.url !== "/quiet") ws.on("message", (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  waiting.shift()?.(peer);
});

/** Writes a valid 101 followed by `frames`, in a single write. */
function accept101(req: IncomingMessage, socket: Duplex, frames: number[]): void {
  const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
  const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
  socket.write(Buffer.concat([Buffer.from(head), Buffer.from(frames)]));
}

/** Hand-written responses for what `ws` would never send. */
const rawRoutes: Record<string, (req: IncomingMessage, socket: Duplex) => void> = {
  "/reject": (req, socket) => {
    const body = `denied ${req.headers["x-token"]} ✗`;
    socket.write(`HTTP/1.1 401 Unauthorized\r\nX-Reason: nope\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    setTimeout(() => socket.write(body), 20); // body in a later TCP chunk than the head
  },
  "/reject-until-end": (_req, socket) => socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nuntil end"),
  "/reject-chunked": (_req, socket) =>
    socket.write("HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
  "/hang": () => {},
  // `ws` on Bun ignores send({ mask: true }), so the masked server frame is written by hand.
  "/masked": (req, socket) => accept101(req, socket, [0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]),
  "/bad-accept": (_req, socket) =>
    socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n"),
  // One write: 101, a text message in two fragments with a ping between them, and a close frame.
  "/coalesced": (req, socket) => {
    accept101(req, socket, [0x01, 2, ...Buffer.from("ea"), 0x89, 0, 0x80, 3, ...Buffer.from("rly"), 0x88, 2, 0x03, 0xe8]);
    let reply = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => (reply = Buffer.concat([reply, chunk])));
    socket.on("end", () => {
      coalescedReply = reply;
      socket.end();
    });
  },
};
let coalescedReply: Buffer | undefined;
const rawSockets = new Set<Duplex>();

const server = createServer((_req, res) => res.writeHead(426).end());
server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  socket.on("error", () => {});
  const route = rawRoutes[req.url ?? ""];
  if (route) {
    rawSockets.add(socket);
    return route(req, socket);
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Connects and returns both ends. */
async function open(path = "/", protocols?: string[], headers?: Record<string, string>): Promise<[RawWebSocket, Peer]> {
  const peer = new Promise<Peer>((resolve) => waiting.push(resolve));
  const client = await connectOrThrow(base + path, { ...(protocols && { protocols }), ...(headers && { headers }) });
  return [client, await peer];
}

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Patterned bytes, so a reordered or shifted chunk is detected. */
function pattern(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return out;
}

let failures = 0;
async function check(name: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await Promise.race([body(), sleep(30_000).then(() => Promise.reject(new Error("test timed out")))]);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failures++;
    console.log(`FAIL ${name}\n     ${(error as Error).stack ?? error}`);
  }
}

console.log(`raw-client selftest on ${runtime}`);

await check("handshake without and with subprotocols", async () => {
  const [plain] = await open();
  assert.equal(plain.protocol, "");
  assert.equal(plain.responseHeaders["upgrade"]?.toLowerCase(), "websocket");
  plain.destroy();
  const [chat, peer] = await open("/", ["chat.v2", "chat.v1"]);
  assert.equal(chat.protocol, "chat.v2");
  assert.equal(peer.ws.protocol, "chat.v2");
  chat.destroy();
});

await check("text round trip: empty, 1 char, multi-byte UTF-8, 64 KiB", async () => {
  const [client] = await open();
  const texts = ["", "a", "héllo wörld 👋 日本語 ∑", "x".repeat(65536)];
  for (const text of texts) client.sendText(text);
  const got = await client.messages(texts.length);
  assert.deepEqual(got.map((m) => m.kind), texts.map(() => "text"));
  assert.deepEqual(got.map((m) => m.text()), texts);
  client.close(1000);
  await client.closed;
});

await check("binary round trip across 7/16/64-bit length boundaries up to 16 MiB", async () => {
  const [client] = await open();
  for (const size of [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]) {
    const data = pattern(size, size);
    client.sendBinary(data);
    const got = await client.nextMessage(20_000);
    assert.equal(got.kind, "binary");
    assert.equal(got.data.length, size);
    assert.ok(Buffer.from(got.data).equals(Buffer.from(data)), `payload of ${size} bytes differs`);
  }
  assert.equal(client.received, 8);
  client.close(1000);
});

await check("frames in the same TCP chunk as the 101; pong, then close echoed with the same code", async () => {
  const client = await connectOrThrow(base + "/coalesced");
  assert.equal((await client.nextMessage()).text(), "early");
  assert.deepEqual(await client.closed, { code: 1000, reason: "", clean: true });
  assert.equal(client.pings, 1);
  await until(() => coalescedReply !== undefined, "server to see the reply");
  const reply = coalescedReply!;
  assert.equal(reply.length, 6 + 8, "masked empty pong + masked close with a 2-byte code");
  assert.deepEqual([reply[0], reply[1], reply[6], reply[7]], [0x8a, 0x80, 0x88, 0x82]);
  assert.deepEqual([reply[12]! ^ reply[8]!, reply[13]! ^ reply[9]!], [0x03, 0xe8], "code 1000 echoed");
});

await check("fragmented messages from the server with an interleaved ping", async () => {
  const [client, peer] = await open();
  peer.ws.send("hel", { fin: false });
  peer.ws.ping("in-between");
  peer.ws.send("lo 👋", { fin: true });
  peer.ws.send(new Uint8Array([1, 2]), { binary: true, fin: false });
  peer.ws.send(new Uint8Array([3]), { binary: true, fin: true });
  assert.equal((await client.nextMessage()).text(), "hello 👋");
  const binary = await client.nextMessage();
  assert.deepEqual([binary.kind, [...binary.data]], ["binary", [1, 2, 3]]);
  assert.equal(client.pings, 1);
  client.destroy();
});

await check("a masked frame from the server fails the connection", async () => {
  const client = await connectOrThrow(base + "/masked");
  const info = await client.closed;
  assert.deepEqual([info.code, info.clean], [1006, false]);
  assert.match(info.reason, /protocol error: masked frame/);
  assert.equal(client.received, 0);
});

await check("raw frames: client fragments, unmasked frame (1002), invalid UTF-8 (1007)", async () => {
  const [client] = await open();
  client.sendFrame(0x1, Buffer.from("frag"), { fin: false });
  client.ping();
  client.sendFrame(0x0, Buffer.from("mented"));
  assert.equal((await client.nextMessage()).text(), "fragmented");
  await until(() => client.pongs === 1, "pong");
  client.sendFrame(0x1, Buffer.from("plain"), { mask: false });
  assert.equal((await client.closed).code, 1002);
  const [utf8] = await open();
  utf8.sendFrame(0x1, new Uint8Array([0x61, 0xff, 0xfe]));
  assert.equal((await utf8.closed).code, 1007);
});

await check("HTTP rejections: Content-Length, until end, chunked; connectOrThrow", async () => {
  const denied = (await rawConnect(base + "/reject", { headers: { "X-Token": "t0k" } })) as HttpRejection;
  assert.equal(denied.status, 401);
  assert.equal(denied.headers["x-reason"], "nope");
  assert.equal(denied.body, "denied t0k ✗");
  assert.deepEqual(await rawConnect(base + "/reject-until-end"), { status: 403, headers: { connection: "close" }, body: "until end" });
  assert.equal(((await rawConnect(base + "/reject-chunked")) as HttpRejection).body, "hello world");
  await assert.rejects(connectOrThrow(base + "/reject"), /401 denied undefined/);
});

await check("handshake failures: bad accept, timeout, refused", async () => {
  await assert.rejects(rawConnect(base + "/bad-accept"), /Sec-WebSocket-Accept/);
  await assert.rejects(rawConnect(base + "/hang", { timeoutMs: 200 }), /timed out after 200 ms/);
  await assert.rejects(rawConnect("ws://127.0.0.1:1/"), /connecting to/);
});

await check("caller headers replace handshake headers", async () => {
  const badVersion = (await rawConnect(base, { headers: { "Sec-WebSocket-Version": "99" } })) as HttpRejection;
  assert.equal(badVersion.status, 400);
  // The RFC 6455 sample key: the accept check must use the key actually sent.
  const [client, peer] = await open("/", undefined, { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" });
  assert.equal(client.responseHeaders["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert.equal(peer.req.headers["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
  client.destroy();
});

await check("close code and reason in both directions", async () => {
  const [client, peer] = await open();
  peer.ws.close(4001, "server bye ✓");
  assert.deepEqual(await client.closed, { code: 4001, reason: "server bye ✓", clean: true });
  assert.equal((await peer.closed).code, 4001);
  const [second, peer2] = await open();
  second.close(4002, "client bye");
  assert.deepEqual(await peer2.closed, { code: 4002, reason: "client bye" });
  const info = await second.closed;
  assert.equal(info.code, 4002);
  assert.equal(info.clean, true);
  const [third, peer3] = await open();
  third.close();
  assert.equal((await peer3.closed).code, 1005);
  assert.equal((await third.closed).code, 1005);
});

await check("ping/pong counting with autoPong on and off", async () => {
  const [client, peer] = await open();
  client.ping(new Uint8Array([9]));
  client.ping();
  await until(() => client.pongs === 2, "2 pongs");
  for (let i = 0; i < 3; i++) peer.ws.ping();
  await until(() => client.pings === 3 && peer.pongs === 3, "3 pings answered");
  client.autoPong = false;
  peer.ws.ping();
  peer.ws.ping();
  await until(() => client.pings === 5, "5 pings");
  client.sendText("sync"); // echoed only after the server has read everything sent before it
  await client.nextMessage();
  assert.equal(peer.pongs, 3, "no pong while autoPong is off");
  client.pong();
  await until(() => peer.pongs === 4, "manual pong");
  client.close(1000);
});

await check("pause/resume holds back a burst of server sends", async () => {
  const [client, peer] = await open("/quiet");
  client.pause();
  const count = 256;
  for (let i = 0; i < count; i++) peer.ws.send(pattern(64 * 1024, i));
  await sleep(300);
  const backlog = peer.ws.bufferedAmount;
  assert.equal(client.received, 0, "nothing delivered while paused");
  assert.ok(backlog > 0, "TCP backpressure reached the server");
  console.log(`     server bufferedAmount while paused: ${backlog} of ${count * 64 * 1024} bytes`);
  client.resume();
  const got = await client.messages(count, 15_000);
  got.forEach((m, i) => assert.ok(Buffer.from(m.data).equals(Buffer.from(pattern(64 * 1024, i))), `message ${i}`));
  client.close(1000);
});

await check("onMessage bypasses the queue; nextMessage timeout and after-close rejections", async () => {
  const [client, peer] = await open("/quiet");
  let seen = 0;
  client.onMessage = (message) => void (seen += message.data.length === 1 ? 1 : 0);
  for (let i = 0; i < 1000; i++) peer.ws.send(new Uint8Array([i & 0xff]));
  await until(() => seen === 1000, "1000 callbacks");
  assert.equal(client.received, 1000);
  await assert.rejects(client.nextMessage(50), /no message within 50 ms \(1000 received so far\)/);
  const pending = client.nextMessage(5000);
  peer.ws.terminate(); // TCP ends without a close frame
  await assert.rejects(pending, /connection closed \(1006/);
  assert.equal((await client.closed).code, 1006);
  await assert.rejects(client.nextMessage(), /already closed/);
});

await check("destroy() drops TCP without a close frame", async () => {
  const [client, peer] = await open();
  client.destroy();
  assert.equal((await peer.closed).code, 1006);
  assert.deepEqual(await client.closed, { code: 1006, reason: "", clean: false });
});

for (const socket of rawSockets) socket.destroy();
for (const ws of wss.clients) ws.terminate();
server.close();
console.log(failures ? `${failures} check(s) FAILED on ${runtime}` : `all checks passed on ${runtime}`);
process.exit(failures ? 1 : 0);
