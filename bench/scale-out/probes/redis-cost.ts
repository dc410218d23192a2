// Redis CPU per command of the scale-out bench's Redis paths, one redis-server of its own (on a free
// port, `--save "" --appendonly no`, pinned to CPU 0), measured by INFO cpu (used_cpu_user +
// used_cpu_sys) around `calls` calls sent `depth` at a time on one connection, each variant
// alternated `rounds` times. Redis CPU-seconds are not wall time: the figures hold on a busy machine.
//
//   node_modules/.bin/bun bench/scale-out/probes/redis-cost.ts [--calls=20000] [--rounds=3] [--depth=64]
//
// --depth=1 sends one call at a time, as the bench does at its rates (each command its own read
// and write on the server); the default keeps 64 in flight (commands pipelined).
//
// The append has the controller defaults (historySize 100, historyTtl 24 h), as in the bench.
// Variants: PUBLISH of an unrecorded envelope (what RedisEngine sends per unrecorded broadcast);
// the APPEND script as it stands (what it runs per recorded broadcast); the same script with its
// INFO server call replaced by a constant run id (what the run-id check costs); and the commands
// socket.io's adapters send per broadcast (PUBLISH; XADD MAXLEN ~ 10000 *), with payloads of the
// same size. One subscriber connection listens to every channel, as one other process would.
import { spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { Redis } from "ioredis";
import { APPEND } from "../../../src/redis/history-scripts.ts";

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const CALLS = arg("calls", 20_000);
const ROUNDS = arg("rounds", 3);
const DEPTH = arg("depth", 64);

const port: number = await new Promise((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const p = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(p));
  });
});
const redis = spawn("taskset", ["-c", "0", "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise<void>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error("redis-server did not start")), 10_000);
  redis.stdout!.on("data", (d: Buffer) => {
    if (d.toString().includes("Ready to accept connections")) {
      clearTimeout(t);
      resolve();
    }
  });
});
const stop = () => {
  try {
    process.kill(redis.pid!, "SIGKILL");
  } catch {
    // gone
  }
};
process.on("exit", stop);

try {
  const client = new Redis({ host: "127.0.0.1", port });
  const sub = new Redis({ host: "127.0.0.1", port });
  await sub.psubscribe("*");
  let received = 0;
  sub.on("pmessageBuffer", () => received++);
  const runId = /run_id:(\w+)/.exec(await client.info("server"))![1]!;
  const withoutInfo = { source: APPEND.source.replace("string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')", `'${runId}'`) };
  if (withoutInfo.source === APPEND.source) throw new Error("the APPEND script no longer calls INFO server as this probe expects");
  const noInfoSha = (await client.script("LOAD", withoutInfo.source)) as string;
  await client.script("LOAD", APPEND.source);

  const text = `@${(12345.678).toFixed(3)}@${"x".repeat(34)}`; // the bench's 48-byte messages
  const cpu = async () => {
    const info = await client.info("cpu");
    const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)![1]);
    return get("used_cpu_user") + get("used_cpu_sys");
  };
  const appendArgs = (i: number) => [
    3, "sb:{bench:bench}:meta", "sb:{bench:bench}:log", "sb:bench:rooms",
    "sb:{bench:bench}:msg", "candidate123", 100, 86_400_000, Date.now(), "T", text, "", "bench", "", "", "proc" + (i & 0),
  ];
  const variants: Record<string, (i: number) => Promise<unknown>> = {
    "PUBLISH (RedisEngine, unrecorded)": () => client.call("PUBLISH", "sb:{bench:bench}:msg", `tprocessid123 \n${text}`),
    "EVALSHA APPEND (RedisEngine, recorded)": (i) => client.call("EVALSHA", APPEND.sha, ...appendArgs(i)),
    "EVALSHA APPEND, run id passed in (no INFO)": (i) => client.call("EVALSHA", noInfoSha, ...appendArgs(i)),
    "PUBLISH (socket.io redis-adapter)": () => client.publish("socket.io#/#bench#", Buffer.alloc(96, 1)),
    "XADD MAXLEN ~ 10000 (socket.io streams adapter)": () => client.xadd("socket.io", "MAXLEN", "~", 10000, "*", "uid", "abcdef", "nsp", "/", "type", "3", "data", Buffer.alloc(80, 1)),
  };
  const results: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call] of Object.entries(variants)) {
      await client.flushall();
      await client.script("LOAD", APPEND.source);
      await client.script("LOAD", withoutInfo.source);
      const c0 = await cpu();
      let i = 0;
      const worker = async () => {
        while (i < CALLS) await call(i++);
      };
      await Promise.all(Array.from({ length: DEPTH }, worker));
      const c1 = await cpu();
      (results[name] ??= []).push(((c1 - c0) * 1e6) / CALLS);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  console.log(`Redis CPU per call, µs (median of ${ROUNDS} rounds of ${CALLS} calls, ${DEPTH} in flight; one pattern subscriber; ${received} messages received)`);
  for (const [name, values] of Object.entries(results)) console.log(`  ${name.padEnd(52)} ${median(values).toFixed(2).padStart(7)}   [${values.map((v) => v.toFixed(2)).join(", ")}]`);
  client.disconnect();
  sub.disconnect();
} finally {
  stop();
}
process.exit(0);
