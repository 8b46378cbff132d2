/**
 * Which broker the client talks to. Given one (--broker or MQTT_URL), that one. Otherwise the
 * local broker of the data directory (apps/broker): a process of its own, started here when none
 * runs, that outlives every client — so sessions, queued messages and retained presence do not
 * depend on which client came first or quit last. If it is not running but something else answers
 * MQTT on the port (a Mosquitto), that is used instead.
 *
 * The client never hosts the broker. If the local broker crashes (its pid file is left behind),
 * a reconnecting client starts it again (`LocalBrokerRestart`); one stopped on purpose
 * (`npm run broker -- stop`) stays stopped until a client starts.
 */
import { answersMqtt, brokerStatus, startBroker } from "../broker/control.ts"

/** Reconnect attempts to wait before restarting a crashed broker: a restart deserves a moment. */
const RESTART_AFTER_ATTEMPTS = 3
const RESTART_MIN_INTERVAL_MS = 5_000
const PROBE_TIMEOUT_MS = 700

export interface BrokerChoice {
  readonly url: string
  /** For the status bar. */
  readonly label: string
  /** One sentence for the status buffer: what was chosen and why. */
  readonly announcement: string
  /** Whether it is the data directory's local broker (and may be restarted after a crash). */
  readonly local: boolean
}

export class BrokerUnavailable extends Error {}

export interface BrokerChoiceOptions {
  readonly brokerUrl: string | null
  readonly brokerSource: string | null
  readonly embeddedPort: number
  readonly dataDir: string
  /** When set, a local broker started here lets in only this password file's users. */
  readonly embeddedPasswordFile?: string | null
  readonly log: (line: string) => void
}

export const localBrokerUrl = (port: number): string => `mqtt://127.0.0.1:${port}`

const start = (options: BrokerChoiceOptions) =>
  startBroker({ dataDir: options.dataDir, port: options.embeddedPort, passwordFile: options.embeddedPasswordFile ?? null })

/** What differs between the broker that runs and the one these options would start. */
const differences = (options: BrokerChoiceOptions, state: { readonly port: number; readonly passwordFile: string | null }): string => {
  const wanted = options.embeddedPasswordFile ?? null
  const notes = [
    ...(state.port === options.embeddedPort ? [] : [`on port ${state.port}, not ${options.embeddedPort}`]),
    ...(state.passwordFile === wanted ? [] : [state.passwordFile === null ? "without a password file" : `with the users of ${state.passwordFile}`]),
  ]
  return notes.length === 0 ? "" : ` Note: it runs ${notes.join(" and ")}; npm run broker -- stop, then start the chat again, to change that.`
}

export const chooseBroker = async (options: BrokerChoiceOptions): Promise<BrokerChoice> => {
  if (options.brokerUrl !== null) {
    return {
      url: options.brokerUrl,
      label: options.brokerUrl,
      announcement: `Using the MQTT broker ${options.brokerUrl} (from ${options.brokerSource ?? "the options"}).`,
      local: false,
    }
  }
  const status = brokerStatus(options.dataDir)
  if (status.kind !== "running") {
    // Not ours, but something answers there (a Mosquitto): use it, as a user who runs one expects.
    const url = localBrokerUrl(options.embeddedPort)
    if (status.kind === "stopped" && (await answersMqtt(url, PROBE_TIMEOUT_MS))) {
      return { url, label: `${url} (found)`, announcement: `Found an MQTT broker at ${url}; using it.`, local: false }
    }
  }
  const outcome = await start(options)
  if (outcome.kind === "failed") throw new BrokerUnavailable(`could not start the local broker: ${outcome.message}`)
  const { state } = outcome
  const how = outcome.kind === "started" ? "started it" : "it was running"
  return {
    url: state.url,
    label: `${state.url} (local)`,
    announcement: `Using the local broker at ${state.url} (pid ${state.pid}; ${how}). It keeps running when you quit: npm run broker -- status | stop.${differences(options, state)}`,
    local: true,
  }
}

/**
 * Starts the local broker again when it crashed while this client was connected to it. Called on
 * every reconnect attempt; acts after a few, at most once per interval, never twice at once.
 */
export class LocalBrokerRestart {
  private lastTry = 0
  private trying = false

  constructor(
    private readonly choice: BrokerChoice,
    private readonly options: BrokerChoiceOptions,
    private readonly announce: (text: string) => void,
  ) {}

  async onReconnectAttempt(attempt: number): Promise<void> {
    if (!this.choice.local || this.trying) return
    if (attempt < RESTART_AFTER_ATTEMPTS || Date.now() - this.lastTry < RESTART_MIN_INTERVAL_MS) return
    this.trying = true
    this.lastTry = Date.now()
    try {
      const status = brokerStatus(this.options.dataDir)
      // Only a crash leaves the pid file behind; a broker stopped on purpose stays stopped.
      if (status.kind !== "stopped" || status.stalePid === null) return
      const outcome = await start(this.options)
      if (outcome.kind === "failed") this.options.log(`restarting the local broker failed: ${outcome.message}`)
      else if (outcome.kind === "started") this.announce(`The local broker had stopped (pid ${status.stalePid} is gone): started it again (pid ${outcome.state.pid}).`)
    } catch (error) {
      this.options.log(`restarting the local broker failed: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      this.trying = false
    }
  }
}
