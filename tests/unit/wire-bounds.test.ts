/**
 * Numbers from the wire that could break a profile or wedge a conversation (issue 7, parts 1 and 6):
 * each attack as the attacker sends it, then what must still hold — the log stores the next
 * decision, the profile replays, the conversation can be brought back by the real users.
 */
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { validateEntries } from "../../adapters/storage/log-rules.ts"
import { decodeRecordLine, encodeRecordLine } from "../../adapters/storage/record-codec.ts"
import { conversationView, evolve, groupView, initialChatState, replay, type ChatState } from "../../domain/chat/chat-state.ts"
import { decideCommand, decideIncoming } from "../../domain/chat/decide.ts"
import type { LogEntry, LogRecord } from "../../domain/events.ts"
import { topics, type GroupName, type MessageId, type UserId } from "../../domain/ids.ts"
import { closeWorlds, groupWith, must, openConversation, sendSignedAs, signerOf, startedWorld } from "../support/sim-world.ts"
import { SIM_START_MS } from "../../apps/sim/harness.ts"
import { clockCeiling, MAX_COUNTER, MAX_STEP, MAX_WIRE_CLOCK } from "../../domain/wire/limits.ts"
import { decodeEnvelopeText, encodeEnvelope, type GroupInfo } from "../../domain/wire/messages.ts"

/** The world's clock starts here (its TestClock); the pure decisions below use the same time. */
const NOW = SIM_START_MS
const POISON = 9007199254740990

let counter = 0
const json = (from: string, body: unknown, fields: Record<string, unknown> = {}) =>
  JSON.stringify({ v: 1, id: `attack${String(counter++).padStart(8, "0")}`, from, ts: NOW, clock: 5, body, ...fields })

const context = { now: NOW, newMessageId: () => `id${String(counter++).padStart(14, "0")}` as MessageId }

/** Decodes and decides as the service does; returns the drop reason or the state after storing. */
const receive = (state: ChatState, topic: string, payload: string): { state: ChatState; dropped: string | null; entries: ReadonlyArray<LogEntry> } => {
  const decoded = decodeEnvelopeText(payload)
  if (Result.isFailure(decoded)) return { state, dropped: `${decoded.failure.reason}: ${"detail" in decoded.failure ? decoded.failure.detail : ""}`, entries: [] }
  const decided = decideIncoming(state, topic, decoded.success, context)
  if (Result.isFailure(decided)) return { state, dropped: decided.failure.reason, entries: [] }
  return { state: storeAll(state, decided.success), dropped: null, entries: decided.success }
}

/** What the log does on append: the schema check, the line codec; then the fold. */
const storeAll = (state: ChatState, entries: ReadonlyArray<LogEntry>): ChatState => {
  const valid = validateEntries(entries)
  if (Result.isFailure(valid)) throw new Error(`the log refuses the entries: ${valid.failure}`)
  let next = state
  for (const entry of valid.success) {
    const record: LogRecord = { seq: next.lastSeq + 1, ...entry }
    const line = decodeRecordLine(encodeRecordLine(record).subarray(0, -1))
    if (Result.isFailure(line)) throw new Error(`the record does not read back: ${line.failure.detail}`)
    next = evolve(next, line.success)
  }
  return next
}

const command = (state: ChatState, cmd: Parameters<typeof decideCommand>[1]): ChatState => {
  const decided = decideCommand(state, cmd, context)
  if (Result.isFailure(decided)) throw new Error(`refused: ${decided.failure.reason}`)
  for (const out of decided.success.out) expect(Result.isSuccess(decodeEnvelopeText(encodeEnvelope(out.envelope)))).toBe(true)
  return storeAll(state, [decided.success])
}

afterEach(closeWorlds)

/**
 * Three real services (A, B, C) in one world. `a`, `b`, `c` give each user's id and its state as
 * it is now (read again after every move); `world` makes the moves.
 */
const twoUsers = async () => {
  const world = await startedWorld(3, 3)
  const user = async (i: number) => ({ id: world.ids[i]! as UserId, state: await world.state(i) })
  return { world, user, a: await user(0), b: await user(1), c: await user(2) }
}

const talking = async () => {
  const users = await twoUsers()
  await openConversation(users.world, 0, 1)
  const [a, b] = [await users.user(0), await users.user(1)]
  expect(conversationView(a.state, b.id)).toBe("active")
  expect(conversationView(b.state, a.id)).toBe("active")
  return { ...users, a, b }
}

/** How many group.info messages user `index`'s service decided change nothing (they passed the signature check). */
const unchanged = async (world: Awaited<ReturnType<typeof twoUsers>>["world"], index: number): Promise<number> =>
  (await world.run(world.world.user(index).life!.service.stats)).droppedByReason["group.info changes nothing"] ?? 0

/** What an attacker holding `from`'s keys sends (signed by them), delivered to `to` through the broker. */
const inject = (world: Awaited<ReturnType<typeof twoUsers>>["world"], from: number, to: number, topic: string, payload: string) =>
  sendSignedAs(world, from, to, topic, payload)

describe("a poisoned Lamport clock", () => {
  it("a chat.request with clock 2^53 - 2 is dropped, and the next command is still stored", async () => {
    const { a, b } = await twoUsers()
    const { state, dropped } = receive(b.state, topics.control(b.id), json(a.id, { _tag: "chat.request", to: b.id, attempt: 1, ends: 0 }, { clock: POISON }))
    expect(dropped).toMatch(/clock/)
    const after = command(state, { _tag: "conversation.request", peer: a.id })
    expect(after.clock).toBeLessThan(clockCeiling(NOW) + 10)
  })

  it("a retained presence with a poisoned clock is dropped by everyone who connects", async () => {
    const { a, b } = await twoUsers()
    const { dropped } = receive(b.state, topics.presence(a.id), json(a.id, { _tag: "presence", status: "online", session: 3, connection: 1 }, { clock: POISON }))
    expect(dropped).toMatch(/clock/)
  })

  it("a clock at the wire's bound but beyond what anyone can have counted yet is dropped; a plausible one is adopted", async () => {
    const { a, b } = await twoUsers()
    const tooFar = receive(b.state, topics.presence(a.id), json(a.id, { _tag: "presence", status: "online", session: 3, connection: 1 }, { clock: MAX_WIRE_CLOCK }))
    expect(tooFar.dropped).toMatch(/beyond what any sender can have counted/)
    const high = clockCeiling(NOW) - 5
    const ok = receive(b.state, topics.presence(a.id), json(a.id, { _tag: "presence", status: "online", session: 3, connection: 1 }, { clock: high }))
    expect(ok.dropped).toBeNull()
    expect(ok.state.clock).toBe(high + 1)
    // The next decision still stores, and its messages pass every receiver's decoder.
    command(ok.state, { _tag: "conversation.request", peer: a.id })
  })

  it("a log written before the bound existed, with a clock near 2^53, replays into a working profile", () => {
    const me = "user-10001" as UserId
    const peer = "user-10002" as UserId
    const records: LogRecord[] = [
      { seq: 1, at: NOW, clock: 1, event: { _tag: "profile.created", user: me }, out: [] },
      { seq: 2, at: NOW, clock: 2, event: { _tag: "session.started", session: 1 }, out: [] },
      {
        seq: 3, at: NOW, clock: 9007199254740991, out: [],
        event: { _tag: "conversation.stance.received", peer, kind: "request", attempt: 1, refuses: null, requestId: "poisoned0001" as MessageId, reason: "" },
      },
    ]
    // The old records still read back: the log never refuses what it once stored.
    for (const record of records) expect(Result.isSuccess(decodeRecordLine(encodeRecordLine(record).subarray(0, -1)))).toBe(true)
    const state = replay(records)
    expect(state.clock).toBeLessThanOrEqual(clockCeiling(NOW))
    const after = command(state, { _tag: "conversation.accept", peer })
    expect(conversationView(after, peer)).toBe("active")
  })
})

describe("a poisoned timestamp", () => {
  it("a ts no Date can hold is refused by the decoder", async () => {
    const { a } = await talking()
    const decoded = decodeEnvelopeText(json(a.id, { _tag: "chat.message", text: "boom", n: 1 }, { ts: 9007199254740991 }))
    expect(Result.isFailure(decoded)).toBe(true)
  })

  it("a ts far in the future is shown at the time it arrived", async () => {
    const { a, b } = await talking()
    const topic = topics.talk(a.id, b.id)
    const { entries, dropped } = receive(b.state, topic, json(a.id, { _tag: "chat.message", text: "from the future", n: 1 }, { ts: NOW + 400 * 24 * 3600_000 }))
    expect(dropped).toBeNull()
    const event = entries[0]?.event
    expect(event?._tag === "message.received" && event.sentAt).toBe(NOW)
    // A sender's clock a few minutes ahead is believed.
    const close = receive(b.state, topic, json(a.id, { _tag: "chat.message", text: "a bit ahead", n: 1 }, { ts: NOW + 5 * 60_000 })).entries[0]?.event
    expect(close?._tag === "message.received" && close.sentAt).toBe(NOW + 5 * 60_000)
  })
})

describe("a forged leave with a far-ahead attempt", () => {
  it("attempt 1,000,000 is dropped: it is not what the peer can have sent", async () => {
    const { a, b } = await talking()
    const { dropped } = receive(b.state, topics.control(b.id), json(a.id, { _tag: "chat.leave", to: b.id, attempt: 1_000_000, ends: 1, topic: topics.talk(a.id, b.id) }))
    expect(dropped).toMatch(/attempt 1000000 is more than/)
  })

  it("a forged leave within the step closes one side, and one move by that side brings both back", async () => {
    const { world, user, a, b } = await talking()
    const view = async (i: number, peer: UserId) => conversationView((await user(i)).state, peer)
    const known = b.state.conversations.get(a.id)!.context.theirs.attempt
    await inject(world, 0, 1, topics.control(b.id), json(a.id, { _tag: "chat.leave", to: b.id, attempt: known + MAX_STEP, ends: 1, topic: topics.talk(a.id, b.id) }))
    expect(await view(1, a.id)).toBe("closed")
    expect(await view(0, b.id)).toBe("active")
    // B asks again: its request names the attempt it believes A made; A, who never made it, moves past it.
    await must(world, 1, { _tag: "conversation.request", peer: a.id })
    expect(await view(0, b.id)).toBe("active")
    expect(await view(1, a.id)).toBe("active")
    // And they can still leave and talk again normally.
    await must(world, 0, { _tag: "conversation.leave", peer: b.id })
    expect(await view(1, a.id)).toBe("closed")
    await must(world, 1, { _tag: "conversation.request", peer: a.id })
    await must(world, 0, { _tag: "conversation.accept", peer: b.id })
    expect(await view(0, b.id)).toBe("active")
    expect(await view(1, a.id)).toBe("active")
  })

  it("a first request from a stranger with a far-ahead attempt is dropped", async () => {
    const { b } = await twoUsers()
    const { dropped } = receive(b.state, topics.control(b.id), json("user-55555", { _tag: "chat.request", to: b.id, attempt: MAX_STEP + 1, ends: 0 }))
    expect(dropped).toMatch(/attempt/)
  })
})

describe("group numbers", () => {
  const team = "team" as GroupName
  const withGroup = async () => {
    const users = await twoUsers()
    await groupWith(users.world, 0, team, [1])
    const [a, b, c] = [await users.user(0), await users.user(1), await users.user(2)]
    expect(groupView(b.state, team)).toBe("member")
    return { ...users, a, b, c }
  }

  it("a forged join request with a far-ahead attempt is dropped; one within the step that gets refused does not lock the joiner out", async () => {
    const { world, user, a, c } = await withGroup()
    const pending = async () => (await user(0)).state.groups.get(team)!.context.pending.map((p) => p.user)
    expect(receive(a.state, topics.control(a.id), json(c.id, { _tag: "group.join", group: team, attempt: 1_000_000 })).dropped).toMatch(/attempt/)
    await inject(world, 2, 0, topics.control(a.id), json(c.id, { _tag: "group.join", group: team, attempt: 50 }))
    expect(await pending()).toEqual([c.id])
    await must(world, 0, { _tag: "group.refuse", group: team, user: c.id, reason: "no" })
    // C never asked; when it does, its request must count.
    await must(world, 2, { _tag: "group.join", group: team })
    expect(await pending()).toEqual([c.id])
    await must(world, 0, { _tag: "group.accept", group: team, user: c.id })
    expect(groupView((await user(2)).state, team)).toBe("member")
  })

  it("group information far ahead of the version held is dropped", async () => {
    const { a, b } = await withGroup()
    const info = b.state.groups.get(team)!.context.info!
    const forged: GroupInfo = { ...info, members: [a.id], version: info.version + MAX_STEP + 1 }
    expect(receive(b.state, topics.groupInfo(team), json(a.id, { _tag: "group.info", info: forged })).dropped).toMatch(/version/)
  })

  it("information forged in the leader's name with a higher version: the leader publishes the true one above it", async () => {
    const { world, user, a, b, c } = await withGroup()
    const info = a.state.groups.get(team)!.context.info!
    const forged: GroupInfo = { ...info, members: [a.id, c.id], version: info.version + 10 }
    // Signed with the leader's keys (stolen, or an old copy of its profile running elsewhere).
    for (const to of [0, 1]) world.inject(to, topics.groupInfo(team), signerOf(world, 0).frameText(topics.groupInfo(team), json(a.id, { _tag: "group.info", info: forged })))
    await world.drain()
    const truth = (await user(0)).state.groups.get(team)!.context.info!
    expect(truth.members).toEqual([a.id, b.id])
    expect(truth.version).toBe(forged.version + 1)
    expect((await user(1)).state.groups.get(team)!.context.info).toEqual(truth)
  })

  it("a founding clock from the future of its own message is dropped", async () => {
    const { b, c } = await withGroup()
    const founding: GroupInfo = { name: "other" as GroupName, leader: c.id, members: [c.id], version: 1, foundedClock: 900, foundedBy: c.id, dissolved: false }
    expect(receive(b.state, topics.groupInfo("other" as GroupName), json(c.id, { _tag: "group.info", info: founding }, { clock: 10 })).dropped).toMatch(/founded/)
  })
})

describe("founding clash", () => {
  const team = "team" as GroupName
  it("a later founding does not take the name of a group that has members", async () => {
    const { world, user, c } = await twoUsers()
    await groupWith(world, 0, team, [1])
    const now = await world.run(world.world.now)
    const rival: GroupInfo = { name: team, leader: c.id, members: [c.id], version: 1, foundedClock: clockCeiling(now) - 10, foundedBy: c.id, dissolved: false }
    const leaderRecords = (await world.records(0)).length
    const memberUnchanged = await unchanged(world, 1)
    for (const to of [0, 1]) world.inject(to, topics.groupInfo(team), signerOf(world, 2).frameText(topics.groupInfo(team), json(c.id, { _tag: "group.info", info: rival }, { clock: rival.foundedClock, ts: now })))
    await world.drain()
    // Each reached the decision (its signature is good): the leader noted it, the member found it changes nothing.
    expect((await world.records(0)).slice(leaderRecords).map((r) => r.event._tag)).toContain("group.info.received")
    expect(await unchanged(world, 1)).toBe(memberUnchanged + 1)
    expect(groupView((await user(0)).state, team)).toBe("leading")
    expect(groupView((await user(1)).state, team)).toBe("member")
    // …nor does a later founding that is already dissolved erase it.
    const tombstone: GroupInfo = { ...rival, members: [], version: 2, dissolved: true }
    const beforeTombstone = await unchanged(world, 1)
    await inject(world, 2, 1, topics.groupInfo(team), json(c.id, { _tag: "group.info", info: tombstone }, { clock: rival.foundedClock + 1, ts: now }))
    expect(groupView((await user(1)).state, team)).toBe("member")
    expect(await unchanged(world, 1)).toBe(beforeTombstone + 1)
  })

  it("a founding that claims to have lived (a high version) does not take even a fresh group's name unless it is later", async () => {
    const { world, user, c } = await twoUsers()
    await must(world, 0, { _tag: "group.create", group: team })
    const rival: GroupInfo = { name: team, leader: c.id, members: [c.id], version: 99, foundedClock: 0, foundedBy: c.id, dissolved: false }
    const before = await unchanged(world, 0)
    await inject(world, 2, 0, topics.groupInfo(team), json(c.id, { _tag: "group.info", info: rival }, { clock: 10 }))
    expect(groupView((await user(0)).state, team)).toBe("leading")
    expect(await unchanged(world, 0)).toBe(before + 1)
  })

  it("two foundings of a name in which nothing happened yet still resolve the same way everywhere (the later wins)", async () => {
    const { world, user } = await twoUsers()
    // Both found it before either hears of the other's founding.
    expect(await world.command(0, { _tag: "group.create", group: team })).toBeNull()
    expect(await world.command(1, { _tag: "group.create", group: team })).toBeNull()
    await world.drain()
    const [a, b, c] = [await user(0), await user(1), await user(2)]
    const infos = [a, b, c].map((u) => u.state.groups.get(team)!.context.info)
    expect(infos[0]).toEqual(infos[1])
    expect(infos[1]).toEqual(infos[2])
    expect([a, b].filter((u) => groupView(u.state, team) === "leading")).toHaveLength(1)
  })
})

describe("what I send stays within what every receiver accepts", () => {
  it("a command that would carry a counter past the bound is refused, not sent", async () => {
    const { a, b } = await twoUsers()
    let state = a.state
    const topic = topics.talk(a.id, b.id)
    state = command(state, { _tag: "conversation.request", peer: b.id })
    state = receive(state, topics.control(a.id), json(b.id, { _tag: "chat.accept", to: a.id, attempt: 1, topic })).state
    expect(conversationView(state, b.id)).toBe("active")
    const nearTheEnd: ChatState = { ...state, topics: state.topics.set(topic, { messages: 0, sent: MAX_COUNTER, lastAt: NOW, lastSeq: 1 }) }
    const decided = decideCommand(nearTheEnd, { _tag: "message.send", target: { _tag: "peer", peer: b.id }, text: "one too many" }, context)
    expect(Result.isFailure(decided) && decided.failure.reason).toMatch(/limit/)
  })

  it("an empty profile is untouched by the checks", () => {
    expect(initialChatState().clock).toBe(0)
  })
})
