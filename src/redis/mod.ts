/**
 * `switchboard/redis`: an engine that carries controllers across processes
 * on Redis (7.0 or later). Pass an ioredis client; controllers of the same
 * name on every process that uses the same Redis are one endpoint.
 *
 * @example
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { serve, WebSocketController } from "switchboard";
 * import { RedisEngine } from "switchboard/redis";
 *
 * const engine = new RedisEngine({ client: new Redis(process.env.REDIS_URL!) });
 * class Chat extends WebSocketController {}
 * await serve({ port: 8080, routes: { "/chat": new Chat({ name: "chat", engine }) } });
 * ```
 *
 * @module
 */
export { RedisEngine } from "./engine.ts";
export type { RedisEngineOptions } from "./engine.ts";
export type { RedisArgument, RedisClient, RedisStatus } from "./client.ts";
export { RedisDedupe } from "./dedupe.ts";
export type { RedisDedupeOptions } from "./dedupe.ts";
