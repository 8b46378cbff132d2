/**
 * The chat state is the fold of the log: for any run of a cluster (commands from every user,
 * deliveries duplicated and reordered, users going offline and back, requests timing out),
 * replaying each user's log reproduces that user's live state exactly, and every record survives
 * encode → decode unchanged.
 */
import fc from "fast-check"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { replay, stateToJson } from "../../domain/chat/chat-state.ts"
import type { Command } from "../../domain/chat/decide.ts"
import { LogRecord } from "../../domain/events.ts"
import type { GroupName } from "../../domain/ids.ts"
import { Cluster } from "../../domain/sim/cluster.ts"
import { NUM_RUNS } from "../support/properties.ts"

const USERS = 3
const GROUPS = ["alpha", "beta"] as unknown as ReadonlyArray<GroupName>

type Step =
  | { kind: "command"; user: number; pick: number; other: number; text: string }
  | { kind: "deliver"; pick: number; duplicate: boolean }
  | { kind: "advance"; ms: number }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("command" as const), user: fc.nat({ max: USERS - 1 }), pick: fc.nat({ max: 14 }), other: fc.nat({ max: USERS - 1 }), text: fc.string({ maxLength: 20 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("deliver" as const), pick: fc.nat(), duplicate: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 2 * 24 * 3600 * 1000 }) }) },
)

const commandFor = (cluster: Cluster, step: Extract<Step, { kind: "command" }>): Command => {
  const other = cluster.users[step.other]!.id
  const group = GROUPS[step.other % GROUPS.length]!
  switch (step.pick) {
    case 0: return { _tag: "session.start" }
    case 1: return { _tag: "session.end" }
    case 2: return { _tag: "conversation.request", peer: other }
    case 3: return { _tag: "conversation.accept", peer: other }
    case 4: return { _tag: "conversation.refuse", peer: other, reason: "no" }
    case 5: return { _tag: "conversation.leave", peer: other }
    case 6: return { _tag: "conversation.timeout", peer: other }
    case 7: return { _tag: "message.send", target: { _tag: "peer", peer: other }, text: step.text || "hi" }
    case 8: return { _tag: "group.create", group }
    case 9: return { _tag: "group.join", group }
    case 10: return { _tag: "group.accept", group, user: other }
    case 11: return { _tag: "group.refuse", group, user: other, reason: "no" }
    case 12: return { _tag: "group.leave", group }
    default: return { _tag: "message.send", target: { _tag: "group", group }, text: step.text || "hey" }
  }
}

const runCluster = (seed: number, steps: ReadonlyArray<Step>): Cluster => {
  const cluster = new Cluster({ seed, users: USERS })
  for (let i = 0; i < USERS; i++) cluster.command(i, { _tag: "session.start" })
  for (const step of steps) {
    if (step.kind === "command") cluster.command(step.user, commandFor(cluster, step))
    else if (step.kind === "deliver") cluster.deliver(step.pick, step.duplicate)
    else cluster.advance(step.ms)
  }
  return cluster
}

const encodeRecord = Schema.encodeSync(Schema.fromJsonString(LogRecord))
const decodeRecord = Schema.decodeUnknownSync(Schema.fromJsonString(LogRecord))

describe("replay", () => {
  it("replaying each user's log reproduces the live state", () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(stepArb, { maxLength: 60 }), (seed, steps) => {
        const cluster = runCluster(seed, steps)
        cluster.drain()
        for (const user of cluster.users) {
          expect(stateToJson(replay(user.log))).toEqual(stateToJson(user.state))
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("through the real codec and decisions, every pair agrees and every group view converges once all are back online", () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(stepArb, { maxLength: 60 }), (seed, steps) => {
        const cluster = runCluster(seed, steps)
        cluster.users.forEach((user, i) => { if (!user.online) cluster.command(i, { _tag: "session.start" }) })
        cluster.drain()
        for (const a of cluster.users) {
          for (const b of cluster.users) {
            if (a === b) continue
            const ab = a.state.conversations.get(b.id)?.value ?? "idle"
            const ba = b.state.conversations.get(a.id)?.value ?? "idle"
            expect(ab === "active").toBe(ba === "active")
          }
        }
        for (const group of GROUPS) {
          const infos = cluster.users.map((u) => u.state.groups.get(group)?.context.info ?? null).filter((i) => i !== null)
          const newest = infos.reduce((x, y) => (y!.version > x!.version ? y : x), infos[0] ?? null)
          for (const info of infos) expect(info).toEqual(newest)
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("each sender's messages are shown in the order sent, whatever the network's order", () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(stepArb.filter((s) => s.kind !== "advance"), { maxLength: 80 }), (seed, steps) => {
        const cluster = runCluster(seed, steps)
        cluster.drain()
        for (const user of cluster.users) {
          const last = new Map<string, number>()
          for (const record of user.log) {
            if (record.event._tag !== "message.received") continue
            const key = `${record.event.topic} ${record.event.from}`
            expect(record.event.n).toBeGreaterThan(last.get(key) ?? 0)
            last.set(key, record.event.n)
          }
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("every record of a run survives encode → decode unchanged", () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(stepArb, { maxLength: 40 }), (seed, steps) => {
        const cluster = runCluster(seed, steps)
        for (const user of cluster.users) {
          for (const record of user.log) expect(decodeRecord(encodeRecord(record))).toEqual(record)
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("the scenario actually exercises the protocol (not only rejections)", () => {
    // Positive space: a fixed script reaches an active conversation and a group with two members.
    const cluster = new Cluster({ seed: 7, users: 3 })
    for (let i = 0; i < 3; i++) cluster.command(i, { _tag: "session.start" })
    const [a, b] = [cluster.users[0]!, cluster.users[1]!]
    expect(cluster.command(0, { _tag: "conversation.request", peer: b.id })).toBeNull()
    cluster.drain()
    expect(cluster.command(1, { _tag: "conversation.accept", peer: a.id })).toBeNull()
    cluster.drain()
    expect(a.state.conversations.get(b.id)?.value).toBe("active")
    expect(cluster.command(0, { _tag: "group.create", group: GROUPS[0]! })).toBeNull()
    cluster.drain()
    expect(cluster.command(1, { _tag: "group.join", group: GROUPS[0]! })).toBeNull()
    cluster.drain()
    expect(cluster.command(0, { _tag: "group.accept", group: GROUPS[0]!, user: b.id })).toBeNull()
    cluster.drain()
    expect(b.state.groups.get(GROUPS[0]!)?.value).toBe("member")
    expect(stateToJson(replay(b.log))).toEqual(stateToJson(b.state))
  })
})
