/**
 * Retained state that someone erases or overwrites (issue 7, part 6): an empty or junk retained
 * message on a group's topic or a user's presence topic must never make the group or the user
 * vanish for those who come later. The owner — the group's leader, the user — publishes its last
 * good copy again: at once when it sees the damage, and on every connection.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { topics, type GroupName } from "../../domain/ids.ts"
import { FileIdentityStore } from "../../adapters/storage/identity-file.ts"
import { eventually, startUser, type RunningUser } from "../support/chat-user.ts"
import { makeForger } from "../support/forger.ts"

const running: RunningUser[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop()))
})

const start = async (broker: MemoryBroker, dir?: string) => {
  const user = await startUser({
    ...(dir === undefined ? { log: MemoryEventLog.layer } : { log: FileEventLog.layer({ dir }), identities: FileIdentityStore.layer({ dir }) }),
    transport: (profile) => memoryTransportLayer(broker, { clientId: profile.me, will: profile.willFor }),
  })
  running.push(user)
  return user
}
const stop = async (user: RunningUser) => {
  running.splice(running.indexOf(user), 1)
  await user.stop()
}

const team = "team" as GroupName
const empty = new Uint8Array(0)
const bytes = (text: string) => new TextEncoder().encode(text)
/** Someone else's validly signed frame: it verifies, it just is not the leader's. */
const forger = makeForger("user-66666")
/** The envelope inside a retained frame, as text ("" when it is no frame). */
const retainedEnvelope = (broker: MemoryBroker, topic: string): string => {
  try {
    return String(JSON.parse(new TextDecoder().decode(retainedPayload(broker, topic))).m ?? "")
  } catch {
    return ""
  }
}
const seesTeam = async (u: RunningUser) => (await u.run(u.service.listGroups())).some((g) => g.name === team)

describe("erased or overwritten retained state", () => {
  for (const [what, payload] of [["an empty", empty], ["a junk", bytes("not json at all")], ["a misrouted", bytes(forger.frameText(topics.groupInfo(team), '{"v":1,"id":"junk00000001","from":"user-66666","ts":1,"clock":1,"body":{"_tag":"group.leave","group":"team"}}'))]] as const) {
    it(`${what} retained message on a group's topic: the leader publishes the group again, and a later user sees it`, async () => {
      const broker = new MemoryBroker({ autoFlush: true })
      const leader = await start(broker)
      const member = await start(broker)
      await leader.run(leader.service.createGroup(team))
      await eventually("the member sees the group", () => seesTeam(member))
      broker.publish({ topic: topics.groupInfo(team), payload, retain: true })
      // Those who know the group keep it, and say why they dropped the junk.
      await eventually("the member dropped it with a reason", () => member.notices.some((n) => n._tag === "dropped" && n.topic === topics.groupInfo(team)))
      expect(await seesTeam(member)).toBe(true)
      await eventually("the retained copy is the leader's again", () => broker.hasRetained(topics.groupInfo(team)) && retainedEnvelope(broker, topics.groupInfo(team)).includes('"group.info"'))
      const later = await start(broker)
      await eventually("a later user sees the group", () => seesTeam(later))
    })
  }

  it("a rival founding that claims to have lived overwrites the retained copy: the leader restores its own", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const leader = await start(broker)
    await leader.run(leader.service.createGroup(team))
    await eventually("retained", () => broker.hasRetained(topics.groupInfo(team)))
    const rival = JSON.stringify({
      v: 1, id: "rival0000001", from: "user-66666", ts: 1, clock: 5,
      body: { _tag: "group.info", info: { name: "team", leader: "user-66666", members: ["user-66666", "user-66667"], version: 7, foundedClock: 0, foundedBy: "user-66666", dissolved: false } },
    })
    broker.publish({ topic: topics.groupInfo(team), payload: bytes(forger.frameText(topics.groupInfo(team), rival)), retain: true })
    await eventually("the retained copy is the leader's again", () => retainedEnvelope(broker, topics.groupInfo(team)).includes(`"leader":"${leader.service.me}"`))
    expect((await leader.run(leader.service.listGroups())).find((g) => g.name === team)?.me).toBe("leading")
    const later = await start(broker)
    await eventually("a later user sees the leader's group", async () => (await later.run(later.service.listGroups())).find((g) => g.name === team)?.leader === leader.service.me)
  })

  it("erased while its leader was offline: the leader restores it when it connects again", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-retained-"))
    let leader = await start(broker, dir)
    await leader.run(leader.service.createGroup(team))
    await eventually("retained", () => broker.hasRetained(topics.groupInfo(team)))
    await stop(leader)
    broker.publish({ topic: topics.groupInfo(team), payload: empty, retain: true })
    expect(broker.hasRetained(topics.groupInfo(team))).toBe(false)
    leader = await start(broker, dir)
    expect(await seesTeam(leader)).toBe(true)
    await eventually("restored on connect", () => broker.hasRetained(topics.groupInfo(team)))
    const later = await start(broker)
    await eventually("a later user sees the group", () => seesTeam(later))
    await stop(leader)
    rmSync(dir, { recursive: true, force: true })
  })

  it("a user's erased presence: the user publishes it again, and a later user sees it online", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const a = await start(broker)
    await eventually("A's presence is retained", () => broker.hasRetained(topics.presence(a.service.me)))
    broker.publish({ topic: topics.presence(a.service.me), payload: empty, retain: true })
    await eventually("A's presence is back", () => broker.hasRetained(topics.presence(a.service.me)))
    const later = await start(broker)
    await eventually("a later user sees A online", async () => (await later.run(later.service.listUsers())).find((u) => u.user === a.service.me)?.status === "online")
  })
})

const retainedPayload = (broker: MemoryBroker, topic: string): Uint8Array => broker.retainedPayload(topic) ?? new Uint8Array(0)
