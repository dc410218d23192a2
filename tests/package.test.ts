/**
 * The package as users get it: build and the npm/JSR checks
 * (scripts/check-package.mjs), then `npm pack`, the tarball installed into a
 * fresh app outside the repository, and small apps there that extend
 * WebSocketController and serve: on Node through ESM `import` and CJS
 * `require`, on Bun, and on Deno both through npm and through the package's
 * deno.json exports (the files `deno publish` would upload, as a workspace
 * member). A second app gets the tarball alone, as `npm install switchboard`
 * does: it must bring no Hono (an optional peer) and still serve on Node.
 *
 * The heavy part (build, checks, pack, install: ~30-40 s) runs once per
 * content of the package's sources and manifests, not once per runtime: its
 * result is kept in a temp directory named by a hash of those files, so when
 * `npm test` runs this file on Node, Bun and Deno in turn, only the first one
 * builds, and the others assert on the same build. The apps themselves are
 * started, served and talked to by every runtime's run.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { connectOrThrow, rawConnect, RawWebSocket } from "./helpers/raw-client.ts";
import { runtime } from "./helpers/server.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = path.join(REPO, "node_modules", ".bin");
/** Bump to invalidate cached proofs when this file's preparation steps change meaning. */
const PROOF_FORMAT = 2;
const PREPARE_TIMEOUT_MS = 8 * 60_000;
const APP_START_TIMEOUT_MS = 60_000;

/** The files whose content decides the build, the checks and the tarball. */
function packageSources(): string[] {
  const files = [
    "mod.ts",
    "package.json",
    "package-lock.json",
    "deno.json",
    "tsup.config.ts",
    "tsconfig.json",
    "README.md",
    "LICENSE",
    "scripts/check-package.mjs",
    "scripts/check-manifests.mjs",
    "tests/package.test.ts",
  ];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else files.push(rel);
    }
  };
  walk("src");
  return files.filter((f) => fs.existsSync(path.join(REPO, f))).sort();
}

function sourceHash(): string {
  const hash = createHash("sha256").update(`format ${PROOF_FORMAT}\n`);
  for (const file of packageSources()) hash.update(`${file}\n`).update(fs.readFileSync(path.join(REPO, file))).update("\n");
  return hash.digest("hex").slice(0, 16);
}

interface CheckResult {
  name: string;
  command: string;
  ok: boolean;
  ms: number;
  output: string;
}

interface Prepared {
  dir: string;
  checks: CheckResult[];
  /** The installed package in the fresh app: what `npm install switchboard` gives. */
  installed: string | undefined;
  appDir: string;
  /** The app with the tarball alone, without Hono. */
  bareDir: string;
  /** The packages `npm install <tarball>` alone put in the bare app's node_modules. */
  bareModules: string[] | undefined;
  jsrDir: string;
  problems: string[];
  timings: Record<string, number>;
}

interface RunResult {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a command to completion with a time limit; never rejects. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    let output = "";
    const child = spawn(cmd, args, { cwd, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeoutMs} ms]`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout!.on("data", (d: Uint8Array) => (output += d));
    child.stderr!.on("data", (d: Uint8Array) => (output += d));
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: `${output}\n${error.message}`, ms: Date.now() - started });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "FORCE_COLOR") env[k] = v;
  // node --test marks its own workers with this; the apps are plain programs.
  delete env.NODE_TEST_CONTEXT;
  // Under `npm test`, npm describes the repo's package to its children: the app's `npm install` must not see it.
  for (const key of Object.keys(env)) {
    if (key === "INIT_CWD" || key === "npm_config_local_prefix" || /^npm_(package|lifecycle)_/.test(key)) delete env[key];
  }
  return { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", npm_config_update_notifier: "false" };
}

/** The Node binary: this one on Node, the one on PATH under Bun and Deno. */
function nodeBinary(): string {
  return runtime === "node" ? process.execPath : "node";
}

async function withLock<T>(lockDir: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + PREPARE_TIMEOUT_MS;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      // A lock left by a killed run is stale once older than any preparation can take.
      const age = Date.now() - (fs.statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > PREPARE_TIMEOUT_MS) fs.rmSync(lockDir, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`Timed out waiting for ${lockDir}`);
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

let preparing: Promise<Prepared> | undefined;

/** Build, check, pack and install once per source hash (see the file comment). */
function prepared(): Promise<Prepared> {
  return (preparing ??= prepare());
}

async function prepare(): Promise<Prepared> {
  // One directory per checkout, so two clones on one machine never remove each other's proof.
  const checkout = createHash("sha256").update(REPO).digest("hex").slice(0, 8);
  const base = path.join(fs.realpathSync(os.tmpdir()), `switchboard-package-proof-${checkout}`);
  const hash = sourceHash();
  const dir = path.join(base, hash);
  const resultFile = path.join(dir, "prepared.json");
  fs.mkdirSync(base, { recursive: true });
  return await withLock(path.join(base, "lock"), async () => {
    if (fs.existsSync(resultFile)) return JSON.parse(fs.readFileSync(resultFile, "utf8")) as Prepared;
    // Older proofs are for sources that no longer exist.
    for (const old of fs.readdirSync(base)) if (old !== "lock") fs.rmSync(path.join(base, old), { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const problems: string[] = [];
    const timings: Record<string, number> = {};
    const appDir = path.join(dir, "app");
    const bareDir = path.join(dir, "bare-app");
    const jsrDir = path.join(dir, "jsr");

    const report = path.join(dir, "checks.json");
    const checked = await run(nodeBinary(), [path.join(REPO, "scripts", "check-package.mjs"), "--build", "--report", report], REPO, PREPARE_TIMEOUT_MS);
    timings.checks = checked.ms;
    const { results: checks, jsrFiles } = fs.existsSync(report)
      ? JSON.parse(fs.readFileSync(report, "utf8")) as { results: CheckResult[]; jsrFiles: string[] }
      : { results: [], jsrFiles: [] };
    if (!checks.length) problems.push(`check-package wrote no report:\n${checked.output}`);

    let installed: string | undefined;
    let bareModules: string[] | undefined;
    if (checks.find((c) => c.name === "build")?.ok) {
      const packed = await run("npm", ["pack", "--json", "--pack-destination", dir], REPO, 120_000);
      timings.pack = packed.ms;
      const tarball = /"filename":\s*"([^"]+)"/.exec(packed.output)?.[1];
      if (packed.code !== 0 || !tarball) problems.push(`npm pack failed:\n${packed.output}`);
      else {
        fs.mkdirSync(appDir, { recursive: true });
        fs.writeFileSync(path.join(appDir, "package.json"), JSON.stringify({ name: "proof-app", private: true, type: "module" }, null, 2));
        // What a user types: the package, plus Hono and its Node server for the Hono app.
        const install = await run(
          "npm",
          ["install", "--no-audit", "--no-fund", path.join(dir, path.basename(tarball)), "hono@^4", "@hono/node-server@^2"],
          appDir,
          240_000,
        );
        timings.install = install.ms;
        if (install.code !== 0) problems.push(`npm install of the tarball failed:\n${install.output}`);
        else installed = path.join(appDir, "node_modules", "switchboard");

        // What `npm install switchboard` alone gives, for an app that does not use switchboard/hono.
        fs.mkdirSync(bareDir, { recursive: true });
        fs.writeFileSync(path.join(bareDir, "package.json"), JSON.stringify({ name: "bare-app", private: true, type: "module" }, null, 2));
        const bare = await run("npm", ["install", "--no-audit", "--no-fund", path.join(dir, path.basename(tarball))], bareDir, 240_000);
        timings.bareInstall = bare.ms;
        if (bare.code !== 0) problems.push(`npm install of the tarball alone failed:\n${bare.output}`);
        else bareModules = installedPackages(bareDir);
      }
    }

    // The JSR package as `deno publish` would upload it, next to an app, in one Deno workspace.
    if (jsrFiles.length) {
      for (const file of jsrFiles) {
        fs.mkdirSync(path.dirname(path.join(jsrDir, "switchboard", file)), { recursive: true });
        fs.copyFileSync(path.join(REPO, file), path.join(jsrDir, "switchboard", file));
      }
      fs.mkdirSync(path.join(jsrDir, "app"), { recursive: true });
      fs.writeFileSync(path.join(jsrDir, "deno.json"), JSON.stringify({ workspace: ["./switchboard", "./app"] }, null, 2));
      fs.writeFileSync(path.join(jsrDir, "app", "deno.json"), JSON.stringify({ name: "@proof/app", version: "0.0.0", exports: "./main.ts" }, null, 2));
    } else {
      problems.push("deno publish --dry-run listed no files");
    }

    const result: Prepared = { dir, checks, installed, appDir, bareDir, bareModules, jsrDir, problems, timings };
    fs.writeFileSync(resultFile, JSON.stringify(result, null, 2));
    return result;
  });
}

/** The packages in an app's node_modules, scoped ones as "@scope/name". */
function installedPackages(appDir: string): string[] {
  const root = path.join(appDir, "node_modules");
  const names: string[] = [];
  for (const entry of fs.readdirSync(root)) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) for (const scoped of fs.readdirSync(path.join(root, entry))) names.push(`${entry}/${scoped}`);
    else names.push(entry);
  }
  return names.sort();
}

function check(prep: Prepared, name: string): CheckResult {
  const result = prep.checks.find((c) => c.name === name);
  assert.ok(result, `check ${name} did not run${prep.problems.length ? `: ${prep.problems.join("\n")}` : ""}`);
  assert.ok(result.ok, `${result.command} failed:\n${result.output.split("\n").slice(-60).join("\n")}`);
  return result;
}

// --- The user's apps ------------------------------------------------------

const ESM_APP = `
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import { WebSocketController } from "switchboard";
import { upgradeWebSocket, websocket } from "switchboard/hono";
import * as bun from "switchboard/bun";
import * as deno from "switchboard/deno";
import * as node from "switchboard/node";
if (![bun.upgrade, deno.upgrade, node.attach].every((f) => typeof f === "function")) throw new Error("missing exports");

class Echo extends WebSocketController {
  onUpgrade(req) {
    return { userData: { user: req.context.user, room: req.params.room } };
  }
  onTextMessage(conn, text) {
    conn.sendText(\`esm:\${conn.userData.user}@\${conn.userData.room}:\${text}\`);
  }
}
const app = new Hono();
app.get("/", (c) => c.text("existing app"));
app.use("/ws/*", async (c, next) => {
  if (c.req.header("authorization") !== "Bearer t0ken") return c.text("Unauthorized", 401);
  c.set("user", "ada");
  await next();
});
app.get("/ws/:room", upgradeWebSocket(new Echo()));
serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", websocket }, (info) => console.log(\`LISTENING \${info.port}\`));
`;

const CJS_APP = `
const http = require("node:http");
const { WebSocketController } = require("switchboard");
const { attach } = require("switchboard/node");
for (const sub of ["switchboard/bun", "switchboard/deno", "switchboard/hono"]) require(sub);

// A controller from "switchboard" served by "switchboard/node": one copy of the core across CJS entries.
class Echo extends WebSocketController {
  onTextMessage(conn, text) {
    conn.sendText(\`cjs:\${text}\`);
  }
}
const server = http.createServer((req, res) => res.end("existing app"));
attach(server, { "/echo": new Echo() });
server.listen(0, "127.0.0.1", () => console.log(\`LISTENING \${server.address().port}\`));
`;

/** A Node app with the tarball alone: no Hono installed, plain HTTP next to a WebSocket route. */
const BARE_APP = `
import { WebSocketController } from "switchboard";
import { serve } from "switchboard/node";

class Echo extends WebSocketController {
  onTextMessage(conn, text) {
    conn.sendText(\`bare:\${text}\`);
  }
}
const fetch = (request) => new Response(\`plain \${request.method} \${new URL(request.url).pathname}\`, { headers: { "set-cookie": "a=1" } });
const server = await serve({ port: 0, hostname: "127.0.0.1", routes: { "/echo": new Echo() }, fetch });
console.log(\`LISTENING \${server.port}\`);
`;

/** Bun and Deno (npm) run the same TypeScript app through the root export's serve(). */
const TS_APP = `
import { type Connection, currentRuntime, serve, type UpgradeRequest, WebSocketController } from "switchboard";

class Echo extends WebSocketController<{ name: string }> {
  override onUpgrade(req: UpgradeRequest) {
    return { userData: { name: req.query.get("name") ?? "anon" } };
  }
  override onTextMessage(conn: Connection<{ name: string }>, text: string) {
    conn.sendText(\`\${currentRuntime()}:\${conn.userData.name}:\${text}\`);
  }
}
const server = await serve({ port: 0, hostname: "127.0.0.1", routes: { "/echo": new Echo() } });
console.log(\`LISTENING \${server.port}\`);
`;

/** Deno through the JSR package's deno.json exports: the root and the ./deno subpath. */
const JSR_APP = `
import { type Connection, WebSocketController } from "@switchboard/switchboard";
import { upgrade } from "@switchboard/switchboard/deno";

class Echo extends WebSocketController {
  override onTextMessage(conn: Connection, text: string) {
    conn.sendText(\`jsr:\${text}\`);
  }
}
const echo = new Echo();
Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen: ({ port }) => console.log(\`LISTENING \${port}\`) },
  (req, info) => new URL(req.url).pathname === "/echo" ? upgrade(req, info, echo) : new Response("existing app"),
);
`;

/** A Deno app on the root entry's serve() and switchboard/hono, for the lock-file check. */
const LOCK_APP = `
import { serve, WebSocketController } from "@switchboard/switchboard";
import { upgradeWebSocket } from "@switchboard/switchboard/hono";

const chat = new WebSocketController();
export const handler = upgradeWebSocket(chat);
export const start = () => serve({ port: 0, routes: { "/ws": chat } });
`;

interface RunningApp {
  port: number;
  stop(): Promise<void>;
}

/** Starts an app and waits for its "LISTENING <port>" (or "listening on http://host:<port>") line; stopped by pid. */
function startApp(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<RunningApp> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, args, { cwd, env: { ...childEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let listening = false;
    const exited = new Promise<void>((done) => child.on("close", () => done()));
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
      const killer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, "SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    };
    const timer = setTimeout(() => {
      stop().then(() => reject(new Error(`${cmd} ${args.join(" ")} did not listen within ${APP_START_TIMEOUT_MS} ms:\n${output}`)));
    }, APP_START_TIMEOUT_MS);
    const onData = (d: Uint8Array): void => {
      output += d;
      const port = /LISTENING (\d+)|listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.slice(1).find(Boolean);
      if (port && !listening) {
        listening = true;
        clearTimeout(timer);
        resolve({ port: Number(port), stop });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      if (listening) return;
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(" ")} exited with ${code} before listening:\n${output}`));
    });
  });
}

/** Connects, sends one message and returns the reply. */
async function exchange(url: string, text: string, headers?: Record<string, string>): Promise<string> {
  const client = await connectOrThrow(url, { headers, timeoutMs: 10_000 });
  try {
    client.sendText(text);
    return (await client.nextMessage(10_000)).text();
  } finally {
    client.close(1000, "done");
    await Promise.race([client.closed, new Promise((r) => setTimeout(r, 2_000))]);
    client.destroy();
  }
}

function writeApp(dir: string, file: string, source: string): string {
  fs.writeFileSync(path.join(dir, file), source.trimStart());
  return file;
}

const SLOW = { timeout: PREPARE_TIMEOUT_MS + 60_000 };

describe("package", () => {
  test("npm run build emits ESM, CJS and declarations for every export, and the tarball ships them", SLOW, async () => {
    const prep = await prepared();
    check(prep, "build");
    assert.deepEqual(prep.problems, []);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
    for (const [key, target] of Object.entries(pkg.exports as Record<string, unknown>)) {
      if (typeof target === "string") continue;
      const branches = target as Record<string, Record<string, string>>;
      for (const condition of ["import", "require"]) {
        for (const file of [branches[condition]!.types!, branches[condition]!.default!]) {
          assert.ok(fs.existsSync(path.join(prep.installed!, file)), `${key} ${condition}: ${file} is in the installed package`);
        }
      }
    }
    const shipped = fs.readdirSync(prep.installed!).sort();
    assert.deepEqual(shipped, ["LICENSE", "README.md", "dist", "package.json"], "only dist/, README, LICENSE and package.json");
  });

  test("publint --strict reports nothing", SLOW, async () => {
    assert.match(check(await prepared(), "publint").output, /All good!/);
  });

  test("attw --pack . finds no problem", SLOW, async () => {
    assert.match(check(await prepared(), "attw").output, /No problems found/);
  });

  test("package.json and deno.json agree on the version and the exports", SLOW, async () => {
    assert.match(check(await prepared(), "manifests").output, /check-manifests: ok/);
  });

  test("deno lint is clean", SLOW, async () => {
    assert.match(check(await prepared(), "deno-lint").output, /Checked \d+ files?/);
  });

  test("deno publish --dry-run passes without --allow-slow-types", SLOW, async () => {
    const result = check(await prepared(), "jsr-publish");
    assert.doesNotMatch(result.command, /allow-slow-types/);
    assert.match(result.output, /Success Dry run complete/);
  });

  test("deno doc --lint is clean on every entry point", SLOW, async () => {
    const result = check(await prepared(), "deno-doc");
    const deno = JSON.parse(fs.readFileSync(path.join(REPO, "deno.json"), "utf8"));
    for (const entry of Object.values(deno.exports as Record<string, string>)) assert.ok(result.command.includes(entry), entry);
  });

  test("every @example in the JSDoc type-checks (deno check --doc, the package's names mapped to the source)", SLOW, async () => {
    const result = check(await prepared(), "doc-examples");
    assert.match(result.command, /check --doc/);
    assert.ok(result.command.includes("mod.ts") && result.command.includes("src/core/controller.ts"), result.command);
  });

  test("a Node app imports the installed package with ESM import and serves a Hono route", SLOW, async (t) => {
    const prep = await prepared();
    assert.ok(prep.installed, prep.problems.join("\n"));
    const app = await startApp(nodeBinary(), [writeApp(prep.appDir, "esm-app.mjs", ESM_APP)], prep.appDir);
    t.after(() => app.stop());
    const refused = await connectOrThrow(`ws://127.0.0.1:${app.port}/ws/lobby`).then(() => "accepted", (e: Error) => e.message);
    assert.match(refused, /HTTP 401/);
    const reply = await exchange(`ws://127.0.0.1:${app.port}/ws/lobby`, "hello", { authorization: "Bearer t0ken" });
    assert.equal(reply, "esm:ada@lobby:hello");
  });

  test("a Node app requires the installed package with CJS require and serves on its own node:http server", SLOW, async (t) => {
    const prep = await prepared();
    assert.ok(prep.installed, prep.problems.join("\n"));
    const app = await startApp(nodeBinary(), [writeApp(prep.appDir, "cjs-app.cjs", CJS_APP)], prep.appDir);
    t.after(() => app.stop());
    assert.equal(await exchange(`ws://127.0.0.1:${app.port}/echo`, "hello"), "cjs:hello");
    const page = await fetch(`http://127.0.0.1:${app.port}/`);
    assert.equal(await page.text(), "existing app");
  });

  test("npm install of the tarball alone brings its dependencies and no Hono (an optional peer)", SLOW, async () => {
    const prep = await prepared();
    assert.ok(prep.bareModules, prep.problems.join("\n"));
    assert.deepEqual(prep.bareModules.filter((name) => name === "hono" || name.startsWith("@hono/")), []);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
    assert.deepEqual(prep.bareModules, [...Object.keys(pkg.dependencies as Record<string, string>), "switchboard"].sort());
  });

  test("a Node app without Hono serves a WebSocket route and plain HTTP through the installed package", SLOW, async (t) => {
    const prep = await prepared();
    assert.ok(prep.bareModules, prep.problems.join("\n"));
    const app = await startApp(nodeBinary(), [writeApp(prep.bareDir, "bare-app.mjs", BARE_APP)], prep.bareDir);
    t.after(() => app.stop());
    assert.equal(await exchange(`ws://127.0.0.1:${app.port}/echo`, "hello"), "bare:hello");
    const page = await fetch(`http://127.0.0.1:${app.port}/page`, { method: "POST", body: "x" });
    assert.equal(await page.text(), "plain POST /page");
    assert.deepEqual(page.headers.getSetCookie(), ["a=1"]);
  });

  test("a Bun app serves through the installed package", SLOW, async (t) => {
    const prep = await prepared();
    assert.ok(prep.installed, prep.problems.join("\n"));
    const app = await startApp(path.join(BIN, "bun"), ["run", writeApp(prep.appDir, "bun-app.ts", TS_APP)], prep.appDir);
    t.after(() => app.stop());
    assert.equal(await exchange(`ws://127.0.0.1:${app.port}/echo?name=bo`, "hello"), "bun:bo:hello");
  });

  test("a Deno app serves through the installed package (npm)", SLOW, async (t) => {
    const prep = await prepared();
    assert.ok(prep.installed, prep.problems.join("\n"));
    const app = await startApp(path.join(BIN, "deno"), ["run", "-A", writeApp(prep.appDir, "deno-app.ts", TS_APP)], prep.appDir);
    t.after(() => app.stop());
    assert.equal(await exchange(`ws://127.0.0.1:${app.port}/echo?name=dee`, "hello"), "deno:dee:hello");
  });

  test("a Deno app serves through the package's deno.json exports (JSR)", SLOW, async (t) => {
    const prep = await prepared();
    assert.ok(fs.existsSync(path.join(prep.jsrDir, "switchboard", "deno.json")), prep.problems.join("\n"));
    writeApp(path.join(prep.jsrDir, "app"), "main.ts", JSR_APP);
    const app = await startApp(path.join(BIN, "deno"), ["run", "-A", "app/main.ts"], prep.jsrDir);
    t.after(() => app.stop());
    assert.equal(await exchange(`ws://127.0.0.1:${app.port}/echo`, "hello"), "jsr:hello");
  });

  test("a Deno app that imports the root entry and switchboard/hono gets no ws, Node built-ins or @hono/node-server in its lock file (JSR)", SLOW, async () => {
    const prep = await prepared();
    assert.ok(fs.existsSync(path.join(prep.jsrDir, "switchboard", "deno.json")), prep.problems.join("\n"));
    const workspace = path.join(prep.jsrDir, "..", "jsr-lock");
    fs.rmSync(workspace, { recursive: true, force: true });
    fs.cpSync(prep.jsrDir, workspace, { recursive: true });
    fs.rmSync(path.join(workspace, "deno.lock"), { force: true });
    writeApp(path.join(workspace, "app"), "main.ts", LOCK_APP);
    const cached = await run(path.join(BIN, "deno"), ["cache", "app/main.ts"], workspace, 120_000);
    assert.equal(cached.code, 0, cached.output);
    // What the app's graph resolved (the lock's "workspace" part only repeats the package's own import map).
    const lock = JSON.parse(fs.readFileSync(path.join(workspace, "deno.lock"), "utf8")) as { specifiers?: object; npm?: object };
    const resolved = [...Object.keys(lock.specifiers ?? {}), ...Object.keys(lock.npm ?? {})];
    for (const unwanted of ["ws", "@hono/node-server", "hono"]) {
      assert.ok(!resolved.some((name) => new RegExp(`^(npm:)?${unwanted}@`).test(name)), `${unwanted} is not resolved: ${resolved.join(", ")}`);
    }
    assert.ok(resolved.some((name) => name.includes("regexparam")), `the lock does list what the entries use: ${resolved.join(", ")}`);
  });
});

/** The examples, each run the way its header says, on the runtime it is for. */
describe("examples", () => {
  const runners: Record<string, { cmd: string; args: string[] }> = {
    node: { cmd: nodeBinary(), args: ["--import", "tsx"] },
    bun: { cmd: path.join(BIN, "bun"), args: ["run"] },
    deno: { cmd: path.join(BIN, "deno"), args: ["run", "-A"] },
  };
  const start = (on: string, file: string): Promise<RunningApp> =>
    startApp(runners[on]!.cmd, [...runners[on]!.args, file], REPO, { PORT: "0" });

  for (const on of ["node", "bun", "deno"]) {
    test(`examples/hono.ts serves REST and the authenticated WebSocket route on ${on}`, { timeout: 120_000 }, async (t) => {
      const app = await start(on, "examples/hono.ts");
      t.after(() => app.stop());
      const base = `127.0.0.1:${app.port}`;
      const auth = { authorization: "Bearer alice-token" };
      assert.equal((await fetch(`http://${base}/api/me`)).status, 401);
      assert.deepEqual(await (await fetch(`http://${base}/api/me`, { headers: auth })).json(), { user: "alice" });
      const refused = await rawConnect(`ws://${base}/ws/lobby`);
      assert.ok(!(refused instanceof RawWebSocket) && refused.status === 401, "no token, no WebSocket");
      const client = await connectOrThrow(`ws://${base}/ws/lobby`, { headers: auth });
      client.sendText("hi");
      assert.deepEqual(JSON.parse((await client.nextMessage(10_000)).text()), { type: "message", from: "alice", text: "hi" });
      const room = await (await fetch(`http://${base}/api/rooms/lobby/messages`, { headers: auth })).json();
      assert.deepEqual(room, { online: ["alice"], messages: [{ type: "message", from: "alice", text: "hi" }] });
      await app.stop();
      assert.equal((await client.closed).code, 1001, "shut down on SIGTERM with 1001");
    });
  }

  for (const on of ["node", "bun", "deno"]) {
    test(`examples/embed-${on}.ts adds a WebSocket endpoint to an existing ${on} server`, { timeout: 120_000 }, async (t) => {
      const app = await start(on, `examples/embed-${on}.ts`);
      t.after(() => app.stop());
      const base = `127.0.0.1:${app.port}`;
      const time = await (await fetch(`http://${base}/api/time`)).json() as { now: string };
      assert.ok(!Number.isNaN(Date.parse(time.now)), "the existing route still answers");
      assert.equal((await fetch(`http://${base}/nope`).then(async (r) => (await r.body?.cancel(), r.status))), 404);
      const client = await connectOrThrow(`ws://${base}/ws/echo`);
      assert.equal(JSON.parse((await client.nextMessage(10_000)).text()).type, "welcome");
      client.sendText("hi");
      assert.deepEqual(JSON.parse((await client.nextMessage(10_000)).text()), { type: "echo", text: "hi" });
      await app.stop();
      assert.equal((await client.closed).code, 1001, "shut down on SIGTERM with 1001");
    });
  }
});
