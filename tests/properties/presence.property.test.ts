/**
 * Presence of one user, seen through announcements delivered in any order, duplicated: the result
 * depends only on the set of announcements (the greatest position wins, offline at a tie).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import { comparePositions, presenceMachine, type PresenceEvent } from "../../domain/presence/presence.machine.ts"
import { NUM_RUNS } from "../support/properties.ts"

const announcement: fc.Arbitrary<PresenceEvent> = fc.record({
  type: fc.constant("presence.observed" as const),
  status: fc.constantFrom("online" as const, "offline" as const),
  session: fc.integer({ min: 0, max: 4 }),
  connection: fc.integer({ min: 0, max: 4 }),
})

const fold = (events: ReadonlyArray<PresenceEvent>) =>
  events.reduce((snapshot, event) => transition(presenceMachine, snapshot, event)[0], initialTransition(presenceMachine)[0])

/** What the announcements mean together: the latest position, offline winning a tie. */
const expected = (events: ReadonlyArray<PresenceEvent>) => {
  const latest = events.reduce((best, e) => {
    const order = comparePositions(e, best)
    return order > 0 || (order === 0 && e.status === "offline") ? e : best
  })
  return { value: latest.status, session: latest.session, connection: latest.connection }
}

describe("presence", () => {
  it("any order and any duplication of the same announcements gives the same answer", () => {
    fc.assert(
      fc.property(fc.array(announcement, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), (events, picks) => {
        const shuffled = [...events]
        picks.forEach((pick, i) => {
          const j = pick % shuffled.length
          const k = i % shuffled.length
          ;[shuffled[j], shuffled[k]] = [shuffled[k]!, shuffled[j]!]
        })
        const duplicated = [...shuffled, ...shuffled.filter((_, i) => picks[i] !== undefined && picks[i]! % 2 === 0)]
        const snapshot = fold(duplicated)
        const want = expected(events)
        expect(snapshot.value).toBe(want.value)
        expect({ session: snapshot.context.session, connection: snapshot.context.connection }).toEqual({ session: want.session, connection: want.connection })
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("a crashed connection's will beats its own online, and loses to the next connection's online", () => {
    const online1 = { type: "presence.observed", status: "online", session: 1, connection: 1 } as const
    const will1 = { type: "presence.observed", status: "offline", session: 1, connection: 1 } as const
    const online2 = { type: "presence.observed", status: "online", session: 1, connection: 2 } as const
    expect(fold([online1, will1]).value).toBe("offline")
    expect(fold([will1, online1]).value).toBe("offline")
    expect(fold([online1, online2, will1]).value).toBe("online")
    expect(fold([online2, will1, online1]).value).toBe("online")
  })
})
