/**
 * A name freed by a dissolution and founded again elsewhere: whichever of the two a member hears
 * first, it ends up holding the new founding (found by the simulator: seed 9, 4 users).
 */
import { initialTransition, transition } from "xstate"
import { describe, expect, it } from "vitest"
import { groupMachine } from "../../domain/group/group.machine.ts"
import type { UserId } from "../../domain/ids.ts"
import type { GroupInfo } from "../../domain/wire/messages.ts"

const [me, old, fresh] = ["user-10004", "user-10003", "user-10001"] as UserId[]
const lived: GroupInfo = { name: "room-1" as GroupInfo["name"], leader: old!, members: [old!, me!], version: 3, foundedClock: 14, foundedBy: old!, dissolved: false }
const dissolved: GroupInfo = { ...lived, leader: old!, members: [], version: 4, dissolved: true }
const refounded: GroupInfo = { ...lived, leader: fresh!, members: [fresh!], version: 1, foundedClock: 61, foundedBy: fresh! }

const fold = (events: ReadonlyArray<{ readonly from: UserId; readonly info: GroupInfo }>) => {
  let [snapshot] = initialTransition(groupMachine, { me: me!, name: "room-1" })
  for (const { from, info } of events) [snapshot] = transition(groupMachine, snapshot, { type: "info.receive", from, info })
  return snapshot.context.info
}

describe("a name founded again after a dissolution", () => {
  it("is held whichever arrives first: the dissolution or the new founding", () => {
    const inOrder = fold([{ from: old!, info: lived }, { from: old!, info: dissolved }, { from: fresh!, info: refounded }])
    const reordered = fold([{ from: old!, info: lived }, { from: fresh!, info: refounded }, { from: old!, info: dissolved }])
    expect(inOrder).toEqual(refounded)
    expect(reordered).toEqual(refounded)
  })

  it("while the old group lives, the new founding does not take it", () => {
    expect(fold([{ from: old!, info: lived }, { from: fresh!, info: refounded }])).toEqual(lived)
  })
})
