/**
 * The application service end to end over the in-memory broker and the in-memory log: the design
 * note's five menu functions between three users. (The same scenarios run against Mosquitto and
 * aedes in tests/integration.)
 */
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { MemoryBroker, memoryTransportLayer, memoryUserDirectoryLayer } from "../../adapters/sim-network/memory-broker.ts"
import { IdSource } from "../../domain/ports/id-source.port.ts"
import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { eventually, startUser, type RunningUser } from "../support/chat-user.ts"
import { topics } from "../../domain/ids.ts"
import { fiveMenuFunctions } from "../support/scenarios.ts"

const running: RunningUser[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop()))
})

const start = async (broker: MemoryBroker) => {
  const user = await startUser({
    log: MemoryEventLog.layer,
    transport: (profile) => memoryTransportLayer(broker, { clientId: profile.me, will: profile.willFor }),
  })
  running.push(user)
  return user
}

describe("chat service over the in-memory broker", () => {
  it("three users do the five menu functions", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    await fiveMenuFunctions(await start(broker), await start(broker), await start(broker))
  })

  it("a new profile never takes an id another user already has", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const sameDraws = () => IdSource.layerSeeded(5)
    const first = await startUser({ log: MemoryEventLog.layer, ids: sameDraws(), transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }) })
    running.push(first)
    await eventually("the first user's presence is retained", () => broker.hasRetained(topics.presence(first.service.me)))
    const second = await startUser({
      log: MemoryEventLog.layer,
      ids: sameDraws(),
      directory: memoryUserDirectoryLayer(broker),
      transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }),
    })
    running.push(second)
    expect(second.service.me).not.toBe(first.service.me)
    expect(second.service.me).toMatch(/^user-\d{5}$/)
  })

  it("a message the broker lost is asked for again and shown in the sender's order", async () => {
    let lost = 0
    const broker = new MemoryBroker({
      autoFlush: true,
      // Lose the first copy of message number 2 on any talk topic (the text is encrypted: match its number).
      lose: (m) => m.topic.endsWith("_talk") && lost === 0 && new TextDecoder().decode(m.payload).includes('chat.sealed\\",\\"n\\":2,') && ++lost === 1,
    })
    const quick = { requestTimeoutMs: 60_000, sweepIntervalMs: 20, gapWaitMs: 150 }
    const start = () => startUser({ log: MemoryEventLog.layer, serviceOptions: quick, transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }) })
    const [a, b] = [await start(), await start()]
    running.push(a, b)
    await a.run(a.service.startConversation(b.service.me))
    await eventually("B has the request", async () => (await b.run(b.service.requests())).length === 1)
    await b.run(b.service.acceptConversation(a.service.me))
    await eventually("A is active", async () => (await a.run(a.service.listUsers()))[0]?.conversation === "active")
    for (const text of ["one", "two", "three", "four"]) await a.run(a.service.send({ _tag: "peer", peer: b.service.me }, text))
    await eventually("B shows all four", async () => (await b.run(b.service.history({ _tag: "peer", peer: a.service.me }, { limit: 10 }))).messages.length === 4, 5_000)
    const shown = (await b.run(b.service.history({ _tag: "peer", peer: a.service.me }, { limit: 10 }))).messages.map((m) => m.text)
    expect(lost).toBe(1)
    expect(shown).toEqual(["one", "two", "three", "four"])
    const asked = (await b.run(b.service.state)).inbound
    expect([...asked.values()].every((o) => o.held.length === 0)).toBe(true)
  })

  it("searches a conversation's history, newest first, case-insensitively", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const [a, b] = [await start(broker), await start(broker)]
    await a.run(a.service.startConversation(b.service.me))
    await eventually("B has the request", async () => (await b.run(b.service.requests())).length === 1)
    await b.run(b.service.acceptConversation(a.service.me))
    await eventually("A is active", async () => (await a.run(a.service.listUsers()))[0]?.conversation === "active")
    for (const text of ["Deploy on Friday?", "no", "deploy on monday then", "ok"]) await a.run(a.service.send({ _tag: "peer", peer: b.service.me }, text))
    const found = await a.run(a.service.search({ _tag: "peer", peer: b.service.me }, "DEPLOY", { limit: 10 }))
    expect(found.matches.map((m) => m.text)).toEqual(["deploy on monday then", "Deploy on Friday?"])
    expect(found.complete).toBe(true)
    expect((await a.run(a.service.search({ _tag: "peer", peer: b.service.me }, "deploy", { limit: 1 }))).matches).toHaveLength(1)
    await expect(a.run(a.service.search({ _tag: "peer", peer: b.service.me }, "   ", { limit: 5 }))).rejects.toThrow(/search for what/)
  })

  it("rejects ids and group names that could inject topics", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const a = await start(broker)
    await expect(a.run(a.service.startConversation("user-1/#"))).rejects.toThrow(/not a user id/)
    await expect(a.run(a.service.createGroup("a+b"))).rejects.toThrow(/not a group name/)
    await expect(a.run(a.service.createGroup("x/y"))).rejects.toThrow(/not a group name/)
  })
})
