/**
 * A flood of validly signed control messages from fake ids (each with keys of its own), through the real service on the in-memory
 * broker: a real peer's message is shown before the flood has been worked off (it does not queue
 * behind 20,000 strangers), the flood stores next to nothing, and the UI hears of it in a handful
 * of notices, not one per message. No timing: the order of what was decided is what is checked.
 */
import { Effect, Fiber, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { topics } from "../../domain/ids.ts"
import { MAX_PENDING_INCOMING } from "../../domain/chat/decide.ts"
import { eventually, startUser, type RunningUser } from "../support/chat-user.ts"
import { controlFlood, mintFakeIds } from "../support/flood.ts"

const running: RunningUser[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop()))
})

const FLOOD = 20_000

describe("a flood from fake ids", () => {
  it("does not stand between a real peer and me, stores little and is reported in a few notices", { timeout: 60_000 }, async () => {
    // Delivery only when the test flushes: the flood and the real message reach the victim together, flood first.
    const broker = new MemoryBroker({ autoFlush: false })
    const start = async () => {
      const user = await startUser({ log: MemoryEventLog.layer, transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }) })
      running.push(user)
      return user
    }
    const flushUntil = (what: string, check: () => Promise<boolean>) => eventually(what, async () => {
      broker.flush()
      return check()
    })
    const [victim, peer] = [await start(), await start()]
    const [idV, idP] = [victim.service.me, peer.service.me]
    await peer.run(peer.service.startConversation(idV))
    await flushUntil("the victim has the request", async () => (await victim.run(victim.service.requests())).length === 1)
    await victim.run(victim.service.acceptConversation(idP))
    await flushUntil("the peer is active", async () => (await peer.run(peer.service.listUsers())).find((u) => u.user === idV)?.conversation === "active")
    await flushUntil("everything delivered", async () => broker.pending() === 0)

    // The attack, then the real message: in the broker's queue for the victim in that order. The
    // attack: well-formed control messages, validly signed, from ids nobody knows, each with keys of its own.
    const fakeIds = mintFakeIds(200000, FLOOD)
    for (const payload of controlFlood(idV, fakeIds, { idPrefix: "forged" })) broker.publish({ topic: topics.control(idV), payload, retain: false })
    await peer.run(peer.service.send({ _tag: "peer", peer: idV }, "are you there?"))
    let atShow: { readonly decided: number; readonly waiting: number } | null = null
    const statsOf = () => Effect.runSync(victim.service.stats)
    // Read the counters as soon as the message's notice arrives (the service notifies right after storing it).
    const watcher = Effect.runFork(victim.service.notices.pipe(Stream.runForEach((notice) => Effect.sync(() => {
      if (atShow === null && notice._tag === "message" && notice.message.text === "are you there?") atShow = statsOf().strangers
    }))))
    victim.notices.length = 0
    // The flood and the message to the victim (and the message's echo to its sender), at once.
    expect(broker.flush()).toBe(FLOOD + 2)
    await eventually("the victim shows the real message", () => atShow !== null, 30_000)
    Effect.runFork(Fiber.interrupt(watcher))
    // Shown while strangers that arrived before it still waited: it did not queue behind the flood.
    expect(atShow!.decided).toBeLessThan(FLOOD / 2)
    expect(atShow!.waiting).toBeGreaterThan(0)

    // The flood is worked off (decided or dropped at the door), and stored little.
    await eventually("the flood is worked off", () => statsOf().strangers.waiting === 0, 30_000)
    const stats = statsOf()
    const state = await victim.run(victim.service.state)
    expect(state.index.incoming).toBeLessThanOrEqual(MAX_PENDING_INCOMING)
    expect(state.conversations.size).toBeLessThanOrEqual(MAX_PENDING_INCOMING + 1)
    expect(stats.droppedByReason["chat.accept from someone I have no conversation with"] ?? 0).toBeGreaterThan(0)
    // One notice per drop would be 20,000; they come at most 10 a window, plus summaries.
    const dropNotices = victim.notices.filter((n) => n._tag === "dropped").length
    expect(stats.dropped).toBeGreaterThan(FLOOD / 2)
    expect(dropNotices).toBeLessThan(200)
  })
})
