/**
 * Withdrawing a join request (`/close` or `/leave` on a group I asked to join): the requester sends
 * the group.leave a member would, and is at once out of `joining`; the leader drops the pending
 * request (its list says "withdrawn") and does not ask again for a late copy of it. An acceptance
 * that crosses the withdrawal does not make the requester a member: it leaves again at once.
 * On the real core and codec (domain/sim/cluster.ts).
 */
import { describe, expect, it } from "vitest"
import { groupView } from "../../domain/chat/chat-state.ts"
import type { GroupName } from "../../domain/ids.ts"
import { Cluster } from "../../domain/sim/cluster.ts"

const team = "team" as GroupName

/** A leads #team; B asked to join and A has the request. */
const asked = () => {
  const cluster = new Cluster({ seed: 5, users: 2 })
  cluster.command(0, { _tag: "session.start" })
  cluster.command(1, { _tag: "session.start" })
  const [a, b] = [cluster.users[0]!, cluster.users[1]!]
  expect(cluster.command(0, { _tag: "group.create", group: team })).toBeNull()
  cluster.drain()
  expect(cluster.command(1, { _tag: "group.join", group: team })).toBeNull()
  cluster.drain()
  expect(a.state.groups.get(team)?.context.pending.map((p) => p.user)).toEqual([b.id])
  return { cluster, a, b }
}

const statusAtLeader = (leader: { readonly state: { readonly requests: ReadonlyArray<{ readonly from: string; readonly status: string }> } }, from: string) =>
  leader.state.requests.filter((r) => r.from === from).map((r) => r.status)

describe("withdrawing a join request", () => {
  it("the leader is told: the request is withdrawn, and cannot be accepted any more", () => {
    const { cluster, a, b } = asked()
    expect(groupView(b.state, team)).toBe("joining")
    expect(cluster.command(1, { _tag: "group.leave", group: team })).toBeNull()
    expect(groupView(b.state, team)).toBe("listed")
    cluster.drain()
    expect(a.state.groups.get(team)?.context.pending).toEqual([])
    expect(statusAtLeader(a, b.id)).toEqual(["withdrawn"])
    expect(cluster.command(0, { _tag: "group.accept", group: team, user: b.id })).toMatch(/no pending request/)
    // Nothing to withdraw any more.
    expect(cluster.command(1, { _tag: "group.leave", group: team })).toMatch(/not in team/)
  })

  it("a late copy of the withdrawn request is not asked again; a new /join is", () => {
    const { cluster, a, b } = asked()
    // The join request again (joining re-sends the same attempt), still on its way when B withdraws.
    expect(cluster.command(1, { _tag: "group.join", group: team })).toBeNull()
    const lateCopy = cluster.network.findIndex((d) => d.to === a.id)
    expect(lateCopy).toBeGreaterThanOrEqual(0)
    const [copy] = cluster.network.splice(lateCopy, 1)
    expect(cluster.command(1, { _tag: "group.leave", group: team })).toBeNull()
    cluster.drain()
    cluster.network.push(copy!)
    cluster.drain()
    expect(a.state.groups.get(team)?.context.pending).toEqual([])
    expect(statusAtLeader(a, b.id)).toEqual(["withdrawn"])

    expect(cluster.command(1, { _tag: "group.join", group: team })).toBeNull()
    cluster.drain()
    expect(a.state.groups.get(team)?.context.pending.map((p) => p.user)).toEqual([b.id])
    expect(cluster.command(0, { _tag: "group.accept", group: team, user: b.id })).toBeNull()
    cluster.drain()
    expect(groupView(b.state, team)).toBe("member")
  })

  it("an acceptance that crosses the withdrawal: the requester leaves again at once, the group ends without it", () => {
    const { cluster, a, b } = asked()
    expect(cluster.command(0, { _tag: "group.accept", group: team, user: b.id })).toBeNull()
    expect(cluster.command(1, { _tag: "group.leave", group: team })).toBeNull()
    cluster.drain()
    expect(groupView(b.state, team)).toBe("listed")
    expect(a.state.groups.get(team)?.context.info?.members).toEqual([a.id])
    expect(b.state.groups.get(team)?.context.info?.members).toEqual([a.id])
  })
})
