/**
 * Starts real servers for the conformance tests through the adapter of the
 * runtime the test runs on, on 127.0.0.1 and a free port.
 */
import { currentRuntime, serve, type Routes, type Server } from "../../mod.ts";
import type { Capabilities } from "../../src/core/transport.ts";
import { capabilities as bunCapabilities } from "../../src/adapters/bun/mod.ts";
import { capabilities as denoCapabilities } from "../../src/adapters/deno/mod.ts";
import { connectOrThrow, type RawConnectOptions, type RawWebSocket } from "./raw-client.ts";

/** The runtime running the tests. */
export const runtime: "bun" | "deno" | "node" = currentRuntime();

/** The capabilities of this runtime's adapter, for the commented skips. */
export const capabilities: Capabilities = runtime === "bun"
  ? bunCapabilities
  : runtime === "deno"
  ? denoCapabilities
  : (await import("../../src/adapters/node/mod.ts")).capabilities;

/** A running test server and helpers to reach it. */
export interface TestServer {
  readonly server: Server;
  /** `ws://127.0.0.1:<port><path>`. */
  ws(path: string): string;
  /** `http://127.0.0.1:<port><path>`. */
  http(path: string): string;
  /** Opens a raw client, failing the test unless the upgrade succeeds. */
  connect(path: string, options?: RawConnectOptions): Promise<RawWebSocket>;
  stop(): Promise<void>;
}

/** Starts a server with the routes; stop it in `t.after` or a `finally`. */
export async function startServer(routes: Routes, fetch?: (request: Request) => Response | Promise<Response>): Promise<TestServer> {
  const server = await serve({ port: 0, hostname: "127.0.0.1", routes, fetch });
  const base = `127.0.0.1:${server.port}`;
  let stopped = false;
  return {
    server,
    ws: (path) => `ws://${base}${path}`,
    http: (path) => `http://${base}${path}`,
    connect: (path, options) => connectOrThrow(`ws://${base}${path}`, options),
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

/** Waits until `check()` is true, polling every 5 ms; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function, for events a test waits on. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Rejects if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The standard WebSocket client of this runtime: the global one on Bun and Deno, `ws` on Node 20. */
export async function standardWebSocket(): Promise<typeof WebSocket> {
  if (typeof globalThis.WebSocket === "function") return globalThis.WebSocket;
  return (await import("ws")).WebSocket as unknown as typeof WebSocket;
}
