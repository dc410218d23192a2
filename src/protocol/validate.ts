/**
 * Running a Standard Schema and reading what it found: the one place that
 * knows validators may answer sync or async, and how their issue paths look.
 * Also the message types the wire protocol keeps for itself.
 *
 * @module
 */
import type { StandardIssue, StandardPathSegment, StandardSchema } from "./types.ts";

/**
 * Types a client's message may not have: the wire protocol's own frames
 * (`ping`, `join`, `leave`), which the dispatcher answers itself.
 */
export const RESERVED_CLIENT_TYPES: readonly string[] = Object.freeze(["ping", "join", "leave"]);

/**
 * Types a server's message may not have: the wire protocol's own frames,
 * which `switchboard/client` reads itself, and `error`, the dispatcher's
 * reply. (`message` is allowed: it is then a recorded message frame.)
 */
export const RESERVED_SERVER_TYPES: readonly string[] = Object.freeze(["welcome", "joined", "left", "ack", "pong", "reconnect", "error"]);

/** One problem with a message, as an error reply lists it. */
export interface MessageIssue {
  /** Where in the message's fields, dotted ("text", "items.0.name"); "" for the message as a whole. */
  readonly path: string;
  /** The validator's message, for people. */
  readonly message: string;
}

/** What {@linkcode validate} gives: the valid value (possibly transformed by the schema), or the issues. */
export type Validation =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly issues: readonly MessageIssue[] };

/** Whether `value` carries the Standard Schema interface (version 1) with a `validate` function. */
export function isStandardSchema(value: unknown): value is StandardSchema {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const standard = (value as { "~standard"?: unknown })["~standard"];
  return typeof standard === "object" && standard !== null &&
    (standard as { version?: unknown }).version === 1 &&
    typeof (standard as { validate?: unknown }).validate === "function";
}

/**
 * Runs `schema` on `value`. Synchronous when the validator is (so that a
 * typed `send` stays synchronous with zod or valibot), a Promise when it
 * answers with one.
 */
export function validate(schema: StandardSchema, value: unknown): Validation | Promise<Validation> {
  const result = schema["~standard"].validate(value);
  if (isThenable(result)) return Promise.resolve(result).then(read);
  return read(result);
}

/** Issues as an error reply lists them: each path dotted. */
export function toMessageIssues(issues: ReadonlyArray<StandardIssue>): MessageIssue[] {
  return issues.map((issue) => ({
    path: (issue.path ?? []).map(segmentKey).join("."),
    message: typeof issue.message === "string" ? issue.message : String(issue.message),
  }));
}

/** The issues on one line each, for a TypeError about an outbound message. */
export function formatIssues(issues: readonly MessageIssue[]): string {
  return issues.map((issue) => `${issue.path === "" ? "(message)" : issue.path}: ${issue.message}`).join("; ");
}

function read(result: unknown): Validation {
  // Valibot returns `issues` beside a (partial) `value`: the issues decide, as the spec says.
  const issues = (result as { issues?: unknown })?.issues;
  if (Array.isArray(issues)) return { ok: false, issues: toMessageIssues(issues as StandardIssue[]) };
  if (typeof result !== "object" || result === null || !("value" in result)) {
    throw new TypeError("Cannot validate as the schema's validate() returned neither 'value' nor 'issues': it is not a Standard Schema");
  }
  return { ok: true, value: (result as { value: unknown }).value };
}

/** A path segment is a key, or (valibot) an object holding one. */
function segmentKey(segment: StandardPathSegment): string {
  const key = typeof segment === "object" && segment !== null ? segment.key : segment;
  return typeof key === "symbol" ? (key.description ?? "") : String(key);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
