/**
 * The Transport port over MQTT.js, speaking MQTT 3.1.1 (aedes knows nothing newer).
 *
 * What this adapter guarantees, and why (see shared/notes/mqtt-facts.md):
 * - persistent session: `clientId` is the user id and `clean: false`, so the broker keeps the
 *   subscriptions and queues QoS 1 messages while the user is offline;
 * - the message handler exists before the first byte is read: the client is built with
 *   `manualConnect`, every handler is attached, and only then does it connect;
 * - incoming messages go into a BOUNDED queue with real backpressure: MQTT.js sends the PUBACK
 *   and reads the next packet only when `handleMessage` calls back, and we call back only once
 *   the message is in the queue. A slow consumer therefore stops the socket (the broker keeps
 *   the backlog, where Mosquitto's `max_queued_messages` bounds it) instead of growing our
 *   memory. Nothing is dropped for lack of room. What a crash loses is what was acknowledged
 *   but not yet consumed: at most `incomingCapacity` messages;
 * - payloads over MAX_FRAME_BYTES are acknowledged (else the broker would redeliver them
 *   forever), dropped, counted and logged, never queued;
 * - TCP_NODELAY on the socket: Nagle's algorithm otherwise sets a 40 ms latency floor;
 * - reconnects with exponential backoff and jitter, bounded by `reconnectMaxMs`;
 * - the first connection must succeed within `connectTimeoutMs`, or building fails with a
 *   TransportError that says where it tried and what went wrong. A broker that refuses the login
 *   (CONNACK 4 or 5) or a TLS certificate that does not verify fails it at once: retrying until
 *   the deadline would only hide why.
 * - `mqtts://` is TLS, checked against `ca` (a private CA) or else the system's CAs.
 */
import { Cause, Deferred, Effect, Exit, Layer, PubSub, Queue, Scope, Stream } from "effect"
import { MqttClient } from "mqtt"
import type { IClientOptions } from "mqtt"
import type { Topic } from "../../domain/ids.ts"
import { Transport, TransportError } from "../../domain/ports/transport.port.ts"
import type { ConnectionState, Incoming } from "../../domain/ports/transport.port.ts"
import { MAX_FRAME_BYTES } from "../../domain/wire/messages.ts"
import { asBuffer, describeError, isCertificateError, parseBrokerUrl, socketTo } from "./broker-address.ts"
import { attachClientEvents, closing, FORBIDDEN_IN_PUBLISH_TOPIC, publishing, subscribing, type Link, type LinkSettings } from "./mqtt-link.ts"
import { probeBroker } from "./broker-probe.ts"

/** The will of one connection: the app's offline presence names the connection it belongs to. */
export type WillFor = (connection: number) => LastWill

export interface LastWill {
  readonly topic: Topic
  readonly payload: Uint8Array
  /** Default true: the will is the retained "offline" presence that late joiners must see. */
  readonly retain?: boolean
}

export interface MqttTransportOptions {
  /** `mqtt://host:port` (or `tcp://`), or `mqtts://host:port` for TLS (default port 8883). */
  readonly url: string
  /** The user id: the broker keys the persistent session by it. */
  readonly clientId: string
  /** Login, for a broker that checks who connects; a broker with `use_username_as_clientid` wants it equal to `clientId`. */
  readonly username?: string
  readonly password?: string
  /** PEM certificate(s) of the CA that signed the broker's certificate (`mqtts://` only); default the system's CAs. */
  readonly ca?: string | Buffer
  /**
   * Published by the broker (QoS 1) when the connection dies without a clean DISCONNECT. A function
   * gets the number of the connection about to be made (1, 2, …) and is asked again before every
   * reconnect, so each connection carries its own will.
   */
  readonly will?: LastWill | WillFor
  /** Default 30. A frozen client is declared dead after about 1.5 × keepalive. */
  readonly keepaliveSeconds?: number
  /** Default 5000. Bounds the first connection, each later CONNACK wait, and nothing else. */
  readonly connectTimeoutMs?: number
  /** Reconnect delay: doubles from `reconnectMinMs` (default 100) to `reconnectMaxMs` (default 5000), with jitter. */
  readonly reconnectMinMs?: number
  readonly reconnectMaxMs?: number
  /** Default 1000. Messages acknowledged to the broker but not yet taken by the consumer. */
  readonly incomingCapacity?: number
  /** Default 2000. How long `close` waits for its last words and the DISCONNECT. */
  readonly closeTimeoutMs?: number
  readonly onLog?: (line: string) => void
}

/** Counters since the transport was built; read them with `stats()`. */
export interface MqttTransportStats {
  readonly received: number
  readonly droppedOversize: number
  /** Times a message had to wait for room in the incoming queue (the socket was paused). */
  readonly backpressureWaits: number
  readonly connects: number
  readonly connectionLosses: number
}

/** The Transport service plus what only this adapter knows. */
export type MqttTransportService = Transport["Service"] & {
  readonly stats: () => MqttTransportStats
}

/** MQTT 3.1.1 allows 23 characters for sure (aedes enforces it); `+`, `#` and `/` make trouble. */
const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,23}$/

const defaults = {
  keepaliveSeconds: 30,
  connectTimeoutMs: 5_000,
  reconnectMinMs: 100,
  reconnectMaxMs: 5_000,
  incomingCapacity: 1_000,
  closeTimeoutMs: 2_000,
}

/** Delay before reconnect attempt `attempt` (1-based): exponential, capped, with "equal jitter". */
export const reconnectDelayMs = (attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number => {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30)
  const ceiling = Math.min(maxMs, minMs * 2 ** exponent)
  return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2))
}

/** The options, checked; the settings with their defaults; where to connect; the Last Will per connection. */
const checkOptions = (options: MqttTransportOptions) => {
  const settings = { ...defaults, ...definedOnly(options) }
  const address = parseBrokerUrl(options.url)
  if (address === undefined) {
    return new TransportError({ reason: "rejected", message: `unsupported broker url ${JSON.stringify(options.url)}: expected mqtt://host:port or mqtts://host:port` })
  }
  if (!CLIENT_ID_PATTERN.test(options.clientId)) {
    return new TransportError({ reason: "rejected", message: `invalid MQTT client id ${JSON.stringify(options.clientId).slice(0, 40)}` })
  }
  if (!(settings.incomingCapacity >= 1 && settings.reconnectMinMs >= 1 && settings.reconnectMaxMs >= settings.reconnectMinMs)) {
    return new TransportError({ reason: "rejected", message: "invalid capacity or reconnect bounds" })
  }
  const will = options.will
  const willFor: WillFor | undefined = will === undefined ? undefined : typeof will === "function" ? will : () => will
  const firstWill = willFor?.(1)
  if (firstWill !== undefined && (FORBIDDEN_IN_PUBLISH_TOPIC.test(firstWill.topic) || firstWill.topic.length === 0 || firstWill.payload.byteLength > MAX_FRAME_BYTES)) {
    return new TransportError({ reason: "rejected", message: `invalid Last Will on ${JSON.stringify(firstWill.topic).slice(0, 80)}` })
  }
  return { settings, address, willFor, firstWill }
}

const toMqttWill = (will: LastWill) => ({ topic: will.topic, payload: asBuffer(will.payload), qos: 1 as const, retain: will.retain ?? true })

const clientOptionsFor = (options: MqttTransportOptions, settings: LinkSettings, firstWill: LastWill | undefined): IClientOptions => ({
  protocolVersion: 4,
  clientId: options.clientId,
  clean: false,
  keepalive: settings.keepaliveSeconds,
  connectTimeout: settings.connectTimeoutMs,
  reconnectPeriod: settings.reconnectMinMs,
  // A refused CONNACK (e.g. "server unavailable" while a broker starts) must not end the retries.
  reconnectOnConnackError: true,
  // Subscriptions live in the broker's session; MQTT.js repeats them only if the session was lost.
  resubscribe: true,
  manualConnect: true,
  ...(firstWill === undefined ? {} : { will: toMqttWill(firstWill) }),
  ...(options.username === undefined ? {} : { username: options.username }),
  ...(options.password === undefined ? {} : { password: options.password }),
})

/**
 * Builds a connected transport whose lifetime is the surrounding scope: closing the scope ends
 * the client (cleanly if it can, with no last words). Fails if the first connection does not
 * succeed within `connectTimeoutMs`.
 */
export const make = Effect.fnUntraced(function*(
  options: MqttTransportOptions,
): Effect.fn.Return<MqttTransportService, TransportError, Scope.Scope> {
  const checked = checkOptions(options)
  if (checked instanceof TransportError) return yield* checked
  const { settings, address, willFor, firstWill } = checked
  // Sliding: a subscriber that does not keep up sees the latest states, which is what matters.
  const stateChanges = yield* PubSub.sliding<ConnectionState>({ capacity: 64, replay: 1 })
  const firstConnect = yield* Deferred.make<void, TransportError>()
  const link: Link = {
    options,
    settings,
    log: options.onLog ?? (() => {}),
    tag: `[mqtt ${options.clientId}@${address.host}:${address.port}]`,
    incoming: yield* Queue.bounded<Incoming, Cause.Done>(settings.incomingCapacity),
    firstConnect,
    counters: { received: 0, droppedOversize: 0, backpressureWaits: 0, connects: 0, connectionLosses: 0 },
    awaitingAck: new Set(),
    willFor,
    toMqttWill,
    state: { _tag: "connecting" },
    phase: "open",
    everConnected: false,
    failedAttempts: 0,
    lastError: "no attempt finished yet",
    setState(next) {
      link.state = next
      Effect.runSync(PubSub.publish(stateChanges, next))
    },
    refuseFirstConnect(message) {
      Deferred.doneUnsafe(firstConnect, Exit.fail(new TransportError({ reason: "rejected", message })))
    },
  }
  link.setState(link.state)
  const onTlsError = (error: Error): void => {
    link.lastError = `TLS: ${describeError(error)}`
    link.log(`${link.tag} ${link.lastError}`)
    if (!link.everConnected && isCertificateError(error)) link.refuseFirstConnect(`${options.url}: the broker's certificate does not verify (${describeError(error)})${options.ca === undefined ? "; for a private CA give its certificate (--ca FILE)" : ""}`)
  }
  const client = new MqttClient(socketTo(address, options.ca, onTlsError), clientOptionsFor(options, settings, firstWill))
  attachClientEvents(client, link)
  const { publishNow, publish } = publishing(client, link)
  const { subscribe, unsubscribe } = subscribing(client, link)
  const close = closing(client, link, publishNow)
  yield* Effect.addFinalizer(() => close([]))

  client.connect()
  yield* Deferred.await(firstConnect).pipe(
    Effect.timeoutOrElse({
      duration: settings.connectTimeoutMs,
      orElse: () =>
        Effect.fail(new TransportError({
          reason: "not-connected",
          message: `no MQTT broker accepted ${options.clientId} at ${options.url} within ${settings.connectTimeoutMs} ms (last error: ${link.lastError})`,
        })),
    }),
  )

  return {
    publish,
    subscribe,
    unsubscribe,
    incoming: Stream.fromQueue(link.incoming),
    connectionState: Effect.sync(() => link.state),
    connectionChanges: Stream.fromPubSub(stateChanges).pipe(Stream.takeUntil((next) => next._tag === "closed")),
    close,
    stats: () => ({ ...link.counters }),
  } satisfies MqttTransportService
})

/** The Transport service over MQTT; the scope of the layer is the connection's lifetime. */
export const layer = (options: MqttTransportOptions): Layer.Layer<Transport, TransportError> => Layer.effect(Transport, make(options))

/** `{ ...defaults, ...options }` must not let an explicit `undefined` erase a default. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

export const MqttTransport = { make, layer, probeBroker, reconnectDelayMs } as const
export { probeBroker }
