/**
 * Argument checks for the client, in the library's grammar: "Cannot <do> as
 * '<name>' must be <rule>: current value is <value>". The core's checks
 * (`src/core/_check.ts`, dependency-free like the wire modules) and the two
 * only the client needs.
 *
 * @module
 */
import { describe } from "../core/_check.ts";

export { checkKnownKeys, checkName, checkNumber, checkOptionsObject, describe } from "../core/_check.ts";

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
