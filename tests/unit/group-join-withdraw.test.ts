/**
 * Withdrawing a join request (`/close` or `/leave` on a group I asked to join): the requester sends
 * the group.leave a member would, and is at once out of `joining`; the leader drops the pending
 * request (its list says "withdrawn") and does not ask again for a late copy of it. An acceptance
 * that crosses the withdrawal does not make the requester a member: it leaves again at once.
 * On real chat services in the simulation world (tests/support/sim-world.ts).
 */
import { afterEach, describe, expect, it } from "vitest"
import { groupView } from "../../domain/chat/chat-state.ts"
import type { GroupName } from "../../domain/ids.ts"
import { closeWorlds, must, startedWorld } from "../support/sim-world.ts"

afterEach(closeWorlds)

const team = "team" as GroupName

/** A leads #team; B asked to join and A has the request. */
const asked = async () => {
  const world = await startedWorld(2, 5)
  await must(world, 0, { _tag: "group.create", group: team })
  await must(world, 1, { _tag: "group.join", group: team })
  const a = { id: world.ids[0]!, state: async () => world.state(0) }
  const b = { id: world.ids[1]!, state: async () => world.state(1) }
  expect((await a.state()).groups.get(team)?.context.pending.map((p) => p.user)).toEqual([b.id])
  return { world, a, b }
}

const statusAtLeader = async (leader: { readonly state: () => Promise<{ readonly requests: ReadonlyArray<{ readonly from: string; readonly status: string }> }> }, from: string) =>
  (await leader.state()).requests.filter((r) => r.from === from).map((r) => r.status)

describe("withdrawing a join request", () => {
  it("the leader is told: the request is withdrawn, and cannot be accepted any more", async () => {
    const { world, a, b } = await asked()
    expect(groupView(await b.state(), team)).toBe("joining")
    expect(await world.command(1, { _tag: "group.leave", group: team })).toBeNull()
    expect(groupView(await b.state(), team)).toBe("listed")
    await world.drain()
    expect((await a.state()).groups.get(team)?.context.pending).toEqual([])
    expect(await statusAtLeader(a, b.id)).toEqual(["withdrawn"])
    expect(await world.command(0, { _tag: "group.accept", group: team, user: b.id })).toMatch(/no pending request/)
    // Nothing to withdraw any more.
    expect(await world.command(1, { _tag: "group.leave", group: team })).toMatch(/not in team/)
  })

  it("a late copy of the withdrawn request is not asked again; a new /join is", async () => {
    const { world, a, b } = await asked()
    // The join request again (joining re-sends the same attempt), still on its way when B withdraws:
    // the broker holds it back (taken out of A's queue, delivered after everything else).
    expect(await world.command(1, { _tag: "group.join", group: team })).toBeNull()
    const broker = world.world.broker
    const waiting = broker.waiting(a.id).filter((m) => m.topic.endsWith("_control"))
    expect(waiting).toHaveLength(1)
    const copy = waiting[0]!
    expect(broker.discard(a.id, (m) => m === copy)).toBe(1)
    expect(await world.command(1, { _tag: "group.leave", group: team })).toBeNull()
    await world.drain()
    broker.inject(a.id, copy)
    await world.drain()
    expect((await a.state()).groups.get(team)?.context.pending).toEqual([])
    expect(await statusAtLeader(a, b.id)).toEqual(["withdrawn"])

    await must(world, 1, { _tag: "group.join", group: team })
    expect((await a.state()).groups.get(team)?.context.pending.map((p) => p.user)).toEqual([b.id])
    await must(world, 0, { _tag: "group.accept", group: team, user: b.id })
    expect(groupView(await b.state(), team)).toBe("member")
  })

  it("an acceptance that crosses the withdrawal: the requester leaves again at once, the group ends without it", async () => {
    const { world, a, b } = await asked()
    expect(await world.command(0, { _tag: "group.accept", group: team, user: b.id })).toBeNull()
    expect(await world.command(1, { _tag: "group.leave", group: team })).toBeNull()
    await world.drain()
    expect(groupView(await b.state(), team)).toBe("listed")
    expect((await a.state()).groups.get(team)?.context.info?.members).toEqual([a.id])
    expect((await b.state()).groups.get(team)?.context.info?.members).toEqual([a.id])
  })
})
