/**
 * The user directory on MQTT: every user that ever connected left a retained presence message on
 * `global_control/presence/<id>`. A short-lived clean session subscribes to them all once, collects
 * the retained messages, and answers from that set.
 */
import { randomBytes } from "node:crypto"
import { Effect, Layer } from "effect"
import mqtt from "mqtt"
import { USER_ID_PATTERN, topics, type UserId } from "../../domain/ids.ts"
import { UserDirectory, UserDirectoryError } from "../../domain/ports/user-directory.port.ts"

export interface MqttUserDirectoryOptions {
  readonly url: string
  /** How long to collect retained messages after the subscription is granted (they come at once). */
  readonly settleMs?: number
  readonly connectTimeoutMs?: number
  /** The private CA of an mqtts:// broker. */
  readonly ca?: string | Buffer
}

const PRESENCE_PREFIX = "global_control/presence/"
/** Bound on the ids remembered: the directory is a probe, not a database. */
const MAX_KNOWN_IDS = 1_000_000

/** The ids that have a retained presence message on the broker at `url`. */
export const knownUserIds = (options: MqttUserDirectoryOptions): Promise<ReadonlySet<string>> =>
  new Promise((resolve, reject) => {
    const known = new Set<string>()
    const client = mqtt.connect(options.url, {
      protocolVersion: 4,
      clean: true,
      // Not a user id: this probe must not take over anyone's session.
      clientId: `probe-${randomBytes(6).toString("hex")}`,
      reconnectPeriod: 0,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    })
    const fail = (error: Error) => {
      client.end(true)
      reject(error)
    }
    client.on("error", fail)
    client.on("message", (topic, payload, packet) => {
      if (!packet.retain || payload.byteLength === 0 || !topic.startsWith(PRESENCE_PREFIX)) return
      const user = topic.slice(PRESENCE_PREFIX.length)
      if (USER_ID_PATTERN.test(user) && known.size < MAX_KNOWN_IDS) known.add(user)
    })
    client.on("connect", () => {
      client.subscribe(topics.presenceWildcard, { qos: 1 }, (error) => {
        if (error) return fail(error)
        setTimeout(() => {
          client.end(false, {}, () => resolve(known))
        }, options.settleMs ?? 300)
      })
    })
  })

export const MqttUserDirectory = {
  /**
   * Probes the broker at the first question only (an existing profile never asks, and pays
   * nothing), then answers from that snapshot.
   */
  layer: (options: MqttUserDirectoryOptions): Layer.Layer<UserDirectory> =>
    Layer.sync(UserDirectory, () => {
      let snapshot: Promise<ReadonlySet<string>> | undefined
      return UserDirectory.of({
        isTaken: (user: UserId) =>
          Effect.tryPromise({
            try: () => (snapshot ??= knownUserIds(options)),
            catch: (cause) => {
              const reason = cause instanceof Error ? cause.message : String(cause)
              // CONNACK 4 or 5: the broker checks who connects, and this probe has no login.
              const refused = (cause as { code?: unknown } | undefined)?.code === 4 || (cause as { code?: unknown } | undefined)?.code === 5
              return new UserDirectoryError({
                message: refused
                  ? `the MQTT broker at ${options.url} lets in only users with a login (${reason}): start the chat with its credentials`
                  : `cannot reach the MQTT broker at ${options.url} to check that a new user id is free (${reason})`,
              })
            },
          }).pipe(Effect.map((known) => known.has(user))),
      })
    }),
} as const
