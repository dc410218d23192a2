/**
 * Engines for the Redis tests: a RedisEngine on an ioredis client that
 * retries fast (so that outages and recoveries show within a test), and the
 * Feed controller of the catch-up tests served with it, as one "process".
 */
import { Redis } from "ioredis";
import { Redis as Valkey } from "iovalkey";
import type { TestContext } from "node:test";
import { RedisEngine, type RedisEngineOptions } from "../../src/redis/mod.ts";
import { Feed } from "./feed.ts";
import { startServer, type TestServer, within } from "./server.ts";

/** The client libraries the engine is tested with: ioredis, and iovalkey (its fork). */
export type ClientLibrary = "ioredis" | "iovalkey";

/** A client to 127.0.0.1:`port` that reconnects every 50 ms. */
export function fastClient(port: number, library: ClientLibrary = "ioredis"): Redis {
  const options = { host: "127.0.0.1", port, maxRetriesPerRequest: 1, retryStrategy: () => 50, connectTimeout: 1_000 };
  // iovalkey's class is ioredis's under another name; typed as ioredis's for the tests' sake.
  const client = library === "iovalkey" ? (new Valkey(options) as unknown as Redis) : new Redis(options);
  client.on("error", () => {}); // outages are what these tests make; without a listener ioredis logs each error
  return client;
}

/** A Feed that also records `n` when a client sends the text `n`, and joins with no catch-up at `?plain`. */
export class RelayFeed extends Feed {
  override onConnect(conn: Parameters<Feed["onConnect"]>[0]): Promise<void> {
    if (!conn.request.query.has("plain")) return super.onConnect(conn);
    conn.join("feed");
    return Promise.resolve();
  }
  override async onTextMessage(_conn: unknown, text: string): Promise<void> {
    await this.send(Number(text));
  }
}

/** One process's side of the endpoint: its engine, its controller, its server. */
export interface EngineProcess {
  readonly engine: RedisEngine;
  readonly feed: RelayFeed;
  readonly server: TestServer;
  readonly client: Redis;
  stop(): Promise<void>;
}

/** Serves a RelayFeed named "feed" on a RedisEngine on `port` (and `subscriberPort` for the subscriber, a proxy say). */
export async function startEngineProcess(
  t: TestContext,
  port: number,
  options: Partial<Omit<RedisEngineOptions, "client" | "subscriber">> & { subscriberPort?: number; historySize?: number; library?: ClientLibrary } = {},
): Promise<EngineProcess> {
  const client = fastClient(port, options.library);
  const subscriber = options.subscriberPort === undefined ? undefined : fastClient(options.subscriberPort, options.library);
  const engine = new RedisEngine({ client, subscriber, degradedGrace: options.degradedGrace, commandTimeout: options.commandTimeout ?? 2_000 });
  // The first "up" comes once the channels are subscribed, a moment after `state` says "up": waited for, so that a
  // test's own listeners see only what happens later.
  const up = new Promise<void>((resolve) => engine.addEventListener("up", () => resolve(), { once: true }));
  const feed = new RelayFeed({ name: "feed", engine, historySize: options.historySize ?? 2_000 });
  const server = await startServer({ "/feed": feed });
  await within(up, 5_000, "the engine to be up");
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
    await engine.close();
    subscriber?.disconnect();
    client.disconnect();
  };
  t.after(stop);
  return { engine, feed, server, client, stop };
}
