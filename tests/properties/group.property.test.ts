/**
 * Group membership under any interleaving of joins, decisions and leaves, with the network
 * duplicating and reordering every message. At quiescence every view equals the leader's.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import type { SnapshotFrom } from "xstate"
import { groupMachine, shouldAdopt, viewOfGroup, type GroupAction, type GroupEvent } from "../../domain/group/group.machine.ts"
import type { GroupName, UserId } from "../../domain/ids.ts"
import type { GroupInfo } from "../../domain/wire/messages.ts"
import { NUM_RUNS } from "../support/properties.ts"

type Snapshot = SnapshotFrom<typeof groupMachine>
const USERS = ["user-10001", "user-10002", "user-10003", "user-10004"] as unknown as ReadonlyArray<UserId>
const NAME = "rustaceans" as GroupName

type Step =
  | { kind: "join"; user: number }
  | { kind: "leave"; user: number }
  | { kind: "decide"; accept: boolean; pick: number }
  | { kind: "deliver"; pick: number; duplicate: boolean }
  | { kind: "spoof"; user: number; version: number }
  /** Deliver everything in flight, each once, duplicating what `duplicate` copies says. */
  | { kind: "settle"; copies?: number }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("join" as const), user: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant("leave" as const), user: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant("decide" as const), accept: fc.boolean(), pick: fc.nat() }),
  fc.record({ kind: fc.constant("deliver" as const), pick: fc.nat(), duplicate: fc.boolean() }),
  fc.record({ kind: fc.constant("deliver" as const), pick: fc.nat(), duplicate: fc.boolean() }),
  fc.record({ kind: fc.constant("spoof" as const), user: fc.integer({ min: 1, max: 3 }), version: fc.nat({ max: 50 }) }),
)

interface InFlight { readonly to: number; readonly event: GroupEvent }

function run(steps: ReadonlyArray<Step>) {
  const snapshots: Snapshot[] = USERS.map((me) => initialTransition(groupMachine, { me, name: NAME })[0])
  const network: InFlight[] = []
  const admitted = new Set<UserId>([USERS[0]!])

  const apply = (index: number, event: GroupEvent) => {
    const before = snapshots[index]!
    const [next, actions] = transition(groupMachine, before, event)
    snapshots[index] = next
    if (event.type === "join.accept" && viewOfGroup(before.context) === "leading" && next.context.info?.members.includes(event.user)) {
      admitted.add(event.user)
    }
    const from = USERS[index]!
    for (const action of actions as ReadonlyArray<{ type: string; params?: unknown }>) {
      const a = action as GroupAction
      switch (a.type) {
        case "publish.info":
          USERS.forEach((_, to) => { if (to !== index) network.push({ to, event: { type: "info.receive", from, info: a.params.info } }) })
          break
        case "send.join": network.push({ to: USERS.indexOf(a.params.leader), event: { type: "join.receive", from, attempt: a.params.attempt } }); break
        case "send.accept": network.push({ to: USERS.indexOf(a.params.to), event: { type: "info.receive", from, info: a.params.info } }); break
        case "send.refuse": network.push({ to: USERS.indexOf(a.params.to), event: { type: "refuse.receive", from, attempt: a.params.attempt } }); break
        case "send.leave": network.push({ to: USERS.indexOf(a.params.leader), event: { type: "leave.receive", from } }); break
        case "send.refuseAll":
          for (const p of a.params.refusals) network.push({ to: USERS.indexOf(p.user), event: { type: "refuse.receive", from, attempt: p.attempt } })
          break
      }
    }
    expect(network.length).toBeLessThan(20_000)
  }

  const founding: GroupInfo = { name: NAME, leader: USERS[0]!, members: [USERS[0]!], version: 1, foundedClock: 1, foundedBy: USERS[0]!, dissolved: false }
  apply(0, { type: "group.create", info: founding })

  for (const step of steps) {
    switch (step.kind) {
      case "join": apply(step.user, { type: "join.send" }); break
      case "leave": apply(step.user, { type: "leave.send" }); break
      case "decide": {
        const leader = snapshots.findIndex((s) => s.value === "leading")
        const pending = leader >= 0 ? snapshots[leader]!.context.pending : []
        if (pending.length === 0) break
        const user = pending[step.pick % pending.length]!.user
        apply(leader, step.accept ? { type: "join.accept", user } : { type: "join.refuse", user, reason: "no" })
        break
      }
      case "deliver": {
        if (network.length === 0) break
        const index = step.pick % network.length
        const message = network[index]!
        if (!step.duplicate) network.splice(index, 1)
        apply(message.to, message.event)
        break
      }
      case "settle": {
        for (let budget = 10_000; network.length > 0; budget--) {
          expect(budget).toBeGreaterThan(0)
          const message = network.shift()!
          for (let copy = 0; copy <= (step.copies ?? 0); copy++) apply(message.to, message.event)
        }
        break
      }
      case "spoof": {
        // A non-leader claims a newer version that adds itself: must change nothing anywhere.
        const current = snapshots[0]!.context.info ?? founding
        const forged: GroupInfo = { ...current, members: [...current.members, USERS[step.user]!], version: current.version + 1 + step.version }
        if (current.leader === USERS[step.user]) break
        USERS.forEach((_, to) => { if (to !== step.user) network.push({ to, event: { type: "info.receive", from: USERS[step.user]!, info: forged } }) })
        break
      }
    }
  }
  for (let budget = 200_000; network.length > 0; budget--) {
    expect(budget).toBeGreaterThan(0)
    const message = network.shift()!
    apply(message.to, message.event)
  }
  return { snapshots, admitted }
}

/** At quiescence: one view everywhere, one leader, members admitted by a leader, nobody waiting in vain. */
function expectConverged({ snapshots, admitted }: ReturnType<typeof run>): void {
  const infos = snapshots.map((s) => s.context.info)
  const newest = infos.reduce((a, b) => ((b?.version ?? -1) > (a?.version ?? -1) ? b : a))
  for (const info of infos) expect(info).toEqual(newest)
  const leaders = snapshots.filter((s) => s.value === "leading")
  expect(leaders.length).toBeLessThanOrEqual(1)
  if (newest !== null && !newest.dissolved) {
    expect(leaders.length).toBe(1)
    expect(leaders[0]!.context.me).toBe(newest.leader)
    for (const member of newest.members) expect(admitted.has(member)).toBe(true)
    for (const s of snapshots) {
      expect(s.value === "member" || s.value === "leading").toBe(newest.members.includes(s.context.me))
      // Nobody waits for an answer that cannot come: a joiner is pending at the leader.
      if (s.value === "joining") expect(leaders[0]!.context.pending.map((p) => p.user)).toContain(s.context.me)
    }
  }
}

describe("group membership", () => {
  it("every view converges to the leader's, and only the leader's acceptance adds a member", () => {
    fc.assert(fc.property(fc.array(stepArb, { maxLength: 80 }), (steps) => expectConverged(run(steps))), { numRuns: NUM_RUNS })
  })

  it("regression: the leader and its successor leave at the same time: the group does not lose its leader", () => {
    const result = run([
      { kind: "settle" }, { kind: "join", user: 1 }, { kind: "settle" }, { kind: "decide", accept: true, pick: 0 }, { kind: "settle" },
      { kind: "join", user: 2 }, { kind: "settle" }, { kind: "decide", accept: true, pick: 0 }, { kind: "settle" },
      { kind: "leave", user: 1 }, { kind: "leave", user: 0 }, { kind: "settle" },
    ])
    expectConverged(result)
    expect(result.snapshots[2]!.value).toBe("leading")
    expect(result.snapshots[2]!.context.info?.members).toEqual([USERS[2]])
  })

  it("a leader that sees a losing founding of its name publishes its own again (the retained copy must be the winner's)", () => {
    const mine: GroupInfo = { name: NAME, leader: USERS[1]!, members: [USERS[1]!], version: 1, foundedClock: 9, foundedBy: USERS[1]!, dissolved: false }
    const losing: GroupInfo = { ...mine, leader: USERS[2]!, members: [USERS[2]!], foundedClock: 3, foundedBy: USERS[2]! }
    const [leading] = transition(groupMachine, initialTransition(groupMachine, { me: USERS[1]!, name: NAME })[0], { type: "group.create", info: mine })
    const [after, actions] = transition(groupMachine, leading, { type: "info.receive", from: USERS[2]!, info: losing })
    expect(after.context.info).toEqual(mine)
    expect(actions.filter((a) => a.type === "publish.info").map((a) => (a.params as { info: GroupInfo }).info)).toEqual([mine])
  })

  it("a member who missed the handover accepts the new leader's own information", () => {
    const v2: GroupInfo = { name: NAME, leader: USERS[0]!, members: [USERS[0]!, USERS[1]!, USERS[2]!], version: 2, foundedClock: 1, foundedBy: USERS[0]!, dissolved: false }
    const v4: GroupInfo = { ...v2, leader: USERS[1]!, members: [USERS[1]!, USERS[2]!], version: 4 }
    expect(shouldAdopt(v2, v4, USERS[1]!)).toBe(true)
    // …but not a stranger naming itself leader, nor a member rewriting the list under the old leader's name.
    expect(shouldAdopt(v2, { ...v4, leader: USERS[3]!, members: [USERS[3]!] }, USERS[3]!)).toBe(false)
    expect(shouldAdopt(v2, { ...v2, members: [...v2.members, USERS[3]!], version: 9 }, USERS[2]!)).toBe(false)
  })

  it("regression: a join accepted just before the leader hands over", () => {
    expectConverged(run([
      { kind: "spoof", user: 3, version: 2 }, { kind: "deliver", pick: 7399076, duplicate: false }, { kind: "join", user: 3 },
      { kind: "deliver", pick: 1993199243, duplicate: false }, { kind: "decide", accept: true, pick: 0 }, { kind: "leave", user: 0 },
    ]))
  })

  it("duplicated join traffic changes nothing", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), (copies) => {
        const { snapshots } = run([
          { kind: "settle" },
          { kind: "join", user: 1 },
          { kind: "settle", copies },
          { kind: "decide", accept: true, pick: 0 },
          { kind: "settle", copies },
        ])
        expect(snapshots[0]!.context.info?.members).toEqual([USERS[0], USERS[1]])
        expect(snapshots[0]!.context.info?.version).toBe(2)
        expect(snapshots[0]!.context.pending).toEqual([])
        expect(snapshots[1]!.value).toBe("member")
        expect(snapshots[2]!.context.info).toEqual(snapshots[0]!.context.info)
      }),
      { numRuns: 50 },
    )
  })

  it("a refused request is not asked again by its duplicates; a new attempt is", () => {
    const { snapshots } = run([
      { kind: "settle" }, { kind: "join", user: 1 }, { kind: "settle", copies: 2 },
      { kind: "decide", accept: false, pick: 0 }, { kind: "settle", copies: 2 },
    ])
    expect(snapshots[1]!.value).toBe("listed")
    expect(snapshots[0]!.context.pending).toEqual([])
    const again = run([
      { kind: "settle" }, { kind: "join", user: 1 }, { kind: "settle" }, { kind: "decide", accept: false, pick: 0 }, { kind: "settle" },
      { kind: "join", user: 1 }, { kind: "settle" },
    ])
    expect(again.snapshots[1]!.value).toBe("joining")
    expect(again.snapshots[0]!.context.pending.map((p) => p.user)).toEqual([USERS[1]])
  })

  it("the leader leaving hands the group to the earliest member; the last one out dissolves it", () => {
    const { snapshots } = run([
      { kind: "settle" }, { kind: "join", user: 2 }, { kind: "settle" }, { kind: "decide", accept: true, pick: 0 }, { kind: "settle" },
      { kind: "join", user: 1 }, { kind: "settle" }, { kind: "decide", accept: true, pick: 0 }, { kind: "settle" },
      { kind: "leave", user: 0 }, { kind: "settle" },
    ])
    expect(snapshots[2]!.value).toBe("leading")
    expect(snapshots[0]!.value).toBe("listed")
    expect(snapshots[1]!.context.info).toMatchObject({ leader: USERS[2], members: [USERS[2], USERS[1]] })
    const last = run([{ kind: "leave", user: 0 }, { kind: "settle" }])
    expect(last.snapshots[0]!.context.info?.dissolved).toBe(true)
    expect(last.snapshots.every((s) => s.value === "absent")).toBe(true)
  })
})
