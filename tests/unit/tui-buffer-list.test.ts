/**
 * The side list's buffers (adapters/tui/buffer-list.ts): a group closed after leaving it stays out
 * of the list when only its history would bring it back — also in the next run, from the names
 * saved in ui-state.json — and comes back as soon as I am in it (or asking to join) again.
 */
import { describe, expect, it } from "vitest"
import type { GroupName, UserId } from "../../domain/ids.ts"
import { BufferList } from "../../adapters/tui/buffer-list.ts"
import type { ChatSnapshot, GroupListing } from "../../adapters/tui/chat-port.ts"

const ME = "user-10"

const group = (name: string, me: GroupListing["me"]): GroupListing => ({ name: name as GroupName, leader: "user-20" as UserId, members: ["user-20" as UserId], me, pending: [] })

const snapshot = (groups: ReadonlyArray<GroupListing>): ChatSnapshot => ({
  users: [],
  groups,
  requests: [],
  acceptances: [],
  // #team has a history in the log.
  topics: new Map([["group_team_talk", { messages: 3, sent: 1, lastAt: 0, lastSeq: 3 }]]),
  outcomes: {},
  lastSeq: 3,
  keyChanges: [],
  closed: new Set(),
  unsent: new Set(),
})

describe("BufferList and closed groups", () => {
  it("a group left and closed stays closed in the next run, until I join it again", () => {
    const left = snapshot([group("team", "listed")])
    const first = new BufferList(ME, 3)
    first.sync(left, new Set())
    expect(first.order).toEqual(["status", "#team"])
    first.close("#team")
    first.sync(left, new Set())
    expect(first.order).toEqual(["status"])
    expect(first.closedGroups()).toEqual(["team"])

    // The next run starts from the saved names: the history alone does not bring it back.
    const next = new BufferList(ME, 3, first.closedGroups())
    next.sync(left, new Set())
    expect(next.order).toEqual(["status"])
    // Without the saved names it would come back (what the list did before).
    const forgetful = new BufferList(ME, 3)
    forgetful.sync(left, new Set())
    expect(forgetful.order).toEqual(["status", "#team"])

    next.sync(snapshot([group("team", "joining")]), new Set())
    expect(next.order).toEqual(["status", "#team"])
    expect(next.closedGroups()).toEqual([])
  })
})
