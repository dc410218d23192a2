import { checkKnownKeys, checkNumber, checkOptionsObject, describe } from "./_check.ts";
import type { JoinOptions } from "./connection.ts";
import type { Position } from "./history.ts";

const JOIN_OPTION_KEYS: ReadonlySet<string> = new Set(["since", "limit"]);

/** The options of a join with catch-up, checked: TypeErrors and RangeErrors for what plain JavaScript can pass. */
export function checkJoinOptions(options: JoinOptions): { since: Position | number | undefined; limit: number | undefined } {
  const action = "join room with catch-up";
  checkOptionsObject(action, options);
  checkKnownKeys(action, options, JOIN_OPTION_KEYS);
  const { since } = options;
  const validSince = since === undefined ||
    (typeof since === "number" && Number.isInteger(since) && since >= 0) ||
    (typeof since === "object" && since !== null && typeof since.epoch === "string" && Number.isInteger(since.id) && since.id >= 0);
  if (!validSince) {
    throw new TypeError(`Cannot ${action} as 'since' must be a position { epoch, id } or an id of at least 0: current value is ${describe(since)}`);
  }
  const limit = options.limit === undefined ? undefined : checkNumber(action, "limit", options.limit, 0, { min: 0, integer: true, infinite: true });
  return { since, limit };
}
