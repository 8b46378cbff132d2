/**
 * The brokers every integration suite runs on. Mosquitto is what a deployment uses; aedes is the
 * embedded fallback. Without Mosquitto its suites are skipped locally, but under CI (env `CI`)
 * they run and fail: a missing broker must not pass as green.
 */
import { mkdtemp } from "node:fs/promises"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startEmbeddedBroker } from "../../adapters/broker/embedded-broker.ts"
import type { EmbeddedBroker } from "../../adapters/broker/embedded-broker.ts"
import { freePort } from "./free-port.ts"
import { mosquittoAvailable, startMosquitto } from "./mosquitto.ts"

export interface BrokerHandle {
  readonly url: string
  readonly port: number
  /**
   * Mosquitto: the signal (default SIGTERM, which saves its store). aedes: a close, whatever the
   * signal — its store is written as it goes, so there is nothing a kill would lose in addition.
   */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Stops it if it runs, then starts it on the same port with the same store. */
  restart(): Promise<void>
  /** Stops it for good and removes its temp files. */
  dispose(): Promise<void>
}

export interface BrokerStartOptions {
  readonly persistenceDir?: string
  /** Mosquitto: enforce the deployment's ACL (aedes always enforces its presence rule). */
  readonly acl?: boolean
}

export type BrokerName = "mosquitto" | "aedes"

export interface BrokerKind {
  readonly name: BrokerName
  /** Whether the suite for this broker must be skipped here (never under CI). */
  readonly skip: boolean
  start(options?: BrokerStartOptions): Promise<BrokerHandle>
}

const underCi = (): boolean => process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"

export async function startAedes(options: BrokerStartOptions = {}): Promise<BrokerHandle> {
  const ownDir = options.persistenceDir === undefined ? await mkdtemp(join(tmpdir(), "mqtt-chat-aedes-")) : undefined
  const persistenceDir = options.persistenceDir ?? join(ownDir!, "store")
  const port = await freePort()
  let running: EmbeddedBroker | undefined = await startEmbeddedBroker({ port, host: "127.0.0.1", persistenceDir })
  const stop = async (): Promise<void> => {
    const broker = running
    running = undefined
    await broker?.close()
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop()
      running = await startEmbeddedBroker({ port, host: "127.0.0.1", persistenceDir })
    },
    dispose: async () => {
      await stop()
      if (ownDir !== undefined) rmSync(ownDir, { recursive: true, force: true })
    },
  }
}

export const mosquittoKind: BrokerKind = {
  name: "mosquitto",
  skip: !mosquittoAvailable() && !underCi(),
  start: (options) => startMosquitto(options),
}

export const aedesKind: BrokerKind = {
  name: "aedes",
  skip: false,
  start: (options) => startAedes(options),
}

export const brokerKinds: ReadonlyArray<BrokerKind> = [mosquittoKind, aedesKind]
