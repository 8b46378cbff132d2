/**
 * A flood on a real Mosquitto: 20,000 requests and acceptances from fake ids (validly signed
 * frames, each fake id with keys of its own) wait in the victim's persistent session, then a real
 * peer's message. When the victim comes back, the real
 * message is shown before the flood has been worked off (it is decided while strangers that came
 * before it still wait), the flood stores next to nothing, and afterwards the profile starts again
 * and connects. No timed assertion: what was decided when, and bounded waits for what must happen.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import mqtt from "mqtt"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { FileIdentityStore } from "../../adapters/storage/identity-file.ts"
import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { MAX_PENDING_INCOMING } from "../../domain/chat/decide.ts"
import { topics } from "../../domain/ids.ts"
import type { ChatNotice } from "../../domain/service/chat-service.ts"
import { mosquittoKind, type BrokerHandle } from "../support/brokers.ts"
import { eventually, mqttTransportTo, startUser, type RunningUser } from "../support/chat-user.ts"
import { controlFlood, mintFakeIds } from "../support/flood.ts"

const FLOOD = 20_000
const TIMEOUT = 60_000

describe.skipIf(mosquittoKind.skip)("a flood of forged messages on Mosquitto", () => {
  let broker: BrokerHandle
  let root: string

  beforeAll(async () => {
    broker = await mosquittoKind.start({ acl: true })
    root = await mkdtemp(join(tmpdir(), "mqtt-chat-flood-"))
  })
  afterAll(async () => {
    await broker?.dispose()
    await rm(root, { recursive: true, force: true })
  })

  const start = (dir: string | null, watch?: (notice: ChatNotice, service: RunningUser["service"]) => void) =>
    startUser({
      log: dir === null ? MemoryEventLog.layer : FileEventLog.layer({ dir }),
      // A profile on disk keeps its identity beside its log, to start again with the same keys.
      ...(dir === null ? {} : { identities: FileIdentityStore.layer({ dir }) }),
      transport: mqttTransportTo(broker.url),
      ...(watch === undefined ? {} : { watch }),
    })

  it("a real peer's message overtakes it; it stores little; the profile starts and connects after it", { timeout: 240_000 }, async () => {
    const dir = join(root, "victim")
    let victim = await start(dir)
    const peer = await start(null)
    const [idV, idP] = [victim.service.me, peer.service.me]
    try {
      await peer.run(peer.service.startConversation(idV))
      await eventually("the victim has the request", async () => (await victim.run(victim.service.requests())).length === 1, TIMEOUT)
      await victim.run(victim.service.acceptConversation(idP))
      await eventually("the peer is active", async () => (await peer.run(peer.service.listUsers())).find((u) => u.user === idV)?.conversation === "active", TIMEOUT)
      // The victim goes away; its session (subscriptions, queue) stays on the broker.
      await victim.stop()

      const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "attacker-flood", clean: true, reconnectPeriod: 0 })
      // Well-formed control messages, validly signed, from ids nobody knows, each with keys of its own.
      const flood = controlFlood(idV, mintFakeIds(300000, FLOOD), { idPrefix: "flood" })
      const publishes = flood.map((payload) => attacker.publishAsync(topics.control(idV), Buffer.from(payload), { qos: 1 }))
      await Promise.all(publishes)
      await attacker.endAsync()
      // Queued behind the whole flood.
      await peer.run(peer.service.send({ _tag: "peer", peer: idV }, "are you there?"))

      let atShow: { readonly decided: number; readonly waiting: number } | null = null
      victim = await start(dir, (notice, service) => {
        if (atShow === null && notice._tag === "message" && notice.message.text === "are you there?") atShow = Effect.runSync(service.stats).strangers
      })
      await eventually("the victim shows the real message", () => atShow !== null, TIMEOUT)
      // Decided while strangers that came before it still waited: not after the 20,000.
      expect(atShow!.waiting).toBeGreaterThan(0)
      expect(atShow!.decided).toBeLessThan(FLOOD / 2)

      await eventually("the flood is worked off", async () => {
        const stats = await victim.run(victim.service.stats)
        return stats.strangers.waiting === 0 && stats.received >= FLOOD
      }, TIMEOUT)
      const state = await victim.run(victim.service.state)
      // The flood's frames were verified and decided, not refused at the signature.
      const stats = await victim.run(victim.service.stats)
      expect(stats.droppedByReason["chat.accept from someone I have no conversation with"] ?? 0).toBeGreaterThan(0)
      expect(stats.droppedByReason["bad signature"] ?? 0).toBe(0)
      expect(state.index.incoming).toBeLessThanOrEqual(MAX_PENDING_INCOMING)
      expect(state.conversations.size).toBeLessThanOrEqual(MAX_PENDING_INCOMING + 1)
      // A reply still goes through both ways.
      await victim.run(victim.service.send({ _tag: "peer", peer: idP }, "yes"))
      await eventually("the peer reads the reply", async () =>
        (await peer.run(peer.service.history({ _tag: "peer", peer: idV }, { limit: 10 }))).messages.some((m) => m.text === "yes"), TIMEOUT)
      await victim.stop()

      // After the flood the profile starts again and connects (startUser returns once connected).
      victim = await Promise.race([
        start(dir),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the profile did not start and connect within 60 s")), TIMEOUT)),
      ])
      expect(victim.service.me).toBe(idV)
      expect((await victim.run(victim.service.connection))._tag).toBe("connected")
    } finally {
      await victim.stop().catch(() => undefined)
      await peer.stop().catch(() => undefined)
    }
  })
})
