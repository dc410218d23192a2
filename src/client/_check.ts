/**
 * Argument checks for the client, in the library's grammar: "Cannot <do> as
 * '<name>' must be <rule>: current value is <value>". A copy of the few lines
 * of `src/core/_check.ts` the client needs, so that the client (and its
 * browser bundle) imports nothing of the core but the pure wire modules.
 *
 * @module
 */

/** A value as a message shows it: strings quoted, everything else as its kind. */
export function describe(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no prototype"})`;
  if (typeof value === "function") return "a function";
  return `${typeof value} ${String(value)}`;
}

/** `value` if it is a number of at least `min` (`Infinity` only when `infinite`), `fallback` if undefined. */
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

/** Throws a TypeError unless `value` is a non-empty string. */
export function checkName(action: string, name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`Cannot ${action} as '${name}' must be a non-empty string: current value is ${describe(value)}`);
  }
}

/** Throws a TypeError unless `value` is a function or undefined. */
export function checkFunction(action: string, name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`Cannot ${action} as '${name}' must be a function: current value is ${describe(value)}`);
  }
}

/** Whether `value` is a plain object: `{…}` or `Object.create(null)`, not an array, a Date, a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
