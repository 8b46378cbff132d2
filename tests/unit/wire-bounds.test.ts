/**
 * Numbers from the wire that could break a profile or wedge a conversation (issue 7, parts 1 and 6):
 * each attack as the attacker sends it, then what must still hold — the log stores the next
 * decision, the profile replays, the conversation can be brought back by the real users.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { validateEntries } from "../../adapters/storage/log-rules.ts"
import { decodeRecordLine, encodeRecordLine } from "../../adapters/storage/record-codec.ts"
import { conversationView, evolve, groupView, initialChatState, replay, type ChatState } from "../../domain/chat/chat-state.ts"
import { decideCommand, decideIncoming } from "../../domain/chat/decide.ts"
import type { LogEntry, LogRecord } from "../../domain/events.ts"
import { topics, type GroupName, type MessageId, type UserId } from "../../domain/ids.ts"
import { Cluster } from "../../domain/sim/cluster.ts"
import { clockCeiling, MAX_COUNTER, MAX_STEP, MAX_WIRE_CLOCK } from "../../domain/wire/limits.ts"
import { decodeEnvelopeText, encodeEnvelope, type GroupInfo } from "../../domain/wire/messages.ts"

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0)
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

const twoUsers = () => {
  const cluster = new Cluster({ seed: 3, users: 3, startMs: NOW })
  for (let i = 0; i < 3; i++) cluster.command(i, { _tag: "session.start" })
  cluster.drain()
  return { cluster, a: cluster.users[0]!, b: cluster.users[1]!, c: cluster.users[2]! }
}

const talking = () => {
  const users = twoUsers()
  users.cluster.command(0, { _tag: "conversation.request", peer: users.b.id })
  users.cluster.drain()
  users.cluster.command(1, { _tag: "conversation.accept", peer: users.a.id })
  users.cluster.drain()
  expect(conversationView(users.a.state, users.b.id)).toBe("active")
  expect(conversationView(users.b.state, users.a.id)).toBe("active")
  return users
}

/** Puts a forged payload on the cluster's network, then delivers everything. */
const inject = (cluster: Cluster, to: UserId, topic: string, payload: string) => {
  cluster.network.push({ to, topic, payload })
  cluster.drain()
}

describe("a poisoned Lamport clock", () => {
  it("a chat.request with clock 2^53 - 2 is dropped, and the next command is still stored", () => {
    const { a, b } = twoUsers()
    const { state, dropped } = receive(b.state, topics.control(b.id), json(a.id, { _tag: "chat.request", to: b.id, attempt: 1, ends: 0 }, { clock: POISON }))
    expect(dropped).toMatch(/clock/)
    const after = command(state, { _tag: "conversation.request", peer: a.id })
    expect(after.clock).toBeLessThan(clockCeiling(NOW) + 10)
  })

  it("a retained presence with a poisoned clock is dropped by everyone who connects", () => {
    const { a, b } = twoUsers()
    const { dropped } = receive(b.state, topics.presence(a.id), json(a.id, { _tag: "presence", status: "online", session: 3, connection: 1 }, { clock: POISON }))
    expect(dropped).toMatch(/clock/)
  })

  it("a clock at the wire's bound but beyond what anyone can have counted yet is dropped; a plausible one is adopted", () => {
    const { a, b } = twoUsers()
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
  it("a ts no Date can hold is refused by the decoder", () => {
    const { a } = talking()
    const decoded = decodeEnvelopeText(json(a.id, { _tag: "chat.message", text: "boom", n: 1 }, { ts: 9007199254740991 }))
    expect(Result.isFailure(decoded)).toBe(true)
  })

  it("a ts far in the future is shown at the time it arrived", () => {
    const { a, b } = talking()
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
  it("attempt 1,000,000 is dropped: it is not what the peer can have sent", () => {
    const { a, b } = talking()
    const { dropped } = receive(b.state, topics.control(b.id), json(a.id, { _tag: "chat.leave", to: b.id, attempt: 1_000_000, ends: 1, topic: topics.talk(a.id, b.id) }))
    expect(dropped).toMatch(/attempt 1000000 is more than/)
  })

  it("a forged leave within the step closes one side, and one move by that side brings both back", () => {
    const { cluster, a, b } = talking()
    const known = b.state.conversations.get(a.id)!.context.theirs.attempt
    inject(cluster, b.id, topics.control(b.id), json(a.id, { _tag: "chat.leave", to: b.id, attempt: known + MAX_STEP, ends: 1, topic: topics.talk(a.id, b.id) }))
    expect(conversationView(b.state, a.id)).toBe("closed")
    expect(conversationView(a.state, b.id)).toBe("active")
    // B asks again: its request names the attempt it believes A made; A, who never made it, moves past it.
    expect(cluster.command(1, { _tag: "conversation.request", peer: a.id })).toBeNull()
    cluster.drain()
    expect(conversationView(a.state, b.id)).toBe("active")
    expect(conversationView(b.state, a.id)).toBe("active")
    // And they can still leave and talk again normally.
    cluster.command(0, { _tag: "conversation.leave", peer: b.id })
    cluster.drain()
    expect(conversationView(b.state, a.id)).toBe("closed")
    cluster.command(1, { _tag: "conversation.request", peer: a.id })
    cluster.drain()
    cluster.command(0, { _tag: "conversation.accept", peer: b.id })
    cluster.drain()
    expect(conversationView(a.state, b.id)).toBe("active")
    expect(conversationView(b.state, a.id)).toBe("active")
  })

  it("a first request from a stranger with a far-ahead attempt is dropped", () => {
    const { b } = twoUsers()
    const { dropped } = receive(b.state, topics.control(b.id), json("user-55555", { _tag: "chat.request", to: b.id, attempt: MAX_STEP + 1, ends: 0 }))
    expect(dropped).toMatch(/attempt/)
  })
})

describe("group numbers", () => {
  const team = "team" as GroupName
  const withGroup = () => {
    const users = twoUsers()
    users.cluster.command(0, { _tag: "group.create", group: team })
    users.cluster.drain()
    users.cluster.command(1, { _tag: "group.join", group: team })
    users.cluster.drain()
    users.cluster.command(0, { _tag: "group.accept", group: team, user: users.b.id })
    users.cluster.drain()
    expect(groupView(users.b.state, team)).toBe("member")
    return users
  }

  it("a forged join request with a far-ahead attempt is dropped; one within the step that gets refused does not lock the joiner out", () => {
    const { cluster, a, c } = withGroup()
    expect(receive(a.state, topics.control(a.id), json(c.id, { _tag: "group.join", group: team, attempt: 1_000_000 })).dropped).toMatch(/attempt/)
    inject(cluster, a.id, topics.control(a.id), json(c.id, { _tag: "group.join", group: team, attempt: 50 }))
    expect(a.state.groups.get(team)!.context.pending.map((p) => p.user)).toEqual([c.id])
    cluster.command(0, { _tag: "group.refuse", group: team, user: c.id, reason: "no" })
    cluster.drain()
    // C never asked; when it does, its request must count.
    expect(cluster.command(2, { _tag: "group.join", group: team })).toBeNull()
    cluster.drain()
    expect(a.state.groups.get(team)!.context.pending.map((p) => p.user)).toEqual([c.id])
    cluster.command(0, { _tag: "group.accept", group: team, user: c.id })
    cluster.drain()
    expect(groupView(c.state, team)).toBe("member")
  })

  it("group information far ahead of the version held is dropped", () => {
    const { a, b } = withGroup()
    const info = b.state.groups.get(team)!.context.info!
    const forged: GroupInfo = { ...info, members: [a.id], version: info.version + MAX_STEP + 1 }
    expect(receive(b.state, topics.groupInfo(team), json(a.id, { _tag: "group.info", info: forged })).dropped).toMatch(/version/)
  })

  it("information forged in the leader's name with a higher version: the leader publishes the true one above it", () => {
    const { cluster, a, b, c } = withGroup()
    const info = a.state.groups.get(team)!.context.info!
    const forged: GroupInfo = { ...info, members: [a.id, c.id], version: info.version + 10 }
    for (const to of [a.id, b.id]) cluster.network.push({ to, topic: topics.groupInfo(team), payload: json(a.id, { _tag: "group.info", info: forged }) })
    cluster.drain()
    const truth = a.state.groups.get(team)!.context.info!
    expect(truth.members).toEqual([a.id, b.id])
    expect(truth.version).toBe(forged.version + 1)
    expect(b.state.groups.get(team)!.context.info).toEqual(truth)
  })

  it("a founding clock from the future of its own message is dropped", () => {
    const { b, c } = withGroup()
    const founding: GroupInfo = { name: "other" as GroupName, leader: c.id, members: [c.id], version: 1, foundedClock: 900, foundedBy: c.id, dissolved: false }
    expect(receive(b.state, topics.groupInfo("other" as GroupName), json(c.id, { _tag: "group.info", info: founding }, { clock: 10 })).dropped).toMatch(/founded/)
  })
})

describe("founding clash", () => {
  const team = "team" as GroupName
  it("a later founding does not take the name of a group that has members", () => {
    const { cluster, a, b, c } = twoUsers()
    cluster.command(0, { _tag: "group.create", group: team })
    cluster.drain()
    cluster.command(1, { _tag: "group.join", group: team })
    cluster.drain()
    cluster.command(0, { _tag: "group.accept", group: team, user: b.id })
    cluster.drain()
    const rival: GroupInfo = { name: team, leader: c.id, members: [c.id], version: 1, foundedClock: clockCeiling(NOW) - 10, foundedBy: c.id, dissolved: false }
    for (const to of [a.id, b.id]) cluster.network.push({ to, topic: topics.groupInfo(team), payload: json(c.id, { _tag: "group.info", info: rival }, { clock: rival.foundedClock }) })
    cluster.drain()
    expect(groupView(a.state, team)).toBe("leading")
    expect(groupView(b.state, team)).toBe("member")
    // …nor does a later founding that is already dissolved erase it.
    const tombstone: GroupInfo = { ...rival, members: [], version: 2, dissolved: true }
    cluster.network.push({ to: b.id, topic: topics.groupInfo(team), payload: json(c.id, { _tag: "group.info", info: tombstone }, { clock: rival.foundedClock + 1 }) })
    cluster.drain()
    expect(groupView(b.state, team)).toBe("member")
  })

  it("a founding that claims to have lived (a high version) does not take even a fresh group's name unless it is later", () => {
    const { cluster, a, c } = twoUsers()
    cluster.command(0, { _tag: "group.create", group: team })
    cluster.drain()
    const rival: GroupInfo = { name: team, leader: c.id, members: [c.id], version: 99, foundedClock: 0, foundedBy: c.id, dissolved: false }
    inject(cluster, a.id, topics.groupInfo(team), json(c.id, { _tag: "group.info", info: rival }, { clock: 10 }))
    expect(groupView(a.state, team)).toBe("leading")
  })

  it("two foundings of a name in which nothing happened yet still resolve the same way everywhere (the later wins)", () => {
    const { cluster, a, b, c } = twoUsers()
    cluster.command(0, { _tag: "group.create", group: team })
    cluster.command(1, { _tag: "group.create", group: team })
    cluster.drain()
    const infos = [a, b, c].map((u) => u.state.groups.get(team)!.context.info)
    expect(infos[0]).toEqual(infos[1])
    expect(infos[1]).toEqual(infos[2])
    expect([a, b].filter((u) => groupView(u.state, team) === "leading")).toHaveLength(1)
  })
})

describe("what I send stays within what every receiver accepts", () => {
  it("a command that would carry a counter past the bound is refused, not sent", () => {
    const { a, b } = twoUsers()
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
