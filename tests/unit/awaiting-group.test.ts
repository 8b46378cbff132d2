/** Group messages waiting for their key or their sender's membership: which wait, bounds, order, age. */
import { describe, expect, it } from "vitest"
import { AWAITING_GROUP_MS, AwaitingGroup, isNotYetReadable, MAX_AWAITING, MAX_AWAITING_PER_GROUP } from "../../domain/service/awaiting-group.ts"

describe("which refusals mean 'not yet'", () => {
  it("a missing key, an unknown member, a group I am not yet in: yes; anything else: no", () => {
    expect(isNotYetReadable("no key to read #team version 3 (not given to me, or not yet)")).toBe(true)
    expect(isNotYetReadable("group message from non-member user-10002")).toBe(true)
    expect(isNotYetReadable("group message for team, which I am not in")).toBe(true)
    expect(isNotYetReadable("bad signature")).toBe(false)
    expect(isNotYetReadable("duplicate")).toBe(false)
    expect(isNotYetReadable("group message on the wrong topic")).toBe(false)
  })
})

describe("AwaitingGroup", () => {
  it("gives back a group's frames in arrival order, once", () => {
    const awaiting = new AwaitingGroup<number>()
    awaiting.hold("team", 1, "r", 10)
    awaiting.hold("other", 2, "r", 11)
    awaiting.hold("team", 3, "r", 12)
    expect(awaiting.release("team").map((w) => w.item)).toEqual([1, 3])
    expect(awaiting.release("team")).toEqual([])
    expect(awaiting.size).toBe(1)
  })

  it("keeps at most MAX_AWAITING_PER_GROUP per group, pushing out the oldest", () => {
    const awaiting = new AwaitingGroup<number>()
    const pushed: number[] = []
    for (let n = 0; n < MAX_AWAITING_PER_GROUP + 5; n++) pushed.push(...awaiting.hold("team", n, "r", n).map((w) => w.item))
    expect(pushed).toEqual([0, 1, 2, 3, 4])
    expect(awaiting.size).toBe(MAX_AWAITING_PER_GROUP)
    expect(awaiting.release("team")[0]?.item).toBe(5)
  })

  it("keeps at most MAX_AWAITING in all, pushing out the oldest of any group", () => {
    const awaiting = new AwaitingGroup<string>()
    const groups = Math.ceil(MAX_AWAITING / MAX_AWAITING_PER_GROUP) + 1
    let pushed = 0
    for (let g = 0; g < groups; g++) for (let n = 0; n < MAX_AWAITING_PER_GROUP; n++) pushed += awaiting.hold(`g${g}`, `${g}.${n}`, "r", g * 1000 + n).length
    expect(awaiting.size).toBe(MAX_AWAITING)
    expect(pushed).toBe(groups * MAX_AWAITING_PER_GROUP - MAX_AWAITING)
    // The first group's oldest went first.
    expect(awaiting.release("g0").length).toBeLessThan(MAX_AWAITING_PER_GROUP)
  })

  it("gives up frames older than AWAITING_GROUP_MS, keeping the younger ones and their first time", () => {
    const awaiting = new AwaitingGroup<number>()
    awaiting.hold("team", 1, "no key", 0)
    awaiting.hold("team", 2, "no key", AWAITING_GROUP_MS / 2)
    expect(awaiting.expire(AWAITING_GROUP_MS).map((w) => [w.item, w.reason])).toEqual([[1, "no key"]])
    expect(awaiting.release("team")).toEqual([{ item: 2, since: AWAITING_GROUP_MS / 2, reason: "no key" }])
    expect(awaiting.size).toBe(0)
  })
})
