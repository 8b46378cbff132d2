/**
 * The seen-set keeps 100,000 ids; a signed message replayed after its id was forgotten would look
 * new. Everything sent before the newest forgotten id was stored is dropped as too old to check.
 */
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { SeenIds } from "../../domain/chat/chat-state.ts"
import { decideIncoming, REPLAY_MARGIN_MS } from "../../domain/chat/decide.ts"
import { topics, type MessageId, type UserId } from "../../domain/ids.ts"
import { closeWorlds, startedWorld } from "../support/sim-world.ts"
import type { Envelope } from "../../domain/wire/messages.ts"

const DAY = 24 * 60 * 60 * 1000
const NOW = Date.UTC(2026, 11, 3)

describe("the replay horizon", () => {
  it("is when the newest forgotten id was stored", () => {
    const seen = new SeenIds(2)
    expect(seen.horizon).toBe(0)
    seen.add("a", 1000)
    seen.add("b", 2000)
    seen.add("c", 3000)
    expect(seen.has("a")).toBe(false)
    expect(seen.horizon).toBe(1000)
    seen.begin()
    seen.add("d", 4000)
    expect(seen.horizon).toBe(1000) // not before the batch is stored
    seen.commit()
    expect(seen.horizon).toBe(2000)
  })

  afterEach(closeWorlds)
  it("drops a request sent before it, and takes one sent after", async () => {
    const world = await startedWorld(2, 3)
    const me = { id: world.ids[0]!, state: await world.state(0) }
    const peer = "user-77777" as UserId
    const seen = new SeenIds(1)
    seen.add("x", NOW - 30 * DAY)
    seen.add("y", NOW - 20 * DAY)
    const state = { ...me.state, seen }
    const request = (ts: number, id: string): Envelope => ({ v: 1, id: id as MessageId, from: peer, ts, clock: 100, body: { _tag: "chat.request", to: me.id, attempt: 1, ends: 0 } })
    const context = { now: NOW, newMessageId: () => "reply0000001" as MessageId }
    const old = decideIncoming(state, topics.control(me.id), request(NOW - 31 * DAY, "replayed0001"), context)
    expect(Result.isFailure(old) && old.failure.reason).toMatch(/older than what I can still check for a replay/)
    const withinMargin = decideIncoming(state, topics.control(me.id), request(NOW - 30 * DAY - REPLAY_MARGIN_MS + 1, "slowclock001"), context)
    expect(Result.isSuccess(withinMargin)).toBe(true)
    const fresh = decideIncoming(state, topics.control(me.id), request(NOW, "fresh0000001"), context)
    expect(Result.isSuccess(fresh)).toBe(true)
  })
})
