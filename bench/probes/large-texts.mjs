// Server CPU of echoing large text messages: switchboard at one or more source trees against the
// raw runtime, on Bun, Deno and Node.
//
//   node bench/probes/large-texts.mjs [options] <name>=<dir or git revision> ...
//   node bench/probes/large-texts.mjs --reps=3 before=34575a2 after=.
//
// Trees are given as for idle-heap/compare.mjs (a directory, or a git revision checked out in a
// temporary worktree removed at the end; see trees.mjs). The server (large-texts-server.ts) runs
// pinned to CPU 0; the client, this file run with --client, on CPU 1. For every size and both
// texts (ascii: one byte per character; mixed: 1, 2, 3 and 4-byte characters in turn) the client
// sends a warm-up, then --counts messages one at a time, each after the echo of the one before,
// and reads the server's utime+stime from /proc/<pid>/stat before and after. Every message differs
// from the one before in its first 8 bytes, and each echo's length is checked (the first one's
// bytes too). Options:
//   --reps=3                repetitions; the variants run interleaved, reversed every other rep
//   --runtimes=bun,deno,node
//   --texts=ascii,mixed
//   --counts=64k:20000,1m:1600,16m:80  sizes (k = KiB, m = MiB) and messages measured per size
//   --node-raw-string=yes   on Node, a second baseline "raw-string": ws decodes each text to a
//                           string and sends the string (bench's raw echoes ws's Buffer untouched)
//   --timeout-min=60        no server starts after this
// Output: Markdown tables of server CPU per message (median over reps) and its ratio to raw
// (median of the per-rep ratios); raw data to .tmp/probes/large-texts/results-<time>.jsonl.
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { REPO_DIR } from "../lib/plan.mjs";
import { Child, commandOutput, killAll, processTicks } from "../lib/procs.mjs";
import { median } from "../lib/stats.mjs";
import { OP_TEXT, WsConn } from "../load/wire.mjs";
import { parseOptions, parseTreeArgs, prepareVariants } from "./trees.mjs";

const SELF = fileURLToPath(import.meta.url);
const HERE = path.dirname(SELF);
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const CLK_TCK = Number(commandOutput("getconf", ["CLK_TCK"]) ?? 100);

const { options, rest } = parseOptions(process.argv.slice(2), {
  client: "",
  port: "",
  "server-pid": "",
  reps: "3",
  runtimes: "bun,deno,node",
  texts: "ascii,mixed",
  counts: "64k:20000,1m:1600,16m:80",
  "node-raw-string": "yes",
  "timeout-min": "60",
});
const texts = options.texts.split(",");
const cells = options.counts.split(",").map((spec) => {
  const m = /^(\d+)([km])?:(\d+)$/i.exec(spec);
  if (!m) throw new Error(`bad --counts entry: ${spec}`);
  const bytes = Number(m[1]) * (m[2]?.toLowerCase() === "m" ? 1 << 20 : m[2] ? 1 << 10 : 1);
  return { label: `${m[1]}${m[2] ? (m[2].toLowerCase() === "m" ? " MiB" : " KiB") : " B"}`, bytes, count: Number(m[3]) };
});

if (options.client) await runClient();
else await runDriver();

// --- Client (CPU 1): one connection, every cell in turn, one RESULT line per cell -------------------

/** `bytes` of valid UTF-8: 8 ASCII digits (the message number), then the text's characters. */
function payload(text, bytes) {
  const out = Buffer.alloc(bytes, 0x61);
  // ascii: a-z; mixed: "a" "é" "€" "😀" (1+2+3+4 bytes), whole groups only, then "a" to the end.
  const unit = Buffer.from(text === "ascii" ? "abcdefghijklmnopqrstuvwxyz" : "aé€😀", "utf8");
  let at = 8;
  while (at + unit.length <= bytes) {
    unit.copy(out, at);
    at += unit.length;
  }
  return out;
}

/** A masked text frame of `data`, with a fixed mask, so that its first bytes can be rewritten. */
function maskedFrame(data, mask) {
  const len = data.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + len);
  frame[0] = 0x80 | OP_TEXT;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(len, 6);
  }
  mask.copy(frame, head);
  const off = head + 4;
  for (let i = 0; i < len; i++) frame[off + i] = data[i] ^ mask[i & 3];
  return { frame, off };
}

async function runClient() {
  const port = Number(options.port);
  const serverPid = Number(options["server-pid"]);
  const conn = new WsConn(0);
  let waiting = null;
  conn.onMessage = (_c, op, captured, len) => waiting?.(op, captured, len);
  conn.onEnd = () => waiting?.(-1, null, 0);
  await new Promise((resolve, reject) => {
    conn.onOpen = resolve;
    conn.onEnd = () => reject(conn.error ?? new Error("closed before open"));
    conn.connect("127.0.0.1", port, "/echo");
  });
  conn.onEnd = () => waiting?.(-1, null, 0);

  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  for (const text of texts) {
    for (const cell of cells) {
      const data = payload(text, cell.bytes);
      const { frame, off } = maskedFrame(data, mask);
      const bytesBefore = () => conn.bytes;
      /** Sends message `n` and resolves when its echo is in; checks its length (and bytes if captured). */
      const roundTrip = (n) =>
        new Promise((resolve, reject) => {
          const digits = String(n % 1e8).padStart(8, "0");
          for (let i = 0; i < 8; i++) frame[off + i] = digits.charCodeAt(i) ^ mask[i & 3];
          const start = bytesBefore();
          const timer = setTimeout(() => reject(new Error(`no echo of ${cell.label} ${text} #${n} in 60 s`)), 60_000);
          waiting = (op, captured, len) => {
            clearTimeout(timer);
            waiting = null;
            if (op !== OP_TEXT) return reject(new Error(`echo #${n}: opcode ${op} (close code ${conn.closeCode || "none"})`));
            if (conn.bytes - start !== cell.bytes) return reject(new Error(`echo #${n}: ${conn.bytes - start} bytes, sent ${cell.bytes}`));
            if (captured) {
              data.write(digits, 0, "latin1");
              if (captured.length === cell.bytes && !data.equals(captured)) return reject(new Error(`echo #${n}: bytes differ`));
            }
            resolve(len);
          };
          conn.write(frame);
        });
      // Warm-up (not measured); the first echo is captured and compared byte for byte.
      const warmup = Math.max(3, Math.round(cell.count / 10));
      for (let n = 0; n < warmup; n++) {
        conn.captureMax = n === 0 ? cell.bytes : 0;
        await roundTrip(n);
      }
      conn.captureMax = 0;
      const ticks0 = processTicks(serverPid);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let n = warmup; n < warmup + cell.count; n++) await roundTrip(n);
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const ticks = processTicks(serverPid) - ticks0;
      const result = { text, size: cell.label, bytes: cell.bytes, count: cell.count, serverMs: (ticks * 1000) / CLK_TCK, wallMs, clientMs: (cpu.user + cpu.system) / 1000 };
      process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    }
  }
  conn.sendClose(1000);
  process.stdout.write("DONE\n");
  setTimeout(() => process.exit(0), 200);
}

// --- Driver: variants, servers, clients, tables -------------------------------------------------------

async function runDriver() {
  const trees = parseTreeArgs(rest);
  if (trees.length === 0) throw new Error("give at least one tree: name=<dir or revision>");
  const runtimes = options.runtimes.split(",");
  const reps = Number(options.reps);
  const deadline = Date.now() + Number(options["timeout-min"]) * 60_000;
  const outDir = path.join(REPO_DIR, ".tmp", "probes", "large-texts");
  mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, `results-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`);
  process.on("SIGINT", async () => {
    await killAll();
    process.exit(130); // the exit handler of trees.mjs removes the worktrees
  });

  const { variants: prepared, cleanup } = await prepareVariants(trees, { probe: "large-texts", serverModule: path.join(HERE, "large-texts-server.ts"), runtimes });
  const raw = prepared[0];
  /** Per runtime: raw, [raw-string on Node], then the trees in order. */
  const plan = (runtime) => [
    { name: "raw", cmd: raw.cmd[runtime], cwd: raw.cwd },
    ...(runtime === "node" && options["node-raw-string"] === "yes" ? [{ name: "raw-string", cmd: [...raw.cmd.node, "--raw=string"], cwd: raw.cwd }] : []),
    ...prepared.slice(1).map((v) => ({ name: v.name, cmd: v.cmd[runtime], cwd: v.cwd })),
  ];
  const results = []; // { runtime, variant, rep, text, size, count, serverMs, ... }
  try {
    console.error(`large-texts: ${reps} reps, ${runtimes.join(",")}; raw data in ${path.relative(REPO_DIR, outFile)}`);
    for (const v of prepared.slice(1)) console.error(`  ${v.name}: ${v.label}`);
    outer: for (let rep = 1; rep <= reps; rep++) {
      for (const runtime of runtimes) {
        const order = plan(runtime);
        for (const variant of rep % 2 ? order : [...order].reverse()) {
          if (Date.now() > deadline) {
            console.error("timeout: no more servers");
            break outer;
          }
          try {
            for (const r of await trial(runtime, variant)) {
              const record = { runtime, variant: variant.name, rep, ...r };
              results.push(record);
              appendFileSync(outFile, JSON.stringify(record) + "\n");
              console.error(`${runtime} ${variant.name} rep ${rep} ${r.text} ${r.size}: ${((r.serverMs * 1000) / r.count).toFixed(0)} µs/msg server (${(r.serverMs / 1000).toFixed(2)} s over ${r.count}), wall ${(r.wallMs / 1000).toFixed(1)} s`);
            }
          } catch (error) {
            console.error(`${runtime} ${variant.name} rep ${rep}: FAILED ${error.message}`);
          }
        }
      }
    }
  } finally {
    await killAll();
    cleanup();
  }
  printTables(results, runtimes, plan);
}

async function trial(runtime, variant) {
  const server = new Child(variant.cmd, { cpu: SERVER_CPU, cwd: variant.cwd, name: `${runtime} ${variant.name} server` });
  let client;
  try {
    const port = Number((await server.waitFor(/^READY (\d+)/, 60_000))[1]);
    client = new Child([process.execPath, SELF, "--client=yes", `--port=${port}`, `--server-pid=${server.pid}`, `--texts=${options.texts}`, `--counts=${options.counts}`], { cpu: CLIENT_CPU, cwd: REPO_DIR, name: "client" });
    const out = [];
    const off = client.onLine((line) => {
      if (line.startsWith("RESULT ")) out.push(JSON.parse(line.slice(7)));
    });
    try {
      await client.waitFor(/^DONE/, 20 * 60_000);
    } finally {
      off();
    }
    return out;
  } finally {
    // Server first, so the TIME_WAIT socket stays on its throwaway port.
    await server.kill();
    if (client) await client.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function printTables(results, runtimes, plan) {
  const find = (runtime, variant, rep, text, size) => results.find((r) => r.runtime === runtime && r.variant === variant && r.rep === rep && r.text === text && r.size === size);
  const perMsg = (r) => (r.serverMs * 1000) / r.count; // µs
  for (const runtime of runtimes) {
    const variants = plan(runtime).map((v) => v.name);
    const compared = variants.filter((v) => v !== "raw");
    console.log(`\n${runtime}: server CPU per echoed message, µs (median of reps) and × raw (median of per-rep ratios)\n`);
    console.log(`| text | size | ${variants.join(" | ")} | ${compared.map((v) => `${v} × raw`).join(" | ")} |`);
    console.log(`|---|---|${variants.map(() => "---:").join("|")}|${compared.map(() => "---:").join("|")}|`);
    for (const text of texts) {
      for (const cell of cells) {
        const reps = [...new Set(results.map((r) => r.rep))];
        const micros = variants.map((v) => median(reps.map((rep) => find(runtime, v, rep, text, cell.label)).filter(Boolean).map(perMsg)));
        const ratios = compared.map((v) =>
          median(reps.map((rep) => {
            const mine = find(runtime, v, rep, text, cell.label);
            const base = find(runtime, "raw", rep, text, cell.label);
            return mine && base && base.serverMs > 0 ? mine.serverMs / mine.count / (base.serverMs / base.count) : null;
          }).filter((x) => x !== null))
        );
        const us = (x) => (x === null ? "–" : x >= 100 ? x.toFixed(0) : x.toFixed(1));
        console.log(`| ${text} | ${cell.label} | ${micros.map(us).join(" | ")} | ${ratios.map((x) => (x === null ? "–" : `${x.toFixed(2)}×`)).join(" | ")} |`);
      }
    }
  }
}
