// The load generator: one process (Bun by default), pinned by the runner to the core the server
// does not use. It reads its job from the BENCH_CONFIG environment variable (JSON), drives one
// scenario against one server, reads the server's CPU time and RSS from /proc/<pid> itself, and
// prints one line "RESULT <json>". When it needs the server to collect garbage it prints
// "SYNC gc" and waits for "GO" on stdin (the runner owns the server's stdin).
//
// Every loop is bounded in count and in time; on EOF of stdin (runner gone) it exits.
import { readFileSync } from "node:fs";
import process from "node:process";
import { onRunnerLines } from "../lib/stdin.mjs";
import { concat, clientFrame, OP_TEXT, WsConn, openConnection } from "./wire.mjs";

const config = JSON.parse(process.env.BENCH_CONFIG ?? "{}");
const HOST = config.host ?? "127.0.0.1";
const PORT = config.port;
const PID = config.serverPid;
const CLK_TCK = config.clkTck ?? 100;
const PAGE = config.pageSize ?? 4096;
const EIO = config.proto === "eio";
const P = config.params ?? {};

// --- Runner link ------------------------------------------------------------------------------

const goWaiters = [];
onRunnerLines((line) => {
  if (line === "GO" || line.startsWith("GO ")) goWaiters.shift()?.(line.slice(3));
});

/**
 * Asks the runner to run `what` on the server (e.g. a forced GC) and waits for it; resolves with
 * what the server reported, as { key: number } from "key=value" pairs (heapUsed, external).
 */
function sync(what, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runner did not answer SYNC ${what}`)), timeoutMs);
    goWaiters.push((payload) => {
      clearTimeout(timer);
      const info = {};
      for (const [, k, v] of payload.matchAll(/(\w+)=(\d+)/g)) info[k] = Number(v);
      resolve(info);
    });
    process.stdout.write(`SYNC ${what}\n`);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- /proc ------------------------------------------------------------------------------------

/** utime + stime of the server, in clock ticks (all threads). */
function cpuTicks() {
  const stat = readFileSync(`/proc/${PID}/stat`, "latin1");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Resident set size of the server, in bytes. */
function rss() {
  return Number(readFileSync(`/proc/${PID}/statm`, "latin1").split(" ")[1]) * PAGE;
}

function hwm() {
  const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${PID}/status`, "latin1"));
  return m ? Number(m[1]) * 1024 : 0;
}

async function settledRss(samples = 3, gapMs = 150) {
  const values = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(gapMs);
    values.push(rss());
  }
  return median(values);
}

/** Least-squares slope of RSS over cycles, in bytes per 1,000 cycles (null under 2 points). */
function slope(points) {
  if (points.length < 2) return null;
  const mx = points.reduce((a, p) => a + p.cycles, 0) / points.length;
  const my = points.reduce((a, p) => a + p.rss, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.cycles - mx) * (p.rss - my);
    den += (p.cycles - mx) ** 2;
  }
  return den ? (num / den) * 1000 : null;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// --- Protocol: plain WebSocket or Engine.IO (socket.io) -----------------------------------------

function fanoutPath(name) {
  return EIO ? `/socket.io/?EIO=4&transport=websocket&name=${name}` : `/fanout?name=${name}`;
}

function echoPath() {
  return EIO ? `/socket.io/?EIO=4&transport=websocket` : "/echo";
}

/** What a client sends for one chat message. */
function chatOut(text) {
  return EIO ? `42${JSON.stringify(["chat", text])}` : text;
}

/** What every client receives for it. */
function chatIn(name, text) {
  const line = `${name}: ${text}`;
  return EIO ? `42${JSON.stringify(["chat", line])}` : line;
}

function echoOut(text) {
  return EIO ? `42${JSON.stringify(["echo", text])}` : text;
}

const utf8 = new TextEncoder();
const byteLength = (s) => utf8.encode(s).length;

/** Opens one connection, ready to carry messages; see `openConnection`. */
function open(index, path, timeoutMs = 10_000) {
  return openConnection({ index, host: HOST, port: PORT, path, eio: EIO, timeoutMs });
}

/** Opens `count` connections in waves (bounded concurrency), `pathOf(i)` each. */
async function openMany(first, count, pathOf, wave = 250) {
  const conns = [];
  for (let at = 0; at < count; at += wave) {
    const batch = [];
    for (let i = at; i < Math.min(count, at + wave); i++) batch.push(open(first + i, pathOf(first + i)));
    conns.push(...(await Promise.all(batch)));
  }
  return conns;
}

// --- Fan-out driver ---------------------------------------------------------------------------

// Short chat lines of 3 to 28 characters, as in Bun's chat benchmark.
const LINES = [
  "hi", "hello there", "how are you?", "fine, thanks", "what's new", "not much", "ok", "see you later",
  "good morning everyone", "lunch?", "yes", "no", "maybe tomorrow", "brb", "back", "did you see the game",
  "that was close", "agreed", "lol", "deploying now", "tests are green", "ship it", "rollback!", "all good",
  "coffee time", "meeting in 5", "on my way", "running late, sorry", "np", "thanks a lot",
  "can you review my PR please", "done", "looks good to me", "one small nit", "fixed", "merged",
  "weekend plans?", "hiking", "sounds fun", "bring snacks", "will do", "night all", "gn",
  "happy friday", "same to you", "who broke the build?", "not me", "it was the cache", "classic", "bye",
];

/**
 * Closed-loop fan-out: every sender writes its batch (one buffer of masked frames); when every
 * receiver has every message of the batch (checked by count and payload bytes), the next batch
 * starts at once. Progress is counted per read, not per frame.
 */
class FanoutDriver {
  constructor(receivers, senders) {
    this.receivers = receivers;
    this.senders = senders;
    this.perReceiver = senders.reduce((n, s) => n + s.count, 0);
    this.bytesPerReceiver = senders.reduce((n, s) => n + s.expectBytes, 0);
    this.batchTarget = this.perReceiver * receivers.length;
    this.received = 0;
    this.batchReceived = 0;
    this.batches = 0;
    this.running = false;
    this.error = null;
    this.bytesAtBatch = 0;
    this.lastProgress = 0;
    this.lastCount = -1;
    for (const conn of receivers) {
      conn.seen = conn.msgs;
      conn.onData = (c) => this.progress(c);
    }
  }

  progress(conn) {
    const delta = conn.msgs - conn.seen;
    if (delta === 0) return;
    conn.seen = conn.msgs;
    this.received += delta;
    this.batchReceived += delta;
    if (this.batchReceived >= this.batchTarget) this.batchDone();
  }

  batchDone() {
    let bytes = 0;
    for (const conn of this.receivers) bytes += conn.bytes;
    const expected = this.bytesPerReceiver * this.receivers.length;
    if (this.batchReceived !== this.batchTarget || bytes - this.bytesAtBatch !== expected) {
      this.fail(
        `batch ${this.batches}: received ${this.batchReceived} messages / ${bytes - this.bytesAtBatch} bytes, ` +
          `expected ${this.batchTarget} / ${expected}`,
      );
      return;
    }
    this.batches++;
    this.bytesAtBatch = bytes;
    this.batchReceived = 0;
    if (this.running) this.sendBatch();
  }

  sendBatch() {
    for (const s of this.senders) s.conn.write(s.batch);
  }

  start() {
    this.running = true;
    for (const conn of this.receivers) this.bytesAtBatch += conn.bytes;
    this.lastProgress = performance.now();
    this.watch = setInterval(() => this.checkStall(), 200);
    this.sendBatch();
  }

  stop() {
    this.running = false;
    clearInterval(this.watch);
    for (const conn of this.receivers) conn.onData = null;
  }

  checkStall() {
    const now = performance.now();
    if (this.received !== this.lastCount) {
      this.lastCount = this.received;
      this.lastProgress = now;
      return;
    }
    if (now - this.lastProgress > (P.stallMs ?? 3000)) {
      const lost = this.receivers.filter((c) => c.ended).length;
      this.fail(`stalled: batch ${this.batches} has ${this.batchReceived}/${this.batchTarget} messages, ${lost} receivers closed`);
    }
  }

  fail(message) {
    this.error ??= message;
    this.stop();
  }

  snapshot() {
    return { t: performance.now(), received: this.received, ticks: cpuTicks() };
  }
}

/** Sender `conn` named `name` sends `count` lines per batch, starting at line `offset`. */
function chatSender(conn, name, count, offset, textOf = (i) => LINES[i % LINES.length]) {
  const frames = [];
  let expectBytes = 0;
  for (let i = 0; i < count; i++) {
    const text = textOf(offset + i);
    frames.push(clientFrame(OP_TEXT, chatOut(text)));
    expectBytes += byteLength(chatIn(name, text));
  }
  return { conn, count, expectBytes, batch: concat(frames) };
}

/** Warm-up, then `windows` windows of `windowMs`; returns per-window and overall figures. */
async function measure(driver, { warmupMs, windowMs, windows, onWindow }) {
  await sleep(warmupMs);
  if (driver.error) throw new Error(driver.error);
  const snaps = [driver.snapshot()];
  for (let w = 0; w < windows; w++) {
    await sleep(windowMs);
    if (driver.error) throw new Error(driver.error);
    snaps.push(driver.snapshot());
    onWindow?.();
  }
  return summarise(snaps, driver.receivers.length);
}

function summarise(snaps, receivers) {
  const rates = [];
  for (let i = 1; i < snaps.length; i++) {
    rates.push(((snaps[i].received - snaps[i - 1].received) * 1000) / (snaps[i].t - snaps[i - 1].t));
  }
  const first = snaps[0];
  const last = snaps[snaps.length - 1];
  const seconds = (last.t - first.t) / 1000;
  const cpuSeconds = (last.ticks - first.ticks) / CLK_TCK;
  const delivered = last.received - first.received;
  return {
    windowRates: rates.map(Math.round),
    msgsPerSec: median(rates),
    delivered,
    seconds,
    serverCpu: cpuSeconds / seconds,
    msgsPerCpuSec: cpuSeconds > 0 ? delivered / cpuSeconds : null,
    perReceiverPerSec: median(rates) / receivers,
  };
}

// --- Scenarios --------------------------------------------------------------------------------

const scenarios = {
  /** 1. Chat fan-out: N clients each send M lines per batch; the server broadcasts to all. */
  async fanout() {
    const n = P.clients;
    const conns = await openMany(0, n, (i) => fanoutPath(`c${i}`));
    const m = P.msgsPerBatch;
    const senders = conns.map((c, i) => chatSender(c, `c${i}`, m, i * 7));
    const driver = new FanoutDriver(conns, senders);
    const rss0 = rss();
    driver.start();
    const result = await measure(driver, P);
    driver.stop();
    return { ...result, clients: n, msgsPerBatch: m, batches: driver.batches, rssBefore: rss0, rssAfter: rss(), rssPeak: hwm() };
  },

  /** 2. Server-originated broadcast: one producer, K subscribers; every message goes to all. */
  async broadcast() {
    const k = P.subscribers;
    const conns = await openMany(0, k + 1, (i) => fanoutPath(i === 0 ? "p" : `s${i}`));
    const m = P.msgsPerBatch;
    const driver = new FanoutDriver(conns, [chatSender(conns[0], "p", m, 0)]);
    const rss0 = rss();
    driver.start();
    const result = await measure(driver, P);
    driver.stop();
    return { ...result, subscribers: k, msgsPerBatch: m, batches: driver.batches, rssBefore: rss0, rssAfter: rss(), rssPeak: hwm() };
  },

  /** 3. Echo latency: C clients in closed loop, one message in flight each. */
  async echo() {
    const c = P.clients;
    const conns = await openMany(0, c, () => echoPath());
    const text = "x".repeat(P.size);
    const frame = clientFrame(OP_TEXT, echoOut(text));
    const expectLen = byteLength(echoOut(text));
    const perClient = Math.ceil(P.samples / c);
    const warm = Math.ceil(P.warmup / c);
    const rtts = new Float64Array(perClient * c);
    let recorded = 0;
    let active = c;
    let error = null;
    const deadline = performance.now() + P.maxMs;
    let finish;
    const finished = new Promise((resolve) => (finish = resolve));
    for (const conn of conns) {
      conn.left = warm + perClient;
      conn.onMessage = (cn, _op, _cap, len) => {
        const now = performance.now();
        if (len !== expectLen) {
          error ??= `echo of ${len} bytes, expected ${expectLen}`;
        } else if (cn.left-- <= perClient) {
          rtts[recorded++] = now - cn.sentAt;
        }
        if (cn.left > 0 && error === null && now < deadline) {
          cn.sentAt = performance.now();
          cn.write(frame);
        } else if (--active === 0) {
          finish();
        }
      };
      conn.onEnd = () => {
        error ??= "connection closed during the echo run";
        finish();
      };
    }
    const guard = setTimeout(finish, P.maxMs + 2000);
    const t0 = performance.now();
    const ticks0 = cpuTicks();
    for (const conn of conns) {
      conn.sentAt = performance.now();
      conn.write(frame);
    }
    await finished;
    clearTimeout(guard);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (cpuTicks() - ticks0) / CLK_TCK;
    if (error) throw new Error(error);
    const sorted = rtts.subarray(0, recorded).sort();
    const pct = (q) => (recorded ? sorted[Math.min(recorded - 1, Math.floor(q * recorded))] * 1000 : null);
    return {
      clients: c,
      size: P.size,
      samples: recorded,
      p50: pct(0.5),
      p90: pct(0.9),
      p99: pct(0.99),
      max: recorded ? sorted[recorded - 1] * 1000 : null,
      unit: "us",
      timedOut: recorded < perClient * c,
      serverCpu: cpu / seconds,
      roundTripsPerSec: (recorded / seconds),
    };
  },

  /** 4. Idle memory per connection, after forced GC, measured as a slope from a small base. */
  async memory() {
    const base = P.base;
    const conns = await openMany(0, base, () => echoPath());
    const points = [];
    const measurePoint = async (count) => {
      await sleep(P.settleMs);
      const heap = await sync("gc");
      await sleep(P.settleMs);
      const point = { connections: count, rss: await settledRss(3, P.sampleGapMs ?? 200), heapUsed: heap.heapUsed ?? null, closed: conns.filter((c) => c.ended).length };
      points.push(point);
      return point;
    };
    const first = await measurePoint(base);
    const results = [];
    for (const size of P.sizes) {
      const more = await openMany(conns.length, size - conns.length, () => echoPath());
      conns.push(...more);
      const p = await measurePoint(size);
      results.push({
        connections: size,
        rss: p.rss,
        bytesPerConn: (p.rss - first.rss) / (size - base),
        // The JS heap alone (no allocator slack, no native socket state): precise, for diagnosis.
        heapPerConn: p.heapUsed !== null && first.heapUsed !== null ? (p.heapUsed - first.heapUsed) / (size - base) : null,
      });
    }
    const rssBase = first.rss;
    const closed = conns.filter((c) => c.ended).length;
    if (closed > 0) throw new Error(`${closed} idle connections were closed by the server during the run`);
    return { base, rssBase, points, sizes: results };
  },

  /** 5. Churn: open, one echo, close; `concurrency` at a time, RSS after GC at checkpoints. */
  async churn() {
    const total = P.cycles;
    const every = P.checkpointEvery;
    const openLat = new Float64Array(total);
    let opened = 0;
    let ok = 0;
    let failed = 0;
    let firstError = null;
    let activeMs = 0;
    let ticks = 0;
    const text = "hello";
    const frame = clientFrame(OP_TEXT, echoOut(text));
    const expectLen = byteLength(echoOut(text));
    const checkpoints = [];

    const cycle = () =>
      new Promise((resolve) => {
        const conn = new WsConn(0);
        const t0 = performance.now();
        let echoed = false;
        let settled = false;
        const settle = (good, why) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (good) ok++;
          else {
            failed++;
            firstError ??= why;
          }
          resolve();
        };
        const timer = setTimeout(() => {
          conn.destroy();
          settle(false, echoed ? "no close from the server" : "timeout");
        }, P.cycleTimeoutMs);
        const ready = () => {
          openLat[opened++] = performance.now() - t0;
          conn.write(frame);
        };
        if (EIO) {
          conn.eio = true;
          conn.captureMax = 512;
        } else {
          conn.onOpen = ready;
        }
        conn.onMessage = (c, _op, cap, len) => {
          if (EIO && cap !== null && cap[0] === 48 && cap[1] === 123) {
            c.write(EIO_CONNECT);
            return;
          }
          if (EIO && cap !== null && len > 1 && cap[0] === 52 && cap[1] === 48) {
            ready();
            return;
          }
          if (len !== expectLen || echoed) return;
          echoed = true;
          c.sendClose(1000);
        };
        // The server answers the close frame and closes TCP first; if it does not, stop waiting.
        conn.onCloseFrame = (c) => setTimeout(() => c.destroy(), 1000);
        conn.onEnd = (c) => settle(echoed, c.error?.message ?? "closed before the echo");
        conn.connect(HOST, PORT, echoPath());
      });

    let started = 0;
    const worker = async (limit) => {
      while (started < limit) {
        started++;
        await cycle();
      }
    };
    for (let done = 0; done < total;) {
      const limit = Math.min(total, done + every);
      const t0 = performance.now();
      const k0 = cpuTicks();
      const workers = [];
      for (let w = 0; w < P.concurrency; w++) workers.push(worker(limit));
      await Promise.all(workers);
      activeMs += performance.now() - t0;
      ticks += cpuTicks() - k0;
      done = ok + failed;
      if (done < limit) throw new Error(`churn made no progress at ${done} cycles`);
      await sleep(P.settleMs);
      await sync("gc");
      await sleep(P.settleMs);
      checkpoints.push({ cycles: done, rss: await settledRss(3, P.sampleGapMs ?? 150) });
      if (failed > total * 0.01) break;
    }
    const lat = openLat.subarray(0, opened).sort();
    const q = (x) => (opened ? lat[Math.min(opened - 1, Math.floor(x * opened))] : null);
    const first = checkpoints[0];
    const last = checkpoints[checkpoints.length - 1];
    if (failed > 0 && ok === 0) throw new Error(`every churn cycle failed: ${firstError}`);
    return {
      cycles: ok + failed,
      ok,
      failed,
      firstError,
      connsPerSec: ((ok + failed) * 1000) / activeMs,
      openP50ms: q(0.5),
      openP99ms: q(0.99),
      serverCpu: ticks / CLK_TCK / (activeMs / 1000),
      connsPerCpuSec: ticks > 0 ? (ok + failed) / (ticks / CLK_TCK) : null,
      checkpoints,
      rssDrift: last.rss - first.rss,
      lateSlopePer1000: slope(checkpoints.slice(Math.floor(checkpoints.length / 2))),
    };
  },

  /**
   * 6. Slow consumer: 31 fast clients fan out 1 KiB lines (phase A); then one more client
   * connects and stops reading (phase B). Fast-client throughput and server RSS in each phase.
   */
  async slow() {
    const n = P.fast;
    const conns = await openMany(0, n, (i) => fanoutPath(`c${i}`));
    const pad = "x".repeat(P.size);
    const senders = conns.map((c, i) => chatSender(c, `c${i}`, P.msgsPerBatch, i, (k) => `${k % 1000}:${pad}`));
    const driver = new FanoutDriver(conns, senders);
    let peak = 0;
    const sampler = setInterval(() => {
      const v = rss();
      if (v > peak) peak = v;
      if (v > P.rssCapBytes) driver.fail(`server RSS passed the safety cap of ${P.rssCapBytes} bytes`);
    }, 100);
    driver.start();
    try {
      await sleep(P.warmupMs);
      peak = 0;
      const a = await measure(driver, { ...P, warmupMs: 0 });
      const peakA = peak;
      const rssA = rss();
      // RSS after a forced GC as well: the peaks include garbage not yet collected.
      await sync("gc");
      const rssGcA = rss();
      const slow = await open(n, fanoutPath("slow"));
      slow.pause();
      peak = 0;
      await sleep(P.fillMs);
      const b = await measure(driver, { ...P, warmupMs: 0 });
      const peakB = peak;
      const rssB = rss();
      driver.stop();
      await sync("gc");
      const rssGcB = rss();
      // Let the slow client read what is left, to see what the server did with it.
      let closeCode = 0;
      slow.onCloseFrame = (_c, code) => (closeCode = code);
      slow.resume();
      const until = performance.now() + P.drainMs;
      while (performance.now() < until && !slow.ended && closeCode === 0) await sleep(50);
      return {
        fast: n,
        msgSize: P.size,
        phaseA: a,
        phaseB: b,
        keptThroughput: b.perReceiverPerSec / a.perReceiverPerSec,
        rssPeakA: peakA,
        rssPeakB: peakB,
        rssEndA: rssA,
        rssEndB: rssB,
        rssGrowth: peakB - peakA,
        rssGcA,
        rssGcB,
        rssGrowthAfterGc: rssGcB - rssGcA,
        slowReceived: slow.msgs,
        slowReceivedBytes: slow.bytes,
        slowCloseCode: closeCode,
        slowEnded: slow.ended,
      };
    } finally {
      clearInterval(sampler);
      driver.stop();
    }
  },
};

// --- Main -------------------------------------------------------------------------------------

const hardStop = setTimeout(() => {
  process.stdout.write(`RESULT ${JSON.stringify({ error: `client time limit of ${config.timeLimitMs} ms reached` })}\n`);
  process.exit(2);
}, config.timeLimitMs ?? 120_000);

try {
  const run = scenarios[config.scenario];
  if (!run) throw new Error(`unknown scenario ${config.scenario}`);
  const result = await run();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} catch (error) {
  process.stdout.write(`RESULT ${JSON.stringify({ error: String(error?.message ?? error) })}\n`);
}
clearTimeout(hardStop);
// Stay up until the runner has stopped the server and says so, so the server closes first.
