import { describe } from "./_check.ts";

/**
 * Presence data as the JSON text every store keeps and compares: what
 * `JSON.stringify` gives. A TypeError for data with no JSON text (`undefined`,
 * a function, a symbol) or that `JSON.stringify` refuses (a `bigint`, a cycle),
 * so that the memory store refuses what a Redis store would have to.
 */
export function encodePresenceData(action: string, data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new TypeError(`Cannot ${action} as 'data' must be JSON-serialisable: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== "string") {
    throw new TypeError(`Cannot ${action} as 'data' must be JSON-serialisable: current value is ${describe(data)}`);
  }
  return json;
}
