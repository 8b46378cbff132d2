/**
 * Attacks from the wire, end to end through real brokers: an eavesdropper on `#`, a forger with keys
 * of its own, a member who left, a peer whose keys changed. Each test checks the attack did reach the
 * victim (counters, captured frames), so a test that passes because nothing happened cannot pass.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Option } from "effect"
import mqtt from "mqtt"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { loadIdentityFile } from "../../adapters/storage/identity-file.ts"
import { nodeCryptoPrimitives } from "../../adapters/system/node-crypto.ts"
import { topics, type GroupName, type UserId } from "../../domain/ids.ts"
import { IdSource, seededIdSource } from "../../domain/ports/id-source.port.ts"
import { restoreIdentity } from "../../domain/trust/identity.ts"
import { makeSecureChannel } from "../../domain/trust/secure-channel.ts"
import type { BrokerHandle, BrokerKind } from "../support/brokers.ts"
import { eventually, fileProfile, mqttTransportTo, startUser, type RunningUser } from "../support/chat-user.ts"
import { forgedEnvelope, makeForger } from "../support/forger.ts"

const TIMEOUT = 20_000

export function trustSuite(kind: BrokerKind): void {
  describe.skipIf(kind.skip)(`trust over ${kind.name}`, () => {
    let broker: BrokerHandle
    let root: string
    const running: RunningUser[] = []
    const clients: mqtt.MqttClient[] = []
    let profiles = 0

    beforeAll(async () => {
      broker = await kind.start({ acl: true })
      root = await mkdtemp(join(tmpdir(), `mqtt-chat-trust-${kind.name}-`))
    })
    afterEach(async () => {
      await Promise.all(running.splice(0).map((u) => u.stop().catch(() => undefined)))
      await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)))
    })
    afterAll(async () => {
      await broker?.dispose()
      await rm(root, { recursive: true, force: true })
    })

    const newProfileDir = () => join(root, `profile-${++profiles}`)
    const start = async (dir: string, user?: string) => {
      const started = await startUser({
        ...fileProfile(dir),
        ...(user === undefined ? {} : { ids: Layer.succeed(IdSource, { ...seededIdSource(1), newUserId: Effect.succeed(user as UserId) }) }),
        transport: mqttTransportTo(broker.url),
      })
      running.push(started)
      return started
    }
    const peer = (u: RunningUser) => ({ _tag: "peer" as const, peer: u.service.me })
    const talk = async (a: RunningUser, b: RunningUser) => {
      await a.run(a.service.startConversation(b.service.me))
      await eventually("B has the request", async () => (await b.run(b.service.requests())).some((r) => r.from === a.service.me && r.status === "pending"), TIMEOUT)
      await b.run(b.service.acceptConversation(a.service.me))
      await eventually("A is active", async () => (await a.run(a.service.listUsers())).find((u) => u.user === b.service.me)?.conversation === "active", TIMEOUT)
    }
    const texts = async (u: RunningUser, target: { readonly _tag: "peer"; readonly peer: UserId } | { readonly _tag: "group"; readonly group: GroupName }) =>
      (await u.run(u.service.history(target, { limit: 1000 }))).messages.map((m) => m.text)
    const groupOf = async (u: RunningUser, name: string) => (await u.run(u.service.listGroups())).find((g) => g.name === name)
    /** A leads `name`; each of `members` asks to join and is accepted. */
    const group = async (name: string, leader: RunningUser, members: ReadonlyArray<RunningUser>) => {
      await leader.run(leader.service.createGroup(name))
      for (const member of members) {
        await eventually(`${member.service.me} sees ${name}`, async () => (await groupOf(member, name)) !== undefined, TIMEOUT)
        await member.run(member.service.joinGroup(name))
        await eventually("the leader has the request", async () => (await groupOf(leader, name))?.pending.includes(member.service.me) ?? false, TIMEOUT)
        await leader.run(leader.service.acceptJoin(name, member.service.me))
        await eventually(`${member.service.me} is a member`, async () => (await groupOf(member, name))?.me === "member", TIMEOUT)
      }
    }
    /** A raw MQTT client reading everything (`#`): what a curious user or the broker's operator sees. */
    const eavesdrop = async () => {
      const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: `user-9${String(profiles).padStart(4, "0")}1`, clean: true })
      clients.push(client)
      const seen: Array<{ readonly topic: string; readonly payload: Buffer }> = []
      client.on("message", (topic, payload) => {
        if (seen.length < 100_000) seen.push({ topic, payload })
      })
      await client.subscribeAsync("#", { qos: 1 })
      return seen
    }

    it("a subscriber to # sees no plaintext of a one-to-one or a group message, while the users read them", async () => {
      const [a, b, c] = [await start(newProfileDir()), await start(newProfileDir()), await start(newProfileDir())]
      await talk(a, b)
      await group("secret", a, [b, c])
      const seen = await eavesdrop()
      const marker = "MARKER-pineapple-7731"
      await a.run(a.service.send(peer(b), `one to one ${marker}`))
      await b.run(b.service.send({ _tag: "group", group: "secret" as GroupName }, `to the group ${marker}`))
      await eventually("B read the one-to-one message", async () => (await texts(b, peer(a))).includes(`one to one ${marker}`), TIMEOUT)
      await eventually("A and C read the group message", async () =>
        (await texts(a, { _tag: "group", group: "secret" as GroupName })).includes(`to the group ${marker}`) &&
        (await texts(c, { _tag: "group", group: "secret" as GroupName })).includes(`to the group ${marker}`), TIMEOUT)
      const pairTopic = topics.talk(a.service.me, b.service.me)
      await eventually("the eavesdropper got both frames", () => seen.some((m) => m.topic === pairTopic) && seen.some((m) => m.topic === "group_secret_talk"), TIMEOUT)
      for (const message of seen) {
        expect(message.payload.toString("utf8")).not.toContain("pineapple")
        expect(message.payload.toString("latin1")).not.toContain("pineapple")
      }
    })

    it("a forger with keys of its own cannot speak for another user on any control or talk topic", async () => {
      const [a, b] = [await start(newProfileDir()), await start(newProfileDir())]
      await talk(a, b)
      await group("club", a, [b])
      const idA = a.service.me
      const idB = b.service.me
      const pairTopic = topics.talk(idA, idB)
      const forger = makeForger("user-66666")
      const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "user-66666", clean: true })
      clients.push(attacker)
      const info = { name: "club", leader: idB, members: [idB, "user-66666"], version: 99, foundedClock: 0, foundedBy: idB, dissolved: false }
      const asB = [
        { topic: `${idA}_control`, body: { _tag: "chat.leave", to: idA, attempt: 1_000_000, ends: 1_000_000, topic: pairTopic } },
        { topic: `${idA}_control`, body: { _tag: "chat.refuse", to: idA, attempt: 3, refuses: 2, reason: "forged" } },
        { topic: `${idA}_control`, body: { _tag: "chat.request", to: idA, attempt: 7, ends: 0 } },
        { topic: `${idA}_control`, body: { _tag: "chat.accept", to: idA, attempt: 7, topic: pairTopic } },
        { topic: `${idA}_control`, body: { _tag: "group.leave", group: "club" } },
        { topic: `${idA}_control`, body: { _tag: "group.join", group: "club", attempt: 9 } },
        { topic: `${idA}_control`, body: { _tag: "chat.resend", topic: pairTopic, missing: [1, 2, 3] } },
        { topic: "global_control/groups/club", body: { _tag: "group.info", info } },
        { topic: pairTopic, body: { _tag: "chat.sealed", n: 50, box: "A".repeat(64) } },
        { topic: pairTopic, body: { _tag: "chat.message", text: "forged text as B", n: 51 } },
        { topic: "group_club_talk", body: { _tag: "group.sealed", group: "club", n: 50, epoch: 2, box: "A".repeat(64) } },
        { topic: "group_club_talk", body: { _tag: "group.message", group: "club", text: "forged text as B", n: 51 } },
      ]
      const statsBefore = await a.run(a.service.stats)
      for (const { topic, body } of asB) await attacker.publishAsync(topic, forger.frame(topic, forgedEnvelope(idB, body)), { qos: 1 })
      // And as nobody in particular: unsigned (the old protocol) and a real frame moved to another topic.
      await attacker.publishAsync(`${idA}_control`, JSON.stringify(forgedEnvelope(idB, { _tag: "chat.leave", to: idA, attempt: 9, ends: 9, topic: pairTopic })), { qos: 1 })
      await attacker.publishAsync(`${idA}_control`, forger.frame(`${idB}_control`, forgedEnvelope("user-66666", { _tag: "chat.request", to: idA, attempt: 1, ends: 0 })), { qos: 1 })
      await eventually("A handled every forgery", async () => (await a.run(a.service.stats)).received - statsBefore.received >= asB.length + 2, TIMEOUT)

      const users = await a.run(a.service.listUsers())
      expect(users.find((u) => u.user === idB)?.conversation).toBe("active")
      expect(users.some((u) => u.user === "user-66666")).toBe(false)
      expect((await groupOf(a, "club"))?.members).toEqual([idA, idB])
      expect((await groupOf(a, "club"))?.leader).toBe(idA)
      expect(await texts(a, peer(b))).not.toContain("forged text as B")
      // Loudly: B's keys "changed" (the forger's), which A refuses until told otherwise.
      const who = await a.run(a.service.whois(idB))
      expect(who.changed?.keys).toBe(forger.keys)
      expect(who.keys).not.toBe(forger.keys)
      // Each was refused (a batch's drops are counted once the batch is done: wait for it).
      await eventually("every forgery counted as dropped", async () => (await a.run(a.service.stats)).dropped - statsBefore.dropped >= asB.length + 2, TIMEOUT)
      // The real B is still heard, both ways.
      await b.run(b.service.send(peer(a), "the real B"))
      await eventually("A reads the real B", async () => (await texts(a, peer(b))).includes("the real B"), TIMEOUT)
      await a.run(a.service.send({ _tag: "group", group: "club" as GroupName }, "to the real club"))
      await eventually("B reads the group", async () => (await texts(b, { _tag: "group", group: "club" as GroupName })).includes("to the real club"), TIMEOUT)
    })

    it("a member who left cannot read what the group says next; it could read what came before", async () => {
      const dirOfC = join(root, "profile-c-inner")
      const [a, b, c] = [await start(newProfileDir()), await start(newProfileDir()), await start(dirOfC)]
      await group("inner", a, [b, c])
      const seen = await eavesdrop()
      await b.run(b.service.send({ _tag: "group", group: "inner" as GroupName }, "before C left"))
      await eventually("C read it", async () => (await texts(c, { _tag: "group", group: "inner" as GroupName })).includes("before C left"), TIMEOUT)
      await c.run(c.service.leaveGroup("inner"))
      await eventually("A and B no longer list C", async () =>
        !((await groupOf(a, "inner"))?.members.includes(c.service.me) ?? true) && !((await groupOf(b, "inner"))?.members.includes(c.service.me) ?? true), TIMEOUT)
      await b.run(b.service.send({ _tag: "group", group: "inner" as GroupName }, "after C left"))
      await eventually("A read it", async () => (await texts(a, { _tag: "group", group: "inner" as GroupName })).includes("after C left"), TIMEOUT)
      await eventually("the eavesdropper has both", () => seen.filter((m) => m.topic === "group_inner_talk").length >= 2, TIMEOUT)
      // C, keeping its keys and everything it was given, tries both frames it could have captured.
      const stored = Option.getOrThrow(await Effect.runPromise(loadIdentityFile(join(dirOfC, "identity.json"))))
      const channelOfC = makeSecureChannel(nodeCryptoPrimitives, restoreIdentity(stored)!)
      const stateOfC = await c.run(c.service.state)
      const [before, after] = seen.filter((m) => m.topic === "group_inner_talk")
      const openedBefore = channelOfC.open(stateOfC, "group_inner_talk", new Uint8Array(before!.payload))
      const openedAfter = channelOfC.open(stateOfC, "group_inner_talk", new Uint8Array(after!.payload))
      expect(openedBefore._tag).toBe("Success")
      expect(openedAfter._tag).toBe("Failure")
      if (openedAfter._tag === "Failure") expect(openedAfter.failure.reason).toMatch(/no key to read #inner/)
    })

    it("after the leader leaves, the new leader's key carries the group: members read each other, the old leader cannot", async () => {
      const dirOfA = join(root, "profile-a-handover")
      const [a, b, c] = [await start(dirOfA), await start(newProfileDir()), await start(newProfileDir())]
      await group("relay", a, [b, c])
      await a.run(a.service.leaveGroup("relay"))
      await eventually("B leads and C follows", async () =>
        (await groupOf(b, "relay"))?.me === "leading" && (await groupOf(c, "relay"))?.leader === b.service.me, TIMEOUT)
      const seen = await eavesdrop()
      const relay = { _tag: "group" as const, group: "relay" as GroupName }
      // Both directions under the new leader's key (C may need a moment for B's wrapped key).
      await eventually("C can send under the new leader", async () =>
        (await c.run(c.service.send(relay, "from C after the handover")).then(() => true, () => false)), TIMEOUT)
      await eventually("B reads C", async () => (await texts(b, relay)).includes("from C after the handover"), TIMEOUT)
      await b.run(b.service.send(relay, "from B, the new leader"))
      await eventually("C reads B", async () => (await texts(c, relay)).includes("from B, the new leader"), TIMEOUT)
      await eventually("the eavesdropper has the frames", () => seen.filter((m) => m.topic === "group_relay_talk").length >= 2, TIMEOUT)
      // A, who left, keeps its keys and what it was given, and tries the frames it could capture.
      const stored = Option.getOrThrow(await Effect.runPromise(loadIdentityFile(join(dirOfA, "identity.json"))))
      const channelOfA = makeSecureChannel(nodeCryptoPrimitives, restoreIdentity(stored)!)
      const stateOfA = await a.run(a.service.state)
      for (const frame of seen.filter((m) => m.topic === "group_relay_talk")) {
        const opened = channelOfA.open(stateOfA, "group_relay_talk", new Uint8Array(frame.payload))
        expect(opened._tag).toBe("Failure")
      }
    })

    it("a peer whose keys changed is refused, loudly, until the user trusts the new keys", async () => {
      const dirB = newProfileDir()
      const [a, b] = [await start(newProfileDir()), await start(dirB)]
      await talk(a, b)
      const idB = b.service.me
      const pinned = (await a.run(a.service.whois(idB))).keys
      expect(pinned).not.toBeNull()
      running.splice(running.indexOf(b), 1)
      await b.stop()
      // B reinstalls: same id, new keys (or someone else took the id).
      const b2 = await start(newProfileDir(), idB)
      expect(b2.service.me).toBe(idB)
      await eventually("A noted the change", async () => (await a.run(a.service.whois(idB))).changed !== null, TIMEOUT)
      await a.run(a.service.leaveConversation(idB)).catch(() => undefined)
      await b2.run(b2.service.startConversation(a.service.me)).catch(() => undefined)
      // Refused: the request under the new keys is not a request from the user A knows.
      const who = await a.run(a.service.whois(idB))
      expect(who.keys).toBe(pinned)
      expect(who.changed?.fingerprint).not.toBe(who.fingerprint)
      expect((await a.run(a.service.requests())).filter((r) => r.from === idB && r.status === "pending")).toHaveLength(0)
      // A compares safety numbers with B out of band, then trusts; B asks again and is heard.
      await a.run(a.service.trustKeys(idB))
      expect((await a.run(a.service.whois(idB))).keys).toBe(who.changed?.keys)
      await b2.run(b2.service.leaveConversation(a.service.me)).catch(() => undefined)
      await b2.run(b2.service.startConversation(a.service.me))
      await eventually("A has B's new request", async () => (await a.run(a.service.requests())).some((r) => r.from === idB && r.status === "pending"), TIMEOUT)
    })
  })
}
