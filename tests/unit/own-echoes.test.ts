/**
 * My own frames coming back on talk topics are recognised without a signature check
 * (domain/service/own-echoes.ts): exactly the bytes I sealed, on the same topic, live, once.
 */
import type { Layer } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { Crypto } from "../../domain/ports/crypto.port.ts"
import { MAX_AWAITED_ECHOES, OwnEchoes } from "../../domain/service/own-echoes.ts"
import { utf8 } from "../../domain/trust/bytes.ts"
import { eventually, startUser, type RunningUser } from "../support/chat-user.ts"
import { countingCrypto } from "../support/counting-crypto.ts"

const talk = "10001_10002_talk"
const frame = (n: number) => utf8(`{"v":2,"k":"key","m":"message ${n}","s":"signature"}`)

describe("OwnEchoes", () => {
  it("knows a frame it sealed, on the same topic, once", () => {
    const echoes = new OwnEchoes()
    echoes.sealed(talk, frame(1))
    expect(echoes.isEcho(talk, frame(1), false)).toBe(true)
    // A second copy (a redelivery, or someone replaying it) takes the full path.
    expect(echoes.isEcho(talk, frame(1), false)).toBe(false)
  })

  it("does not take a changed byte, another topic, a retained copy or a non-talk topic for an echo", () => {
    const echoes = new OwnEchoes()
    echoes.sealed(talk, frame(1))
    const flipped = frame(1)
    flipped[flipped.length - 3] = (flipped[flipped.length - 3] ?? 0) ^ 1
    expect(echoes.isEcho(talk, flipped, false)).toBe(false)
    expect(echoes.isEcho("10001_10003_talk", frame(1), false)).toBe(false)
    expect(echoes.isEcho(talk, frame(1), true)).toBe(false)
    echoes.sealed("user-10001", frame(2))
    expect(echoes.size).toBe(1)
    expect(echoes.isEcho("user-10001", frame(2), false)).toBe(false)
    expect(echoes.isEcho(talk, frame(1), false)).toBe(true)
  })

  it("is bounded: the oldest frame is forgotten first", () => {
    const echoes = new OwnEchoes()
    for (let n = 0; n <= MAX_AWAITED_ECHOES; n++) echoes.sealed(talk, frame(n))
    expect(echoes.size).toBe(MAX_AWAITED_ECHOES)
    expect(echoes.isEcho(talk, frame(0), false)).toBe(false)
    expect(echoes.isEcho(talk, frame(1), false)).toBe(true)
    expect(echoes.isEcho(talk, frame(MAX_AWAITED_ECHOES), false)).toBe(true)
  })
})

const running: RunningUser[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop()))
})

describe("a sender's own messages", () => {
  it("come back and are ignored without checking their signatures", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const senderChecks = { verifies: 0 }
    const start = async (crypto?: Layer.Layer<Crypto>) => {
      const user = await startUser({ log: MemoryEventLog.layer, ...(crypto ? { crypto } : {}), transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }) })
      running.push(user)
      return user
    }
    const sender = await start(countingCrypto(senderChecks))
    const receiver = await start()
    await sender.run(sender.service.startConversation(receiver.service.me))
    await eventually("the request arrives", async () => (await receiver.run(receiver.service.requests())).length === 1)
    await receiver.run(receiver.service.acceptConversation(sender.service.me))
    await eventually("the conversation opens", async () => (await sender.run(sender.service.listUsers())).find((u) => u.user === receiver.service.me)?.conversation === "active")
    const before = { ...senderChecks, ignored: (await sender.run(sender.service.stats)).ignored }
    const MESSAGES = 40
    for (let n = 0; n < MESSAGES; n++) await sender.run(sender.service.send({ _tag: "peer", peer: receiver.service.me }, `message ${n}`))
    await eventually("the receiver has them all", () => receiver.notices.filter((notice) => notice._tag === "message" && !notice.message.mine).length >= MESSAGES)
    await eventually("the sender saw its echoes", async () => (await sender.run(sender.service.stats)).ignored - before.ignored >= MESSAGES)
    // Receipts and acknowledgements from the receiver are checked; the 40 echoes are not.
    expect(senderChecks.verifies - before.verifies).toBeLessThan(MESSAGES / 4)
  })
})
