/**
 * switchboard/client in a room that had no message when it was welcomed: the
 * welcome's position is id 0 with the epoch "" (the epoch is made with the
 * room's first message), and the first live message, id 1 of a new epoch, is
 * the next one, not a gap. Found by the chat page's browser test: every new
 * room reconnected ("Gap") and resynced after its first message.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { catchUp, judge } from "../src/client/positions.ts";

const first = { type: "message", room: "r", epoch: "E1", id: 1 } as const;

describe("client in an empty room", () => {
  test("after a welcome at id 0, id 1 of any epoch is delivered; a later id is a gap", () => {
    const empty = { epoch: "", id: 0 };
    assert.equal(judge(empty, first), "deliver");
    assert.equal(judge(empty, { ...first, id: 2 }), "gap");
    assert.equal(judge({ epoch: "E1", id: 0 }, first), "deliver");
    // With a message had, another epoch is still a gap.
    assert.equal(judge({ epoch: "E0", id: 1 }, { ...first, id: 2 }), "gap");
  });

  test("a room state after id 0 is no resync: there was nothing to replace", () => {
    const state = { epoch: "E1", id: 2, resumed: false, messages: [first, { ...first, id: 2 }] };
    const after = catchUp({ epoch: "", id: 0 }, state);
    assert.equal(after.resync, false);
    assert.deepEqual(after.messages.map((m) => m.id), [1, 2]);
    assert.equal(catchUp({ epoch: "E0", id: 3 }, state).resync, true);
  });
});
