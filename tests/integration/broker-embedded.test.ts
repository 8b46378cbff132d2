/** The embedded broker's own promises: where it listens, how it closes, when it is worth starting. */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import mqtt from "mqtt"
import { afterEach, describe, expect, it } from "vitest"
import { startEmbeddedBroker } from "../../adapters/broker/embedded-broker.ts"
import type { EmbeddedBroker } from "../../adapters/broker/embedded-broker.ts"
import { MqttTransport } from "../../adapters/mqtt/mqtt-transport.ts"
import { freePort } from "../support/free-port.ts"

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const tempDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), "mqtt-chat-embedded-"))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const started = async (options: Parameters<typeof startEmbeddedBroker>[0]): Promise<EmbeddedBroker> => {
  const broker = await startEmbeddedBroker(options)
  cleanups.push(() => broker.close())
  return broker
}

describe("embedded aedes broker", () => {
  it("listens on 127.0.0.1, on a port of its choosing when asked for 0, and answers a probe", async () => {
    const broker = await started({ port: 0 })
    expect(broker.port).toBeGreaterThan(0)
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`)
    expect(await Effect.runPromise(MqttTransport.probeBroker(broker.url, 2_000))).toBe(true)
  })

  it("tells the app to start it: the probe says no when nothing listens, quickly", async () => {
    const port = await freePort()
    const before = Date.now()
    expect(await Effect.runPromise(MqttTransport.probeBroker(`mqtt://127.0.0.1:${port}`, 1_000))).toBe(false)
    expect(Date.now() - before).toBeLessThan(1_500)
  })

  it("closes idempotently and frees its port and its store for the next run", async () => {
    const dir = await tempDir()
    const first = await startEmbeddedBroker({ port: 0, persistenceDir: dir })
    const client = await mqtt.connectAsync(first.url, { protocolVersion: 4, clientId: "user-1", reconnectPeriod: 0 })
    client.on("error", () => {})
    await Promise.all([first.close(), first.close()])
    await client.endAsync(true)
    // Same port and same LevelDB directory (LevelDB allows one opener at a time).
    const second = await started({ port: first.port, persistenceDir: dir })
    expect(second.port).toBe(first.port)
    expect(await Effect.runPromise(MqttTransport.probeBroker(second.url, 2_000))).toBe(true)
  })

  it("refuses a port that is taken, and leaves the store usable", async () => {
    const dir = await tempDir()
    const holder = await started({ port: 0 })
    await expect(startEmbeddedBroker({ port: holder.port, persistenceDir: dir })).rejects.toThrow(/EADDRINUSE/)
    await started({ port: 0, persistenceDir: dir })
  })
})
