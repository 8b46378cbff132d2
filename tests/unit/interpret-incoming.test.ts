/**
 * Spoofed, misrouted and stale messages: each is dropped with a reason and leaves the state as it
 * was (the negative space of decide.ts), while the genuine message goes through.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { evolve } from "../../domain/chat/chat-state.ts"
import { decideIncoming, interpretIncoming, MAX_PENDING_INCOMING } from "../../domain/chat/decide.ts"
import type { GroupName, MessageId, UserId } from "../../domain/ids.ts"
import { Cluster } from "../../domain/sim/cluster.ts"
import type { Body, Envelope } from "../../domain/wire/messages.ts"

let counter = 0
// A clock past the group foundings of these tests: a founding is never later than its message (plausible.ts).
const env = (from: string, body: Body): Envelope => ({ v: 1, id: `spoof${String(counter++).padStart(6, "0")}` as MessageId, from: from as UserId, ts: 1, clock: 100, body })

const setup = () => {
  const cluster = new Cluster({ seed: 1, users: 3 })
  for (let i = 0; i < 3; i++) cluster.command(i, { _tag: "session.start" })
  cluster.drain()
  return { cluster, a: cluster.users[0]!, b: cluster.users[1]!, c: cluster.users[2]! }
}

const dropReason = (result: Result.Result<unknown, { reason: string }>) => (Result.isFailure(result) ? result.failure.reason : "accepted")

describe("incoming messages that must be dropped", () => {
  it("a request addressed to someone else, or outside my control topic", () => {
    const { a, b, c } = setup()
    expect(dropReason(interpretIncoming(a.state, `${a.id}_control`, env(b.id, { _tag: "chat.request", to: c.id, attempt: 1, ends: 0 })))).toMatch(/addressed to/)
    expect(dropReason(interpretIncoming(a.state, `${c.id}_control`, env(b.id, { _tag: "chat.request", to: a.id, attempt: 1, ends: 0 })))).toMatch(/outside my control topic/)
    expect(dropReason(interpretIncoming(a.state, "global_control", env(b.id, { _tag: "chat.request", to: a.id, attempt: 1, ends: 0 })))).toMatch(/outside my control topic/)
    expect(dropReason(interpretIncoming(a.state, `${a.id}_control`, env(b.id, { _tag: "chat.request", to: a.id, attempt: 1, ends: 0 })))).toBe("accepted")
  })

  it("an acceptance naming a topic that is not the pair's", () => {
    const { a, b, c } = setup()
    const wrong = env(b.id, { _tag: "chat.accept", to: a.id, attempt: 1, topic: `${c.id.slice(5)}_${a.id.slice(5)}_talk` as never })
    expect(dropReason(interpretIncoming(a.state, `${a.id}_control`, wrong))).toBe("wrong talk topic")
  })

  it("an acceptance nobody asked for opens nothing, sends nothing and stores nothing", () => {
    const { a, b } = setup()
    const unasked = env(b.id, { _tag: "chat.accept", to: a.id, attempt: 3, topic: `${a.id.slice(5)}_${b.id.slice(5)}_talk` as never })
    const result = decideIncoming(a.state, `${a.id}_control`, unasked, { now: 1, newMessageId: () => "x".repeat(16) as MessageId })
    // An acceptance answers a request of mine: with no conversation there is none it could answer,
    // so there is no stance worth keeping (a flood of them from fake ids would grow the state).
    expect(dropReason(result)).toBe("chat.accept from someone I have no conversation with")
  })

  it("chat text on someone else's topic, or from outside the pair, or with no conversation", () => {
    const { a, b, c } = setup()
    const pairBC = `${b.id.slice(5)}_${c.id.slice(5)}_talk`
    expect(dropReason(interpretIncoming(a.state, pairBC, env(b.id, { _tag: "chat.message", text: "x", n: 1 })))).toMatch(/someone else's topic/)
    const pairAB = `${a.id.slice(5)}_${b.id.slice(5)}_talk`
    expect(dropReason(interpretIncoming(a.state, pairAB, env(c.id, { _tag: "chat.message", text: "x", n: 1 })))).toMatch(/someone else's topic/)
    expect(dropReason(interpretIncoming(a.state, pairAB, env(b.id, { _tag: "chat.message", text: "x", n: 1 })))).toMatch(/while the conversation is idle/)
  })

  it("presence for another user, group information from a non-leader, group text from a non-member", () => {
    const { cluster, a, b, c } = setup()
    expect(dropReason(interpretIncoming(a.state, `global_control/presence/${c.id}`, env(b.id, { _tag: "presence", status: "offline", session: 9, connection: 1 })))).toBe("presence for another user")
    expect(dropReason(interpretIncoming(a.state, "global_control", env(b.id, { _tag: "presence", status: "offline", session: 9, connection: 1 })))).toMatch(/announcement on global_control/)
    expect(dropReason(interpretIncoming(a.state, `global_control/presence/${b.id}`, env(b.id, { _tag: "presence", status: "offline", session: 9, connection: 1 })))).toBe("accepted")
    cluster.command(0, { _tag: "group.create", group: "team" as GroupName })
    cluster.drain()
    const info = a.state.groups.get("team")!.context.info!
    const forged = { ...info, members: [...info.members, c.id], version: info.version + 5 }
    const spoof = decideIncoming(b.state, "global_control/groups/team", env(c.id, { _tag: "group.info", info: forged }), { now: 1, newMessageId: () => "y".repeat(16) as MessageId })
    expect(dropReason(spoof)).toMatch(/changes nothing/)
    expect(b.state.groups.get("team")!.context.info).toEqual(info)
    expect(dropReason(interpretIncoming(a.state, "group_team_talk", env(c.id, { _tag: "group.message", group: "team" as GroupName, text: "hi", n: 1 })))).toMatch(/non-member/)
    expect(dropReason(interpretIncoming(a.state, "group_other_talk", env(b.id, { _tag: "group.message", group: "team" as GroupName, text: "hi", n: 1 })))).toMatch(/wrong topic/)
  })

  it("my own echoes and duplicates", () => {
    const { cluster, a, b } = setup()
    expect(dropReason(interpretIncoming(a.state, `global_control/presence/${a.id}`, env(a.id, { _tag: "presence", status: "online", session: 1, connection: 1 })))).toBe("my own message")
    cluster.command(0, { _tag: "conversation.request", peer: b.id })
    const request = cluster.network.find((d) => d.to === b.id && d.topic.endsWith("_control"))!
    cluster.drain()
    const replayed = JSON.parse(request.payload) as Envelope
    expect(dropReason(interpretIncoming(b.state, request.topic, replayed))).toBe("duplicate")
  })
})

describe("bounds on what strangers can make me keep", () => {
  it("requests from new senders are dropped once MAX_PENDING_INCOMING wait for an answer", () => {
    const cluster = new Cluster({ seed: 2, users: 1 })
    cluster.command(0, { _tag: "session.start" })
    const me = cluster.users[0]!
    const context = { now: 1, newMessageId: () => "zzzzzzzz00000000" as MessageId }
    let state = me.state
    for (let i = 0; i < MAX_PENDING_INCOMING; i++) {
      const from = `user-${50000 + i}`
      const decided = decideIncoming(state, `${me.id}_control`, env(from, { _tag: "chat.request", to: me.id, attempt: 1, ends: 0 }), context)
      if (Result.isFailure(decided)) throw new Error(decided.failure.reason)
      for (const entry of decided.success) state = evolve(state, { seq: state.lastSeq + 1, ...entry })
    }
    const one = decideIncoming(state, `${me.id}_control`, env("user-60000", { _tag: "chat.request", to: me.id, attempt: 1, ends: 0 }), context)
    expect(dropReason(one)).toMatch(/requests are waiting/)
  })
})
