/**
 * The `resume` query parameter: where a reconnecting client stands in each
 * of its rooms, as JSON `{"<room>":["<epoch>",<id>],…}`. The client writes
 * it on every attempt; the server reads it in `onUpgrade` or `onConnect` and
 * passes each position to `conn.join(room, { since })`.
 *
 * @module
 */
import { isWirePosition, MAX_RESUME_ROOMS, RESUME_PARAM, type WirePosition } from "./frames.ts";

/** The longest `resume` value read; a longer one is ignored whole (it came from no client of ours). */
export const MAX_RESUME_LENGTH: number = 16 * 1024;

/** The `resume` value for `positions`: JSON `{"<room>":["<epoch>",<id>]}`. */
export function encodeResume(positions: Iterable<readonly [string, WirePosition]>): string {
  const compact: Record<string, [string, number]> = {};
  for (const [room, { epoch, id }] of positions) {
    Object.defineProperty(compact, room, { value: [epoch, id], enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(compact);
}

/**
 * The positions in a `resume` value. Anything malformed (not JSON, not an
 * object, an entry that is not `[string, integer >= 0]`) is left out rather
 * than refused: a client without a position gets the room's latest, which is
 * what it would get had it sent nothing. At most {@linkcode MAX_RESUME_ROOMS}.
 */
export function decodeResume(value: string | null | undefined): Map<string, WirePosition> {
  const positions = new Map<string, WirePosition>();
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_RESUME_LENGTH) return positions;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return positions;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return positions;
  for (const [room, entry] of Object.entries(parsed)) {
    if (positions.size >= MAX_RESUME_ROOMS) break;
    if (!Array.isArray(entry) || entry.length !== 2) continue;
    const position = { epoch: entry[0], id: entry[1] };
    if (isWirePosition(position)) positions.set(room, position);
  }
  return positions;
}

/**
 * The positions a client sent in the upgrade's `resume` query parameter.
 *
 * @example
 * ```ts
 * import { readResume } from "switchboard";
 *
 * const query = new URL('ws://example.test/chat?resume={"general":["AbCd",41]}').searchParams;
 * readResume(query).get("general"); // { epoch: "AbCd", id: 41 }
 * ```
 */
export function readResume(query: URLSearchParams): Map<string, WirePosition> {
  return decodeResume(query.get(RESUME_PARAM));
}
