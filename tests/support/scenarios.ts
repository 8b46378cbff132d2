/** Scenarios shared by the in-memory, Mosquitto and aedes suites: the same assertions on every transport. */
import { expect } from "vitest"
import { topics, type GroupName } from "../../domain/ids.ts"
import { eventually, type RunningUser } from "./chat-user.ts"

/** The design note's five menu functions between three users (A leads, B is accepted, C refused). */
export async function fiveMenuFunctions(a: RunningUser, b: RunningUser, c: RunningUser, timeoutMs = 15_000): Promise<void> {
  const [idA, idB, idC] = [a.service.me, b.service.me, c.service.me]
  const team = "team" as GroupName

  // 1: list users with status
  await eventually("A sees B and C online", async () => {
    const users = await a.run(a.service.listUsers())
    return users.filter((u) => (u.user === idB || u.user === idC) && u.status === "online").length === 2
  }, timeoutMs)

  // 5: one-to-one accepted, chat both ways
  await a.run(a.service.startConversation(idB))
  await eventually("B has A's request", async () => (await b.run(b.service.requests())).some((r) => r.from === idA && r.status === "pending"), timeoutMs)
  await b.run(b.service.acceptConversation(idA))
  await eventually("A is active with B", async () => (await a.run(a.service.listUsers())).find((u) => u.user === idB)?.conversation === "active", timeoutMs)
  await a.run(a.service.send({ _tag: "peer", peer: idB }, "hello B"))
  await b.run(b.service.send({ _tag: "peer", peer: idA }, "hello A"))
  await eventually("both see both messages", async () => {
    const ha = await a.run(a.service.history({ _tag: "peer", peer: idB }, { limit: 10 }))
    const hb = await b.run(b.service.history({ _tag: "peer", peer: idA }, { limit: 10 }))
    return ha.messages.length === 2 && hb.messages.length === 2
  }, timeoutMs)
  const acceptancesA = await a.run(a.service.acceptances())
  expect(acceptancesA.some((x) => x.peer === idB && x.topic === topics.talk(idA, idB) && x.by === "peer")).toBe(true)
  const requestsB = await b.run(b.service.requests())
  expect(requestsB.find((r) => r.from === idA)?.status).toBe("accepted")

  // 5: one-to-one refused
  await c.run(c.service.startConversation(idA))
  await eventually("A has C's request", async () => (await a.run(a.service.requests())).some((r) => r.from === idC && r.status === "pending"), timeoutMs)
  await a.run(a.service.refuseConversation(idC, "busy"))
  await eventually("C sees the refusal", async () => (await c.run(c.service.listUsers())).find((u) => u.user === idA)?.conversation === "closed", timeoutMs)
  await expect(c.run(c.service.send({ _tag: "peer", peer: idA }, "hi?"))).rejects.toThrow(/no active conversation/)

  // 2: create group; 3: list groups; 4: join (accepted and refused)
  await a.run(a.service.createGroup(team))
  await eventually("B and C see the group", async () =>
    (await b.run(b.service.listGroups())).some((g) => g.name === team) && (await c.run(c.service.listGroups())).some((g) => g.name === team), timeoutMs)
  await b.run(b.service.joinGroup(team))
  await c.run(c.service.joinGroup(team))
  await eventually("A has both join requests", async () => ((await a.run(a.service.listGroups())).find((g) => g.name === team)?.pending.length ?? 0) === 2, timeoutMs)
  await a.run(a.service.acceptJoin(team, idB))
  await a.run(a.service.refuseJoin(team, idC, "not now"))
  await eventually("everyone lists team: leader A, members [A, B]", async () => {
    const views = await Promise.all([a, b, c].map((u) => u.run(u.service.listGroups())))
    return views.every((v) => {
      const g = v.find((x) => x.name === team)
      return g !== undefined && g.leader === idA && JSON.stringify(g.members) === JSON.stringify([idA, idB])
    })
  }, timeoutMs)
  await eventually("C sees the refusal", async () => (await c.run(c.service.listGroups())).find((g) => g.name === team)?.me === "listed", timeoutMs)
  expect((await b.run(b.service.listGroups())).find((g) => g.name === team)?.me).toBe("member")
  await b.run(b.service.send({ _tag: "group", group: team }, "hi team"))
  await a.run(a.service.send({ _tag: "group", group: team }, "welcome B"))
  await eventually("A and B see both group messages", async () => {
    const ha = await a.run(a.service.history({ _tag: "group", group: team }, { limit: 5 }))
    const hb = await b.run(b.service.history({ _tag: "group", group: team }, { limit: 5 }))
    return ha.messages.length === 2 && hb.messages.length === 2
  }, timeoutMs)
  await expect(c.run(c.service.send({ _tag: "group", group: team }, "let me in"))).rejects.toThrow(/not a member/)
  const acceptancesB = await b.run(b.service.acceptances())
  expect(acceptancesB.some((x) => x.kind === "group" && x.topic === "group_team_talk")).toBe(true)

  // 1 again: C quits, the others see it offline
  await c.stop()
  await eventually("A sees C offline", async () => (await a.run(a.service.listUsers())).find((u) => u.user === idC)?.status === "offline", timeoutMs)
}
