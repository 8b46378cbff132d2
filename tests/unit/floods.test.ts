/**
 * Floods from ids nobody knows: what each kind of unsolicited message can make the core store.
 * Every attack runs on the real decide/evolve, from fake ids (an attacker mints as many as it
 * likes, signed or not), on a state that a real chat service reached in the simulation world, and
 * checks the bound on the state — and that a real peer still gets in.
 */
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { evolve, MAX_UNOPENED, type ChatState } from "../../domain/chat/chat-state.ts"
import {
  decideIncoming,
  MAX_GROUPS_PER_FOUNDER,
  MAX_LISTED_GROUPS,
  MAX_PENDING_INCOMING,
  MAX_PENDING_JOINS_TOTAL,
  MAX_PRESENCE_USERS,
} from "../../domain/chat/decide.ts"
import type { GroupName, MessageId, UserId } from "../../domain/ids.ts"
import { MAX_PENDING_JOINS } from "../../domain/group/group.machine.ts"
import { closeWorlds, must, openConversation, startedWorld } from "../support/sim-world.ts"
import type { Body, Envelope, GroupInfo } from "../../domain/wire/messages.ts"

let counter = 0
const env = (from: string, body: Body, clock = 100): Envelope => ({ v: 1, id: `flood${String(counter++).padStart(8, "0")}` as MessageId, from: from as UserId, ts: 1, clock, body })
const fake = (i: number) => `user-${100000 + i}` as UserId
const context = { now: 1_000, newMessageId: () => `reply${String(counter++).padStart(8, "0")}` as MessageId }

/** Decides and folds each message in turn; returns the final state and how many were stored. */
const flood = (start: ChatState, messages: Iterable<{ readonly topic: string; readonly envelope: Envelope }>) => {
  let state = start
  let stored = 0
  const reasons = new Map<string, number>()
  for (const { topic, envelope } of messages) {
    const decided = decideIncoming(state, topic, envelope, context)
    if (Result.isFailure(decided)) {
      const key = decided.failure.reason.replace(/user-\d+/g, "user-N").replace(/#?[a-z]+\d+/g, "NAME")
      reasons.set(key, (reasons.get(key) ?? 0) + 1)
      continue
    }
    for (const entry of decided.success) {
      state = evolve(state, { seq: state.lastSeq + 1, ...entry })
      stored += 1
    }
  }
  return { state, stored, reasons }
}

function* range(count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield i
}

afterEach(closeWorlds)

/** Me (and a peer) as real services; `me.state` is my state now, `user(i)` reads it again. */
const setup = async (users = 2) => {
  const world = await startedWorld(users, 7)
  const user = async (i: number) => ({ id: world.ids[i]! as UserId, state: await world.state(i) })
  return { world, user, me: await user(0), peer: users > 1 ? await user(1) : undefined }
}

/** The envelopes of the signed frames waiting at the broker for user `index` on `suffix` topics. */
const waitingEnvelopes = (world: Awaited<ReturnType<typeof setup>>["world"], index: number, suffix: string) =>
  world.world.broker.waiting(world.ids[index]!).filter((m) => m.topic.endsWith(suffix)).map((m) => ({
    topic: m.topic,
    envelope: JSON.parse(String(JSON.parse(new TextDecoder().decode(m.payload)).m)) as Envelope,
  }))

describe("one-to-one stances from ids I have no conversation with", () => {
  it("10,000 forged acceptances and refusals store nothing; forged leaves keep at most MAX_UNOPENED tombstones", async () => {
    const { me } = await setup(1)
    const control = `${me.id}_control`
    const talk = (from: UserId) => `${me.id.slice(5)}_${from.slice(5)}_talk` as never
    const answers = [...range(10_000)].map((i) => {
      const from = fake(i)
      const body: Body = i % 2 === 0 ? { _tag: "chat.accept", to: me.id, attempt: 1, topic: talk(from) } : { _tag: "chat.refuse", to: me.id, attempt: 1, refuses: 1, reason: "no" }
      return { topic: control, envelope: env(from, body) }
    })
    const answered = flood(me.state, answers)
    expect(answered.stored).toBe(0)
    expect(answered.state.conversations.size).toBe(0)
    // A leave can withdraw a request still on its way (kept, so that the request does not come
    // back when it arrives late), but at most MAX_UNOPENED of them, and never a leave of attempt 1.
    const leaves = [...range(3_000)].map((i) => ({ topic: control, envelope: env(fake(i), { _tag: "chat.leave", to: me.id, attempt: 1 + (i % 2), ends: 0, topic: talk(fake(i)) }) }))
    const left = flood(me.state, leaves)
    expect(left.stored).toBe(1_500)
    expect(left.state.conversations.size).toBe(MAX_UNOPENED)
    expect(left.state.index.unopened.numberOf.size).toBe(MAX_UNOPENED)
  })

  it("a withdrawal that overtakes its request is not undone when the request arrives", async () => {
    const { world, me, peer } = await setup()
    expect(await world.command(1, { _tag: "conversation.request", peer: me.id })).toBeNull()
    expect(await world.command(1, { _tag: "conversation.leave", peer: me.id })).toBeNull()
    const toMe = waitingEnvelopes(world, 0, "_control")
    expect(toMe.map((d) => d.envelope.body._tag)).toEqual(["chat.request", "chat.leave"])
    const { state } = flood(me.state, [...toMe].reverse())
    expect(state.conversations.get(peer!.id)?.value).toBe("closed")
  })

  it("a refusal of mine is never forgotten: asked again, my acceptance opens both sides", async () => {
    const { world, user, me, peer } = await setup()
    await must(world, 1, { _tag: "conversation.request", peer: me.id })
    await must(world, 0, { _tag: "conversation.refuse", peer: peer!.id, reason: "not now" })
    await must(world, 1, { _tag: "conversation.request", peer: me.id })
    await must(world, 0, { _tag: "conversation.accept", peer: peer!.id })
    expect([(await user(0)).state.conversations.get(peer!.id)?.value, (await user(1)).state.conversations.get(me.id)?.value]).toEqual(["active", "active"])
  })

  it("a stranger's acceptance stored nothing, so my later request to that id still asks", async () => {
    const { world, user, me, peer } = await setup()
    const control = `${me.id}_control`
    const forged = env(peer!.id, { _tag: "chat.accept", to: me.id, attempt: 5, topic: `${me.id.slice(5)}_${peer!.id.slice(5)}_talk` as never })
    expect(flood(me.state, [{ topic: control, envelope: forged }]).stored).toBe(0)
    expect(await world.command(0, { _tag: "conversation.request", peer: peer!.id })).toBeNull()
    expect((await user(0)).state.conversations.get(peer!.id)?.value).toBe("outgoing")
  })

  it("requests withdrawn before I answered leave at most MAX_UNOPENED tombstones: request/withdraw cycles do not grow the state", async () => {
    const { me } = await setup(1)
    const control = `${me.id}_control`
    const talk = (from: UserId) => `${me.id.slice(5)}_${from.slice(5)}_talk` as never
    const messages = [...range(3_000)].flatMap((i) => [
      { topic: control, envelope: env(fake(i), { _tag: "chat.request", to: me.id, attempt: 1, ends: 0 }) },
      { topic: control, envelope: env(fake(i), { _tag: "chat.leave", to: me.id, attempt: 2, ends: 0, topic: talk(fake(i)) }) },
    ])
    const { state, stored } = flood(me.state, messages)
    expect(stored).toBe(6_000)
    expect(state.conversations.size).toBe(MAX_UNOPENED)
    expect(state.index.incoming).toBe(0)
    // The history of requests remembers them (bounded at 500), as withdrawn.
    expect(state.requests.every((r) => r.status === "withdrawn")).toBe(true)
  })

  it("unanswered requests are bounded, counted without a scan, and a real peer's request waits its turn", async () => {
    const { me } = await setup(1)
    const control = `${me.id}_control`
    const { state, stored, reasons } = flood(me.state, [...range(MAX_PENDING_INCOMING + 500)].map((i) => ({ topic: control, envelope: env(fake(i), { _tag: "chat.request", to: me.id, attempt: 1, ends: 0 }) })))
    expect(stored).toBe(MAX_PENDING_INCOMING)
    expect(state.index.incoming).toBe(MAX_PENDING_INCOMING)
    expect([...reasons.keys()].some((r) => /requests are waiting/.test(r))).toBe(true)
  })
})

describe("groups", () => {
  const info = (name: string, founder: UserId, clock: number): GroupInfo => ({
    name: name as GroupName, leader: founder, members: [founder], version: 1, foundedClock: clock, foundedBy: founder, dissolved: false,
  })

  it("20,000 retained foundings from fake ids: at most MAX_LISTED_GROUPS groups I am not in are kept", async () => {
    const { me } = await setup(1)
    const messages = [...range(20_000)].map((i) => {
      const name = `junk${i}`
      return { topic: `global_control/groups/${name}`, envelope: env(fake(i), { _tag: "group.info", info: info(name, fake(i), 5) }) }
    })
    const { state, stored, reasons } = flood(me.state, messages)
    expect(stored).toBe(MAX_LISTED_GROUPS)
    expect(state.groups.size).toBe(MAX_LISTED_GROUPS)
    expect(state.index.outside).toBe(MAX_LISTED_GROUPS)
    expect([...reasons.keys()].some((r) => /groups I am not in/.test(r))).toBe(true)
  })

  it("one founder gets at most MAX_GROUPS_PER_FOUNDER listed groups", async () => {
    const { me } = await setup(1)
    const founder = fake(1)
    const messages = [...range(200)].map((i) => ({ topic: `global_control/groups/g${i}`, envelope: env(founder, { _tag: "group.info", info: info(`g${i}`, founder, 5) }) }))
    const { state, stored } = flood(me.state, messages)
    expect(stored).toBe(MAX_GROUPS_PER_FOUNDER)
    expect(state.index.outsideByFounder.get(founder)).toBe(MAX_GROUPS_PER_FOUNDER)
  })

  it("join requests: bounded per group I lead and over all of them", async () => {
    const { world, user } = await setup(1)
    const groups = Math.ceil(MAX_PENDING_JOINS_TOTAL / MAX_PENDING_JOINS) + 2
    for (let g = 0; g < groups; g++) await must(world, 0, { _tag: "group.create", group: `lead${g}` as GroupName })
    const me = await user(0)
    const control = `${me.id}_control`
    const messages = [...range(groups)].flatMap((g) => [...range(MAX_PENDING_JOINS + 50)].map((i) => ({
      topic: control,
      envelope: env(fake(g * 1000 + i), { _tag: "group.join", group: `lead${g}` as GroupName, attempt: 1 }),
    })))
    const { state, stored } = flood(me.state, messages)
    expect(stored).toBe(MAX_PENDING_JOINS_TOTAL)
    expect(state.index.pendingJoins).toBe(MAX_PENDING_JOINS_TOTAL)
    for (const snapshot of state.groups.values()) expect(snapshot.context.pending.length).toBeLessThanOrEqual(MAX_PENDING_JOINS)
  })

  it("join requests, refusals and leaves for groups I do not know store nothing", async () => {
    const { me } = await setup(1)
    const control = `${me.id}_control`
    const messages = [...range(3_000)].map((i) => {
      const group = `nothing${i}` as GroupName
      const body: Body = i % 3 === 0 ? { _tag: "group.join", group, attempt: 1 }
        : i % 3 === 1 ? { _tag: "group.leave", group }
        : { _tag: "group.refuse", group, to: me.id, attempt: 1, reason: "no" }
      return { topic: control, envelope: env(fake(i), body) }
    })
    const { state, stored } = flood(me.state, messages)
    expect(stored).toBe(0)
    expect(state.groups.size).toBe(0)
  })
})

describe("presence", () => {
  it("the presence map is bounded; a contact's presence still gets in once it is full", async () => {
    const { world, user, peer } = await setup()
    // A real conversation first: the peer is a contact.
    await openConversation(world, 0, 1)
    const me = await user(0)
    const before = me.state.presence.size
    const messages = [...range(MAX_PRESENCE_USERS + 1_000)].map((i) => ({
      topic: `global_control/presence/${fake(i)}`,
      envelope: env(fake(i), { _tag: "presence", status: "online", session: 1, connection: 1 }),
    }))
    const { state, stored } = flood(me.state, messages)
    expect(state.presence.size).toBe(MAX_PRESENCE_USERS)
    expect(stored).toBe(MAX_PRESENCE_USERS - before)
    const contact = flood(state, [{ topic: `global_control/presence/${peer!.id}`, envelope: env(peer!.id, { _tag: "presence", status: "offline", session: 99, connection: 1 }) }])
    expect(contact.stored).toBe(1)
    expect(contact.state.presence.get(peer!.id)?.value).toBe("offline")
  })
})
