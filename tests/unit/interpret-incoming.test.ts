/**
 * Spoofed, misrouted and stale messages: each is dropped with a reason and leaves the state as it
 * was (the negative space of decide.ts), while the genuine message goes through.
 */
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { evolve } from "../../domain/chat/chat-state.ts"
import { decideIncoming, interpretIncoming, MAX_PENDING_INCOMING } from "../../domain/chat/decide.ts"
import type { GroupName, MessageId, UserId } from "../../domain/ids.ts"
import { closeWorlds, startedWorld } from "../support/sim-world.ts"
import type { Body, Envelope } from "../../domain/wire/messages.ts"

let counter = 0
// A clock past the group foundings of these tests: a founding is never later than its message (plausible.ts).
const env = (from: string, body: Body): Envelope => ({ v: 1, id: `spoof${String(counter++).padStart(6, "0")}` as MessageId, from: from as UserId, ts: 1, clock: 100, body })

afterEach(closeWorlds)

/** Three real services that have seen each other's presence; each user's state as it is now. */
const setup = async () => {
  const world = await startedWorld(3, 1)
  const user = async (i: number) => ({ id: world.ids[i]!, state: await world.state(i) })
  return { world, user, a: await user(0), b: await user(1), c: await user(2) }
}

const dropReason = (result: Result.Result<unknown, { reason: string }>) => (Result.isFailure(result) ? result.failure.reason : "accepted")

describe("incoming messages that must be dropped", () => {
  it("a request addressed to someone else, or outside my control topic", async () => {
    const { a, b, c } = await setup()
    expect(dropReason(interpretIncoming(a.state, `${a.id}_control`, env(b.id, { _tag: "chat.request", to: c.id, attempt: 1, ends: 0 })))).toMatch(/addressed to/)
    expect(dropReason(interpretIncoming(a.state, `${c.id}_control`, env(b.id, { _tag: "chat.request", to: a.id, attempt: 1, ends: 0 })))).toMatch(/outside my control topic/)
    expect(dropReason(interpretIncoming(a.state, "global_control", env(b.id, { _tag: "chat.request", to: a.id, attempt: 1, ends: 0 })))).toMatch(/outside my control topic/)
    expect(dropReason(interpretIncoming(a.state, `${a.id}_control`, env(b.id, { _tag: "chat.request", to: a.id, attempt: 1, ends: 0 })))).toBe("accepted")
  })

  it("an acceptance naming a topic that is not the pair's", async () => {
    const { a, b, c } = await setup()
    const wrong = env(b.id, { _tag: "chat.accept", to: a.id, attempt: 1, topic: `${c.id.slice(5)}_${a.id.slice(5)}_talk` as never })
    expect(dropReason(interpretIncoming(a.state, `${a.id}_control`, wrong))).toBe("wrong talk topic")
  })

  it("an acceptance nobody asked for opens nothing, sends nothing and stores nothing", async () => {
    const { a, b } = await setup()
    const unasked = env(b.id, { _tag: "chat.accept", to: a.id, attempt: 3, topic: `${a.id.slice(5)}_${b.id.slice(5)}_talk` as never })
    const result = decideIncoming(a.state, `${a.id}_control`, unasked, { now: 1, newMessageId: () => "x".repeat(16) as MessageId })
    // An acceptance answers a request of mine: with no conversation there is none it could answer,
    // so there is no stance worth keeping (a flood of them from fake ids would grow the state).
    expect(dropReason(result)).toBe("chat.accept from someone I have no conversation with")
  })

  it("chat text on someone else's topic, or from outside the pair, or with no conversation", async () => {
    const { a, b, c } = await setup()
    const pairBC = `${b.id.slice(5)}_${c.id.slice(5)}_talk`
    expect(dropReason(interpretIncoming(a.state, pairBC, env(b.id, { _tag: "chat.message", text: "x", n: 1 })))).toMatch(/someone else's topic/)
    const pairAB = `${a.id.slice(5)}_${b.id.slice(5)}_talk`
    expect(dropReason(interpretIncoming(a.state, pairAB, env(c.id, { _tag: "chat.message", text: "x", n: 1 })))).toMatch(/someone else's topic/)
    expect(dropReason(interpretIncoming(a.state, pairAB, env(b.id, { _tag: "chat.message", text: "x", n: 1 })))).toMatch(/while the conversation is idle/)
  })

  it("presence for another user, group information from a non-leader, group text from a non-member", async () => {
    const { world, user, a: before, b: bBefore, c } = await setup()
    expect(dropReason(interpretIncoming(before.state, `global_control/presence/${c.id}`, env(bBefore.id, { _tag: "presence", status: "offline", session: 9, connection: 1 })))).toBe("presence for another user")
    expect(dropReason(interpretIncoming(before.state, "global_control", env(bBefore.id, { _tag: "presence", status: "offline", session: 9, connection: 1 })))).toMatch(/announcement on global_control/)
    expect(dropReason(interpretIncoming(before.state, `global_control/presence/${bBefore.id}`, env(bBefore.id, { _tag: "presence", status: "offline", session: 9, connection: 1 })))).toBe("accepted")
    await world.command(0, { _tag: "group.create", group: "team" as GroupName })
    await world.drain()
    const a = await user(0)
    const b = await user(1)
    const info = a.state.groups.get("team")!.context.info!
    const forged = { ...info, members: [...info.members, c.id], version: info.version + 5 }
    const spoof = decideIncoming(b.state, "global_control/groups/team", env(c.id, { _tag: "group.info", info: forged }), { now: 1, newMessageId: () => "y".repeat(16) as MessageId })
    expect(dropReason(spoof)).toMatch(/changes nothing/)
    expect(b.state.groups.get("team")!.context.info).toEqual(info)
    expect(dropReason(interpretIncoming(a.state, "group_team_talk", env(c.id, { _tag: "group.message", group: "team" as GroupName, text: "hi", n: 1 })))).toMatch(/non-member/)
    expect(dropReason(interpretIncoming(a.state, "group_other_talk", env(b.id, { _tag: "group.message", group: "team" as GroupName, text: "hi", n: 1 })))).toMatch(/wrong topic/)
  })

  it("my own echoes and duplicates", async () => {
    const { world, user, a, b } = await setup()
    expect(dropReason(interpretIncoming(a.state, `global_control/presence/${a.id}`, env(a.id, { _tag: "presence", status: "online", session: 1, connection: 1 })))).toBe("my own message")
    await world.command(0, { _tag: "conversation.request", peer: b.id })
    // The signed frame waiting at the broker for B: its message is the envelope.
    const request = world.world.broker.waiting(b.id).find((m) => m.topic.endsWith("_control"))!
    await world.drain()
    const replayed = JSON.parse(String(JSON.parse(new TextDecoder().decode(request.payload)).m)) as Envelope
    expect(dropReason(interpretIncoming((await user(1)).state, request.topic, replayed))).toBe("duplicate")
  })
})

describe("bounds on what strangers can make me keep", () => {
  it("requests from new senders are dropped once MAX_PENDING_INCOMING wait for an answer", async () => {
    const world = await startedWorld(1, 2)
    const me = { id: world.ids[0]!, state: await world.state(0) }
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
