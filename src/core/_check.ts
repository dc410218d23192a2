/**
 * Argument checks for values that reach the library from plain JavaScript,
 * with messages in one grammar: "Cannot <do what> as '<name>' must be <rule>:
 * current value is <value>".
 *
 * @module
 */
import { isSendableCloseCode } from "./close-codes.ts";

const MAX_REASON_BYTES = 123;
const encoder = new TextEncoder();

/** A value as a message shows it: strings quoted, everything else as its kind. */
export function describe(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return `a ${value.constructor.name}`;
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no prototype"})`;
  if (typeof value === "function") return "a function";
  return `${typeof value} ${String(value)}`;
}

/** Throws a TypeError naming the first key of `options` that is not in `known` (a typo such as `maxMesageSize`). */
export function checkKnownKeys(action: string, options: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new TypeError(`Cannot ${action} as '${key}' is not an option: known options are ${[...known].join(", ")}`);
    }
  }
}

/** Throws unless `value` is an object (not null, not an array). */
export function checkOptionsObject(action: string, value: unknown): asserts value is object | undefined {
  if (value === undefined) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Cannot ${action} as the options must be an object: current value is ${describe(value)}`);
  }
}

/**
 * `value` if it is a number of at least `min` (an integer when `integer`,
 * `Infinity` only when `infinite`), `fallback` if it is undefined; else a RangeError
 * (a TypeError for a value that is not a number at all).
 */
export function checkNumber(
  action: string,
  name: string,
  value: unknown,
  fallback: number,
  rule: { min: number; integer?: boolean; infinite?: boolean },
): number {
  if (value === undefined) return fallback;
  const kind = rule.integer ? "an integer" : "a number";
  const what = `${kind} of at least ${rule.min}${rule.infinite ? " (or Infinity)" : ""}`;
  if (typeof value !== "number") {
    throw new TypeError(`Cannot ${action} as '${name}' must be ${what}: current value is ${describe(value)}`);
  }
  const ok = value === Infinity ? rule.infinite === true : Number.isFinite(value) && (!rule.integer || Number.isInteger(value));
  if (!ok || value < rule.min) {
    throw new RangeError(`Cannot ${action} as '${name}' must be ${what}: current value is ${value}`);
  }
  return value;
}

/** Throws a TypeError unless `value` is a non-empty string (room names, say). */
export function checkName(action: string, name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`Cannot ${action} as '${name}' must be a non-empty string: current value is ${describe(value)}`);
  }
}

/** Throws unless `code` and `reason` fit in a close frame: a sendable code, a reason of at most 123 bytes of UTF-8. */
export function checkCloseFrame(action: string, code: unknown, reason: unknown): void {
  if (typeof code !== "number" || !isSendableCloseCode(code)) {
    throw new RangeError(`Cannot ${action} as 'code' must be 1000-1003, 1007-1014 or 3000-4999: current value is ${describe(code)}`);
  }
  if (typeof reason !== "string") {
    throw new TypeError(`Cannot ${action} as 'reason' must be a string: current value is ${describe(reason)}`);
  }
  if (reason.length > MAX_REASON_BYTES / 3 && encoder.encode(reason).byteLength > MAX_REASON_BYTES) {
    throw new RangeError(`Cannot ${action} as 'reason' must be at most ${MAX_REASON_BYTES} bytes of UTF-8`);
  }
}
