/**
 * What each broker keeps across a restart, and how much it queues for an offline user: the
 * places where MQTT loses messages without telling anyone (shared/notes/mqtt-facts.md).
 * Plain MQTT.js clients here, so that these tests are about the brokers, not our adapter.
 */
import mqtt from "mqtt"
import type { MqttClient } from "mqtt"
import { afterEach, describe, expect, it } from "vitest"
import { brokerKinds, mosquittoKind } from "../support/brokers.ts"
import type { BrokerHandle } from "../support/brokers.ts"

let serial = Math.floor(Math.random() * 1_000_000)
const nextId = (): string => `user-${++serial}`

const open: Array<MqttClient> = []
const brokers: Array<BrokerHandle> = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.endAsync(true)))
  await Promise.all(brokers.splice(0).map((broker) => broker.dispose()))
})

const connect = async (url: string, clientId: string, clean = false): Promise<MqttClient> => {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId, clean, reconnectPeriod: 0, connectTimeout: 3_000 })
  open.push(client)
  return client
}

/** Connects with the handler in place before the CONNECT goes out, collecting `topic → payloads`. */
const connectCollecting = async (url: string, clientId: string) => {
  const received = new Map<string, Array<string>>()
  const client = mqtt.connect(url, { protocolVersion: 4, clientId, clean: false, reconnectPeriod: 0, manualConnect: true })
  open.push(client)
  client.on("message", (topic, payload) => received.set(topic, [...(received.get(topic) ?? []), payload.toString()]))
  client.on("error", () => {})
  const connected = new Promise<void>((resolve) => client.once("connect", () => resolve()))
  client.connect()
  await connected
  return { client, received }
}

const waitUntil = async (what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

for (const kind of brokerKinds) {
  describe.skipIf(kind.skip)(`${kind.name} broker`, () => {
    const start = async () => {
      const broker = await kind.start()
      brokers.push(broker)
      return broker
    }

    it("keeps an offline session's queued QoS 1 messages and retained messages across a restart", async () => {
      const broker = await start()
      const offline = nextId()
      const subscriber = await connect(broker.url, offline)
      await subscriber.subscribeAsync(["queue/a", "presence/+"], { qos: 1 })
      await subscriber.endAsync()

      const publisher = await connect(broker.url, nextId(), true)
      for (const n of [1, 2, 3]) await publisher.publishAsync("queue/a", `m${n}`, { qos: 1 })
      await publisher.publishAsync("presence/x", "online", { qos: 1, retain: true })
      await publisher.endAsync()

      await broker.restart()

      const back = await connectCollecting(broker.url, offline)
      await waitUntil("the queued messages", () => (back.received.get("queue/a") ?? []).length >= 3)
      expect([...new Set(back.received.get("queue/a"))]).toEqual(["m1", "m2", "m3"])

      const late = await connectCollecting(broker.url, nextId())
      await late.client.subscribeAsync("presence/+", { qos: 1 })
      await waitUntil("the retained presence", () => late.received.has("presence/x"))
      expect(late.received.get("presence/x")).toEqual(["online"])
    })

    it("queues 3,000 messages for one offline user without dropping any (Mosquitto's default cap is 1,000)", async () => {
      const broker = await start()
      const offline = nextId()
      const subscriber = await connect(broker.url, offline)
      await subscriber.subscribeAsync("bulk", { qos: 1 })
      await subscriber.endAsync()

      const count = 3_000
      const publisher = await connect(broker.url, nextId(), true)
      const batch = 100
      for (let first = 0; first < count; first += batch) {
        await Promise.all(Array.from({ length: batch }, (_, i) => publisher.publishAsync("bulk", String(first + i), { qos: 1 })))
      }

      const back = await connectCollecting(broker.url, offline)
      await waitUntil(`${count} messages`, () => new Set(back.received.get("bulk")).size >= count, 15_000)
      expect(new Set(back.received.get("bulk")).size).toBe(count)
    }, 30_000)

    it("publishes the will of a client that vanished, and keeps it retained", async () => {
      const broker = await start()
      const observer = await connectCollecting(broker.url, nextId())
      await observer.client.subscribeAsync("presence/+", { qos: 1 })
      const doomed = mqtt.connect(broker.url, {
        protocolVersion: 4,
        clientId: nextId(),
        clean: false,
        reconnectPeriod: 0,
        will: { topic: "presence/doomed", payload: Buffer.from("offline"), qos: 1, retain: true },
      })
      doomed.on("error", () => {})
      await new Promise<void>((resolve) => doomed.once("connect", () => resolve()))
      // Destroying the socket without DISCONNECT is what the broker sees when a process dies.
      doomed.stream.destroy()
      await waitUntil("the will", () => observer.received.has("presence/doomed"))
      doomed.end(true)

      const late = await connectCollecting(broker.url, nextId())
      await late.client.subscribeAsync("presence/doomed", { qos: 1 })
      await waitUntil("the retained will", () => late.received.has("presence/doomed"))
      expect(late.received.get("presence/doomed")).toEqual(["offline"])
    })
  })
}

describe.skipIf(mosquittoKind.skip)("mosquitto broker, killed", () => {
  it("still has what arrived before the last autosave after a SIGKILL", async () => {
    const broker = await mosquittoKind.start()
    brokers.push(broker)
    const publisher = await connect(broker.url, nextId(), true)
    await publisher.publishAsync("presence/kept", "online", { qos: 1, retain: true })
    await publisher.endAsync()
    // The harness saves every second; give it two.
    await settle(2_100)
    await broker.stop("SIGKILL")
    await broker.restart()

    const late = await connectCollecting(broker.url, nextId())
    await late.client.subscribeAsync("presence/kept", { qos: 1 })
    await waitUntil("the retained message", () => late.received.has("presence/kept"))
  })
})
