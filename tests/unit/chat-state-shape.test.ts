/**
 * `evolve` builds each next state field by field (for speed, domain/chat/chat-state.ts): every
 * state of a simulated log's fold has exactly initialChatState's fields in the same order, and the
 * fold equals the same fold with each state made by a plain spread.
 */
import { describe, expect, it } from "vitest"
import { DEFAULT_SIM_OPTIONS } from "../../apps/sim/options.ts"
import { simulate } from "../../apps/sim/simulation.ts"
import { evolve, initialChatState, receivedEnvelopeId, stateToJson, step, type ChatState } from "../../domain/chat/chat-state.ts"
import { clockCeiling } from "../../domain/wire/limits.ts"
import type { LogRecord } from "../../domain/events.ts"

/** evolve as it was written before: a spread. */
const evolveBySpread = (state: ChatState, record: LogRecord): ChatState => {
  const { state: stepped } = step(state, record)
  const received = receivedEnvelopeId(record.event)
  if (received !== null) stepped.seen.add(received, record.at)
  for (const out of record.out) if (out.envelope.body._tag !== "presence") stepped.outbox.add(out)
  return { ...stepped, lastSeq: record.seq, clock: Math.min(Math.max(stepped.clock, record.clock), clockCeiling(record.at)) }
}

describe("evolve's next state", () => {
  it("has initialChatState's fields in its order, and folds as a spread would", async () => {
    const { users } = await simulate({ ...DEFAULT_SIM_OPTIONS, users: 6, steps: 1500, timing: false })
    const fields = Object.keys(initialChatState())
    let records = 0
    for (const user of users) {
      let state = initialChatState()
      let bySpread = initialChatState()
      for (const record of user.log) {
        state = evolve(state, record)
        bySpread = evolveBySpread(bySpread, record)
        records++
        if (Object.keys(state).join() !== fields.join()) expect(Object.keys(state)).toEqual(fields)
      }
      expect(stateToJson(state)).toEqual(stateToJson(bySpread))
    }
    expect(records).toBeGreaterThan(500)
  })
})
