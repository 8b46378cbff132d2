/**
 * The application service end to end over the in-memory broker and the in-memory log: the design
 * note's five menu functions between three users. (The same scenarios run against Mosquitto and
 * aedes in tests/integration.)
 */
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { eventually, startUser, type RunningUser } from "../support/chat-user.ts"

const running: RunningUser[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop()))
})

const start = async (broker: MemoryBroker) => {
  const user = await startUser({
    log: MemoryEventLog.layer,
    transport: (profile) => memoryTransportLayer(broker, { clientId: profile.me, will: profile.will }),
  })
  running.push(user)
  return user
}

describe("chat service over the in-memory broker", () => {
  it("three users: presence, one-to-one accepted and refused, a group with an accepted and a refused join", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const [a, b, c] = [await start(broker), await start(broker), await start(broker)]
    const [idA, idB, idC] = [a.service.me, b.service.me, c.service.me]

    await eventually("A sees B and C online", async () => {
      const users = await a.run(a.service.listUsers())
      return users.filter((u) => u.status === "online").length === 2
    })

    // 5: one-to-one, accepted, chat both ways
    await a.run(a.service.startConversation(idB))
    await eventually("B has A's request", async () => (await b.run(b.service.requests())).some((r) => r.from === idA && r.status === "pending"))
    await b.run(b.service.acceptConversation(idA))
    await eventually("A is active with B", async () => (await a.run(a.service.listUsers())).find((u) => u.user === idB)?.conversation === "active")
    await a.run(a.service.send({ _tag: "peer", peer: idB }, "hello B"))
    await b.run(b.service.send({ _tag: "peer", peer: idA }, "hello A"))
    await eventually("both see both messages", async () => {
      const ha = await a.run(a.service.history({ _tag: "peer", peer: idB }, { limit: 10 }))
      const hb = await b.run(b.service.history({ _tag: "peer", peer: idA }, { limit: 10 }))
      return ha.messages.length === 2 && hb.messages.length === 2
    })
    const acceptances = await a.run(a.service.acceptances())
    expect(acceptances.some((x) => x.peer === idB && x.topic.endsWith("_talk") && x.by === "peer")).toBe(true)

    // one-to-one refused
    await c.run(c.service.startConversation(idA))
    await eventually("A has C's request", async () => (await a.run(a.service.requests())).some((r) => r.from === idC && r.status === "pending"))
    await a.run(a.service.refuseConversation(idC, "busy"))
    await eventually("C sees the refusal", async () => (await c.run(c.service.listUsers())).find((u) => u.user === idA)?.conversation === "closed")
    await expect(c.run(c.service.send({ _tag: "peer", peer: idA }, "hi?"))).rejects.toThrow(/no active conversation/)

    // 2, 3, 4: groups
    await a.run(a.service.createGroup("team"))
    await eventually("B and C see the group", async () =>
      (await b.run(b.service.listGroups())).some((g) => g.name === "team") && (await c.run(c.service.listGroups())).some((g) => g.name === "team"))
    await b.run(b.service.joinGroup("team"))
    await c.run(c.service.joinGroup("team"))
    await eventually("A has both join requests", async () => ((await a.run(a.service.listGroups()))[0]?.pending.length ?? 0) === 2)
    await a.run(a.service.acceptJoin("team", idB))
    await a.run(a.service.refuseJoin("team", idC, "not now"))
    await eventually("everyone sees team = [A, B]", async () => {
      const views = await Promise.all([a, b, c].map((u) => u.run(u.service.listGroups())))
      return views.every((v) => JSON.stringify(v[0]?.members) === JSON.stringify([idA, idB]) && v[0]?.leader === idA)
    })
    expect((await c.run(c.service.listGroups()))[0]?.me).toBe("listed")
    expect((await b.run(b.service.listGroups()))[0]?.me).toBe("member")
    await b.run(b.service.send({ _tag: "group", group: "team" as never }, "hi team"))
    await eventually("A gets the group message", async () =>
      (await a.run(a.service.history({ _tag: "group", group: "team" as never }, { limit: 5 }))).messages.some((m) => m.text === "hi team"))

    // 1: list users with status — C quits, the others see it offline
    await c.stop()
    await eventually("A sees C offline", async () => (await a.run(a.service.listUsers())).find((u) => u.user === idC)?.status === "offline")
  })

  it("rejects ids and group names that could inject topics", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const a = await start(broker)
    await expect(a.run(a.service.startConversation("user-1/#"))).rejects.toThrow(/not a user id/)
    await expect(a.run(a.service.createGroup("a+b"))).rejects.toThrow(/not a group name/)
    await expect(a.run(a.service.createGroup("x/y"))).rejects.toThrow(/not a group name/)
  })
})
