/**
 * A fuzz barrage on real Mosquitto (bounded, 127.0.0.1): random bytes, random JSON, oversize,
 * malformed frames, unsigned envelopes, spoofed senders with keys of their own, changed keys,
 * frames replayed on their own topic and moved to others — on every topic the chat listens to.
 * The chat stays up and keeps its state, each rejection is counted by its reason, a real message
 * still goes through, and the log opens again after a restart.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import fc from "fast-check"
import mqtt from "mqtt"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { topics, type GroupName } from "../../domain/ids.ts"
import { mosquittoKind, type BrokerHandle } from "../support/brokers.ts"
import { eventually, fileProfile, mqttTransportTo, startUser, type RunningUser } from "../support/chat-user.ts"
import { forgedEnvelope, makeForger } from "../support/forger.ts"

const TIMEOUT = 30_000
const BARRAGE = 1_200

describe.skipIf(mosquittoKind.skip)("fuzz barrage on Mosquitto", () => {
  let broker: BrokerHandle
  let root: string
  const running: RunningUser[] = []

  beforeAll(async () => {
    broker = await mosquittoKind.start({ acl: true })
    root = await mkdtemp(join(tmpdir(), "mqtt-chat-fuzz-"))
  })
  afterAll(async () => {
    await Promise.all(running.splice(0).map((u) => u.stop().catch(() => undefined)))
    await broker?.dispose()
    await rm(root, { recursive: true, force: true })
  })

  const start = async (dir: string) => {
    const user = await startUser({
      ...fileProfile(dir),
      transport: mqttTransportTo(broker.url),
    })
    running.push(user)
    return user
  }

  it("the chat stays up, keeps its state, counts each rejection by reason, and reopens", { timeout: 180_000 }, async () => {
    const dirA = join(root, "a")
    let a = await start(dirA)
    const b = await start(join(root, "b"))
    const [idA, idB] = [a.service.me, b.service.me]
    await a.run(a.service.startConversation(idB))
    await eventually("B has the request", async () => (await b.run(b.service.requests())).some((r) => r.from === idA), TIMEOUT)
    await b.run(b.service.acceptConversation(idA))
    await eventually("A is active", async () => (await a.run(a.service.listUsers())).find((u) => u.user === idB)?.conversation === "active", TIMEOUT)
    await a.run(a.service.createGroup("fuzz"))
    await eventually("B sees the group", async () => (await b.run(b.service.listGroups())).some((g) => g.name === "fuzz"), TIMEOUT)
    await b.run(b.service.joinGroup("fuzz"))
    await eventually("A has B's request", async () => (await a.run(a.service.listGroups())).find((g) => g.name === "fuzz")?.pending.includes(idB) ?? false, TIMEOUT)
    await a.run(a.service.acceptJoin("fuzz", idB))
    await eventually("B is a member", async () => (await b.run(b.service.listGroups())).find((g) => g.name === "fuzz")?.me === "member", TIMEOUT)

    // Real frames of B's, captured on the way, to replay.
    const tap = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "user-99991", clean: true })
    const captured: Array<{ topic: string; payload: Buffer }> = []
    tap.on("message", (topic, payload) => { if (captured.length < 1000) captured.push({ topic, payload }) })
    await tap.subscribeAsync("#", { qos: 1 })
    const pair = topics.talk(idA, idB)
    await b.run(b.service.send({ _tag: "peer", peer: idA }, "real one"))
    await b.run(b.service.send({ _tag: "group", group: "fuzz" as GroupName }, "real two"))
    await eventually("frames captured", () => captured.some((m) => m.topic === pair) && captured.some((m) => m.topic === "group_fuzz_talk"), TIMEOUT)
    await eventually("A read both", async () => (await a.run(a.service.history({ _tag: "peer", peer: idB }, { limit: 10 }))).messages.length === 1, TIMEOUT)
    await tap.endAsync()
    const replayable = captured.slice()

    const listened = [topics.control(idA), "global_control", topics.presence(idB), "global_control/presence/user-55555", topics.groupInfo("fuzz" as GroupName), "global_control/groups/other", pair, "group_fuzz_talk"]
    const forgers = Array.from({ length: 8 }, (_, i) => makeForger(`user-6666${i}`))
    const asB = makeForger(idB) // B's id, keys of its own: a key change
    const bodyOf = (kind: number, topic: string): unknown => [
      { _tag: "chat.request", to: idA, attempt: 1, ends: 0 },
      { _tag: "chat.accept", to: idA, attempt: 9, topic: pair },
      { _tag: "chat.leave", to: idA, attempt: 999, ends: 999, topic: pair },
      { _tag: "group.join", group: "fuzz", attempt: 1 },
      { _tag: "group.leave", group: "fuzz" },
      { _tag: "group.info", info: { name: "fuzz", leader: idB, members: [idB], version: 50, foundedClock: 1, foundedBy: idB, dissolved: false } },
      { _tag: "presence", status: "offline", session: 77, connection: 1 },
      { _tag: "chat.sealed", n: 3, box: "A".repeat(80) },
      { _tag: "group.sealed", group: "fuzz", n: 3, epoch: 1, box: "B".repeat(80) },
      { _tag: "chat.message", text: `plain ${topic}`, n: 2 },
    ][kind % 10]
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
      fc.json({ maxDepth: 3 }).map((json) => Buffer.from(json)),
      fc.constant(Buffer.alloc(70 * 1024, 0x7b)),
      fc.constantFrom('{"v":2}', '{"v":2,"k":"x","m":"{}","s":"y"}', '{"v":3,"k":1}', "").map((text) => Buffer.from(text)),
      fc.tuple(fc.nat(), fc.nat()).map(([kind, who]) => ({ kind, who })),
    )
    const samples = fc.sample(fc.tuple(fc.constantFrom(...listened), payload, fc.nat(7)), { numRuns: BARRAGE, seed: 424242 })
    const before = await a.run(a.service.stats)
    const stateBefore = { users: await a.run(a.service.listUsers()), groups: await a.run(a.service.listGroups()) }
    const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "user-66660", clean: true })
    let published = 0
    let oversize = 0
    for (const [topic, sample, pick] of samples) {
      let bytes: Buffer
      if (Buffer.isBuffer(sample)) bytes = sample
      else {
        const from = [idB, idA, `user-6666${sample.who % 8}`][sample.who % 3]!
        const envelope = forgedEnvelope(from, bodyOf(sample.kind, topic))
        switch (pick % 4) {
          case 0: bytes = Buffer.from(JSON.stringify(envelope)); break // unsigned
          case 1: bytes = Buffer.from((from === idB ? asB : forgers[sample.who % 8]!).frame(topic, envelope)); break
          case 2: {
            const real = replayable[sample.who % replayable.length]!
            bytes = real.payload // replayed: on its own topic or moved to another one
            break
          }
          default: bytes = Buffer.from(forgers[sample.kind % 8]!.frame(topics.control("user-12345" as never), envelope)) // signed for another topic
        }
      }
      await attacker.publishAsync(topic, bytes, { qos: 1 })
      published += 1
      // Not delivered: the transport drops oversize frames, the ACL another user's presence topic.
      if (bytes.byteLength > 64 * 1024 || topic.startsWith("global_control/presence/")) oversize += 1
    }
    // And B's own frames replayed on their own topics: duplicates.
    for (const real of replayable.filter((m) => m.topic === pair || m.topic === "group_fuzz_talk")) {
      for (let i = 0; i < 3; i++) await attacker.publishAsync(real.topic, real.payload, { qos: 1 })
      published += 3
    }
    await attacker.endAsync()
    const handled = async () => {
      const s = await a.run(a.service.stats)
      return s.received - before.received
    }
    // Oversize frames are dropped by the transport before the service sees them: count what reached it.
    const reaching = published - oversize
    expect(oversize).toBeGreaterThan(0)
    await eventually("A worked off the barrage", async () => (await handled()) >= reaching * 0.9 && (await a.run(a.service.stats)).strangers.waiting === 0, 60_000)

    const after = await a.run(a.service.stats)
    const reasons = Object.entries(after.droppedByReason).map(([reason, count]) => [reason, count - (before.droppedByReason[reason] ?? 0)] as const).filter(([, n]) => n > 0)
    const has = (pattern: RegExp) => reasons.some(([reason]) => pattern.test(reason))
    for (const pattern of [/bad signature/, /keys of user-N changed/, /unsigned message/, /not-json/, /invalid frame/, /^duplicate$/, /oversize|empty payload/]) {
      expect(has(pattern), `${pattern} among ${JSON.stringify(reasons)}`).toBe(true)
    }
    // Everything that reached the service was refused or ignored, each under a reason.
    const counted = reasons.reduce((n, [, count]) => n + count, 0)
    expect(counted).toBeGreaterThanOrEqual((await handled()) * 0.9)
    // State unchanged where it matters.
    const users = await a.run(a.service.listUsers())
    expect(users.find((u) => u.user === idB)?.conversation).toBe("active")
    expect(users.filter((u) => u.conversation !== "idle").map((u) => u.user)).toEqual(stateBefore.users.filter((u) => u.conversation !== "idle").map((u) => u.user))
    expect((await a.run(a.service.listGroups())).find((g) => g.name === "fuzz")?.members).toEqual([idA, idB])
    // Still up, both ways; and the log opens again.
    await b.run(b.service.send({ _tag: "peer", peer: idA }, "after the barrage"))
    await eventually("A reads the real message", async () => (await a.run(a.service.history({ _tag: "peer", peer: idB }, { limit: 20 }))).messages.some((m) => m.text === "after the barrage"), TIMEOUT)
    running.splice(running.indexOf(a), 1)
    await a.stop()
    a = await start(dirA)
    expect(a.service.me).toBe(idA)
    await a.run(a.service.send({ _tag: "peer", peer: idB }, "reopened"))
    await eventually("B reads it", async () => (await b.run(b.service.history({ _tag: "peer", peer: idA }, { limit: 20 }))).messages.some((m) => m.text === "reopened"), TIMEOUT)
  })
})
