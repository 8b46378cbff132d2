/**
 * One-to-one negotiation under any interleaving of both users' actions, with messages duplicated
 * and reordered by the network. At quiescence (every message delivered) both sides agree.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import type { SnapshotFrom } from "xstate"
import { conversationMachine, type ConversationAction, type ConversationEvent, type Stance } from "../../domain/conversation/conversation.machine.ts"
import { topics } from "../../domain/ids.ts"
import type { UserId } from "../../domain/ids.ts"
import { NUM_RUNS } from "../support/properties.ts"

type Snapshot = SnapshotFrom<typeof conversationMachine>
type Side = 0 | 1
const users = ["user-32563", "user-32564"] as unknown as readonly [UserId, UserId]
const TOPIC = topics.talk(users[0], users[1])

type UserStep =
  | { kind: "request" }
  | { kind: "accept" }
  | { kind: "refuse" }
  | { kind: "leave" }
  | { kind: "timeout" }
type Step =
  | { kind: "user"; side: Side; action: UserStep["kind"] }
  | { kind: "deliver"; pick: number; duplicate: boolean }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("user" as const),
    side: fc.constantFrom<Side>(0, 1),
    action: fc.constantFrom("request", "accept", "refuse", "leave", "timeout") as fc.Arbitrary<UserStep["kind"]>,
  }),
  fc.record({ kind: fc.constant("deliver" as const), pick: fc.nat(), duplicate: fc.boolean() }),
)

interface InFlight { readonly to: Side; readonly stance: Stance }

/** Runs a schedule; `forbidAccept` models a peer that only refuses or lets requests time out. */
function run(steps: ReadonlyArray<Step>, options: { forbidAccept?: boolean } = {}) {
  const snapshots: [Snapshot, Snapshot] = [
    initialTransition(conversationMachine, { peer: users[1], topic: TOPIC })[0],
    initialTransition(conversationMachine, { peer: users[0], topic: TOPIC })[0],
  ]
  const network: InFlight[] = []
  const everActive: [boolean, boolean] = [false, false]
  let activeAfterTimeout = false
  const timedOut: [boolean, boolean] = [false, false]

  const apply = (side: Side, event: ConversationEvent) => {
    const [next, actions] = transition(conversationMachine, snapshots[side], event)
    snapshots[side] = next
    if (next.value === "active") {
      everActive[side] = true
      if (timedOut[side]) activeAfterTimeout = true
    }
    const to: Side = side === 0 ? 1 : 0
    for (const action of actions) {
      if (action.type !== "send.stance") continue
      const params = action.params as ConversationAction["params"]
      network.push({ to, stance: params.stance })
      expect(network.length).toBeLessThan(10_000)
    }
  }

  for (const step of steps) {
    if (step.kind === "deliver") {
      if (network.length === 0) continue
      const index = step.pick % network.length
      const message = network[index]!
      if (!step.duplicate) network.splice(index, 1)
      apply(message.to, { type: "stance.receive", stance: message.stance })
      continue
    }
    switch (step.action) {
      case "request": apply(step.side, { type: "request.send" }); break
      case "accept": if (!options.forbidAccept) apply(step.side, { type: "accept.send" }); break
      case "refuse": apply(step.side, { type: "refuse.send" }); break
      case "leave": apply(step.side, { type: "leave.send" }); break
      case "timeout":
        if (snapshots[step.side].value === "outgoing") timedOut[step.side] = true
        apply(step.side, { type: "timeout" })
        break
    }
  }
  // Quiescence: deliver everything (each once). Bounded.
  for (let budget = 100_000; network.length > 0; budget--) {
    expect(budget).toBeGreaterThan(0)
    const message = network.shift()!
    apply(message.to, { type: "stance.receive", stance: message.stance })
  }
  return { snapshots, everActive, activeAfterTimeout }
}

describe("one-to-one negotiation", () => {
  it("at quiescence both sides agree: both active on the same topic, or neither", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        const { snapshots: [a, b] } = run(steps)
        expect(a.value === "active").toBe(b.value === "active")
        if (a.value === "active") {
          expect(a.context.topic).toBe(b.context.topic)
          expect(a.context.topic).toBe(TOPIC)
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("a request that is only refused or left to time out never yields a conversation", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        // Only side 0 may request; nobody accepts (crossed requests would be a mutual acceptance).
        const filtered = steps.filter((s) => !(s.kind === "user" && s.side === 1 && s.action === "request"))
        const { everActive } = run(filtered, { forbidAccept: true })
        expect(everActive).toEqual([false, false])
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("after a leave both sides are closed: nobody is left asking", () => {
    for (const leaver of [0, 1] as const) {
      const { snapshots: [a, b] } = run([
        { kind: "user", side: 0, action: "request" },
        { kind: "deliver", pick: 0, duplicate: false },
        { kind: "user", side: 1, action: "accept" },
        { kind: "deliver", pick: 0, duplicate: false },
        { kind: "user", side: leaver, action: "leave" },
      ])
      expect([a.value, b.value]).toEqual(["closed", "closed"])
      expect([a, b][leaver === 0 ? 1 : 0]!.context.lastOutcome).toBe("peer-left")
    }
  })

  it("after a leave, asking again is a new request the peer must answer", () => {
    for (const leaver of [0, 1] as const) {
      const other = leaver === 0 ? 1 : 0
      const { snapshots } = run([
        { kind: "user", side: 0, action: "request" },
        { kind: "deliver", pick: 0, duplicate: false },
        { kind: "user", side: 1, action: "accept" },
        { kind: "deliver", pick: 0, duplicate: false },
        { kind: "user", side: leaver, action: "leave" },
        { kind: "deliver", pick: 0, duplicate: false },
        { kind: "user", side: leaver, action: "request" },
      ])
      expect(snapshots[leaver]!.value).toBe("outgoing")
      expect(snapshots[other]!.value).toBe("incoming")
    }
  })

  it("at quiescence nobody is asking a peer who has left", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        const { snapshots: [a, b] } = run(steps)
        // "outgoing" on one side pairs only with "incoming" on the other: a pending request.
        if (a.value === "outgoing") expect(b.value).toBe("incoming")
        if (b.value === "outgoing") expect(a.value).toBe("incoming")
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("requests crossing on the wire end in ONE conversation", () => {
    const { snapshots: [a, b] } = run([
      { kind: "user", side: 0, action: "request" },
      { kind: "user", side: 1, action: "request" },
    ])
    expect(a.value).toBe("active")
    expect(b.value).toBe("active")
  })

  it("a refused request closes both sides", () => {
    const { snapshots: [a, b] } = run([
      { kind: "user", side: 0, action: "request" },
      { kind: "deliver", pick: 0, duplicate: false },
      { kind: "user", side: 1, action: "refuse" },
    ])
    expect(a.value).toBe("closed")
    expect(a.context.lastOutcome).toBe("refused")
    expect(b.value).toBe("closed")
  })

  it("a requester whose request timed out never becomes active by that request", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        // Side 0 requests at most once; once it timed out nothing may make it active.
        let requested = false
        const filtered = steps.filter((s) => {
          if (s.kind !== "user") return true
          if (s.side === 1 && s.action === "request") return false
          if (s.side === 0 && s.action === "request") {
            if (requested) return false
            requested = true
          }
          return true
        })
        expect(run(filtered).activeAfterTimeout).toBe(false)
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("a late acceptance of a timed-out request opens nothing on either side", () => {
    const { snapshots: [a, b] } = run([
      { kind: "user", side: 0, action: "request" },
      { kind: "deliver", pick: 0, duplicate: false },
      { kind: "user", side: 1, action: "accept" },
      { kind: "user", side: 0, action: "timeout" },
    ])
    expect(a.value).toBe("closed")
    expect(b.value).toBe("closed")
  })
})
