/**
 * The chat example run as a program, the way its header says, on the
 * runtime running the tests: its start line read, its page URL returned,
 * stopped with SIGTERM.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtime, waitFor, within } from "./server.ts";

const CHAT_FILE = fileURLToPath(new URL("../../examples/chat.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A chat program that printed its start line. */
export interface ChatProcess {
  readonly child: ChildProcess;
  /** What it printed on start: one line. */
  readonly startLine: string;
  /** The page's URL, as the start line ends: `http://127.0.0.1:<port>/`. */
  readonly url: string;
  stdout(): string;
  stderr(): string;
  /** Sends SIGTERM and waits for the exit; SIGKILL after 10 s. */
  stop(): Promise<{ code: number | null; signal: string | null }>;
}

/** The command line that runs examples/chat.ts on this runtime. */
export function chatCommand(): string[] {
  return runtime === "node"
    ? [process.execPath, "--import", "tsx", CHAT_FILE]
    : runtime === "bun"
    ? [process.execPath, "run", CHAT_FILE]
    : [process.execPath, "run", "-A", CHAT_FILE];
}

/** Runs the chat with `env` added (PORT 0 and HOST 127.0.0.1 unless given) until it prints its start line. */
export async function startChatProcess(env: Record<string, string> = {}): Promise<ChatProcess> {
  const [command, ...args] = chatCommand();
  const child = spawn(command!, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    try {
      return await within(exited, 10_000, "the chat process to exit");
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  };
  try {
    await waitFor(() => stdout.includes("\n") || child.exitCode !== null, 20_000, `the start line (stderr: ${stderr})`);
  } catch (error) {
    await stop();
    throw error;
  }
  const startLine = stdout.trim();
  const url = /(http:\/\/127\.0\.0\.1:\d+\/)$/.exec(startLine)?.[1] ?? "";
  return { child, startLine, url, stdout: () => stdout, stderr: () => stderr, stop };
}

/** A chat process stopped with SIGTERM exited with 0. */
export function assertCleanExit(exit: { code: number | null; signal: string | null }): void {
  if (runtime === "deno") {
    // Deno's node:child_process reports the signal it sent ("exit null SIGTERM") even when
    // the child caught it and exited with 0 (measured); the tests check the 1001 the clients got.
    assert.ok(exit.code === 0 || exit.signal === "SIGTERM", JSON.stringify(exit));
  } else {
    assert.deepEqual(exit, { code: 0, signal: null });
  }
}
