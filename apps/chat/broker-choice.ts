/**
 * Which broker the client talks to. Given one (--broker or MQTT_URL), that one. Otherwise the
 * conventional local address, mqtt://127.0.0.1:<port>: if something answers MQTT there (a
 * Mosquitto, or the embedded broker of another mqtt-chat) use it, else start the embedded aedes
 * broker on it, its store under DATA_DIR/broker so offline queues and retained presence survive.
 *
 * The embedded broker lives in the process that started it. When that client quits, the others
 * lose their broker; `BrokerTakeover` lets one of them start it again on the same port (whoever
 * binds the port first wins; the rest reconnect to it).
 */
import * as path from "node:path"
import { Effect } from "effect"
import type { EmbeddedBroker } from "../../adapters/broker/embedded-broker.ts"
import { probeBroker } from "../../adapters/mqtt/mqtt-transport.ts"

const PROBE_TIMEOUT_MS = 700
/** Reconnect attempts to wait before trying to take over: a broker restart deserves a moment. */
const TAKEOVER_AFTER_ATTEMPTS = 3
const TAKEOVER_MIN_INTERVAL_MS = 5_000

export interface BrokerChoice {
  readonly url: string
  /** For the status bar. */
  readonly label: string
  /** One sentence for the status buffer: what was chosen and why. */
  readonly announcement: string
  /** Whether the choice was automatic (and a takeover therefore allowed). */
  readonly automatic: boolean
  /** Set when this process runs the broker; closed on exit. */
  embedded: EmbeddedBroker | null
}

export class BrokerUnavailable extends Error {}

export interface BrokerChoiceOptions {
  readonly brokerUrl: string | null
  readonly brokerSource: string | null
  readonly embeddedPort: number
  readonly dataDir: string
  /** When set, a started embedded broker lets in only this password file's users. */
  readonly embeddedPasswordFile?: string | null
  readonly log: (line: string) => void
}

export const localBrokerUrl = (port: number): string => `mqtt://127.0.0.1:${port}`
export const embeddedStoreDir = (dataDir: string): string => path.join(dataDir, "broker")

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const isAddressInUse = (error: unknown): boolean => (error as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE"

/** Starts the embedded broker on the local port; null when the port is taken (by a broker or not). */
const startLocal = async (options: BrokerChoiceOptions): Promise<EmbeddedBroker | null> => {
  try {
    // Loaded only when needed: aedes and LevelDB add ~100 ms to every start otherwise.
    const { startEmbeddedBroker } = await import("../../adapters/broker/embedded-broker.ts")
    return await startEmbeddedBroker({
      port: options.embeddedPort,
      host: "127.0.0.1",
      persistenceDir: embeddedStoreDir(options.dataDir),
      ...(options.embeddedPasswordFile == null ? {} : { passwordFile: options.embeddedPasswordFile }),
      onLog: options.log,
    })
  } catch (error) {
    if (isAddressInUse(error)) return null
    throw new BrokerUnavailable(`could not start the embedded broker on port ${options.embeddedPort} (store ${embeddedStoreDir(options.dataDir)}): ${describe(error)}`)
  }
}

export const chooseBroker = async (options: BrokerChoiceOptions): Promise<BrokerChoice> => {
  if (options.brokerUrl !== null) {
    return {
      url: options.brokerUrl,
      label: options.brokerUrl,
      announcement: `Using the MQTT broker ${options.brokerUrl} (from ${options.brokerSource ?? "the options"}).`,
      automatic: false,
      embedded: null,
    }
  }
  const url = localBrokerUrl(options.embeddedPort)
  if (await Effect.runPromise(probeBroker(url, PROBE_TIMEOUT_MS))) {
    return { url, label: `${url} (found)`, announcement: `Found an MQTT broker at ${url}; using it.`, automatic: true, embedded: null }
  }
  const embedded = await startLocal(options)
  if (embedded !== null) {
    return {
      url,
      label: `${url} (embedded)`,
      announcement: `No broker answered at ${url}: started the embedded broker there (store ${embeddedStoreDir(options.dataDir)}). It stops when this client quits.`,
      automatic: true,
      embedded,
    }
  }
  // The port was taken between the probe and the bind: maybe another client just started its broker.
  if (await Effect.runPromise(probeBroker(url, PROBE_TIMEOUT_MS * 2))) {
    return { url, label: `${url} (found)`, announcement: `Found an MQTT broker at ${url}; using it.`, automatic: true, embedded: null }
  }
  throw new BrokerUnavailable(`port ${options.embeddedPort} is in use by something that does not answer MQTT: use --embedded-port N or --broker URL`)
}

/**
 * Restarts the embedded broker when an automatically chosen broker went away (its client quit).
 * Called on every reconnect attempt; acts after a few, at most once per interval, never twice at once.
 */
export class BrokerTakeover {
  private lastTry = 0
  private trying = false

  constructor(
    private readonly choice: BrokerChoice,
    private readonly options: BrokerChoiceOptions,
    private readonly announce: (text: string) => void,
  ) {}

  async onReconnectAttempt(attempt: number): Promise<void> {
    if (!this.choice.automatic || this.choice.embedded !== null || this.trying) return
    if (attempt < TAKEOVER_AFTER_ATTEMPTS || Date.now() - this.lastTry < TAKEOVER_MIN_INTERVAL_MS) return
    this.trying = true
    this.lastTry = Date.now()
    try {
      if (await Effect.runPromise(probeBroker(this.choice.url, PROBE_TIMEOUT_MS))) return
      const embedded = await startLocal(this.options)
      if (embedded === null) return
      this.choice.embedded = embedded
      this.announce(`The broker at ${this.choice.url} went away: started the embedded broker there.`)
    } catch (error) {
      this.options.log(`broker takeover failed: ${describe(error)}`)
    } finally {
      this.trying = false
    }
  }
}
