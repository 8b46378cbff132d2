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
import * as net from "node:net"
import * as tls from "node:tls"
import { Cause, Deferred, Effect, Exit, Layer, PubSub, Queue, Scope, Stream } from "effect"
import { MqttClient, ErrorWithReasonCode } from "mqtt"
import type { IClientOptions, IPublishPacket } from "mqtt"
import type { Topic } from "../../domain/ids.ts"
import { Transport, TransportError } from "../../domain/ports/transport.port.ts"
import type { ConnectionState, Incoming } from "../../domain/ports/transport.port.ts"
import { MAX_FRAME_BYTES } from "../../domain/wire/messages.ts"

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
/** Wildcards or NUL in a PUBLISH topic make the broker drop us, and MQTT.js resends it after every reconnect. */
const FORBIDDEN_IN_PUBLISH_TOPIC = /[+#\u0000]/
const MAX_TOPIC_CHARS = 1024

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

interface BrokerAddress {
  readonly host: string
  readonly port: number
  readonly tls: boolean
}

const parseBrokerUrl = (url: string): BrokerAddress | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  const secure = parsed.protocol === "mqtts:"
  if (parsed.protocol !== "mqtt:" && parsed.protocol !== "tcp:" && !secure) return undefined
  const port = parsed.port === "" ? (secure ? 8883 : 1883) : Number(parsed.port)
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || parsed.hostname === "") return undefined
  // `new URL` keeps IPv6 literals in brackets; net.connect wants them bare.
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"), port, tls: secure }
}

/** OpenSSL's and Node's codes for a certificate that does not verify: a retry cannot fix them. */
const isCertificateError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT|ERR_SSL/.test(code)
}

/**
 * A fresh socket per connection attempt. MQTT.js ignores stream errors other than a few socket
 * codes (a failed certificate check would look like silence), so TLS errors go to `onTlsError`.
 */
const socketTo = (address: BrokerAddress, ca?: string | Buffer, onTlsError?: (error: Error) => void) => (): net.Socket => {
  if (!address.tls) {
    const socket = net.createConnection({ host: address.host, port: address.port, noDelay: true })
    socket.setNoDelay(true)
    return socket
  }
  const socket = tls.connect({
    host: address.host,
    port: address.port,
    // SNI takes host names only; an IP address is checked against the certificate's IP entries.
    ...(net.isIP(address.host) === 0 ? { servername: address.host } : {}),
    ...(ca === undefined ? {} : { ca }),
  })
  socket.setNoDelay(true)
  if (onTlsError !== undefined) socket.on("error", onTlsError)
  return socket
}

const describeError = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message
  }
  return String(error)
}

/** Zero-copy view: MQTT.js writes Buffers, the port speaks Uint8Array. */
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const notOpen = (reason: "closed" | "not-connected", what: string) =>
  new TransportError({ reason, message: `${what}: the transport is ${reason === "closed" ? "closed" : "not connected"}` })

/**
 * Builds a connected transport whose lifetime is the surrounding scope: closing the scope ends
 * the client (cleanly if it can, with no last words). Fails if the first connection does not
 * succeed within `connectTimeoutMs`.
 */
export const make = Effect.fnUntraced(function*(
  options: MqttTransportOptions,
): Effect.fn.Return<MqttTransportService, TransportError, Scope.Scope> {
  const settings = { ...defaults, ...definedOnly(options) }
  const log = options.onLog ?? (() => {})
  const address = parseBrokerUrl(options.url)
  if (address === undefined) {
    return yield* new TransportError({ reason: "rejected", message: `unsupported broker url ${JSON.stringify(options.url)}: expected mqtt://host:port or mqtts://host:port` })
  }
  if (!CLIENT_ID_PATTERN.test(options.clientId)) {
    return yield* new TransportError({ reason: "rejected", message: `invalid MQTT client id ${JSON.stringify(options.clientId).slice(0, 40)}` })
  }
  if (!(settings.incomingCapacity >= 1 && settings.reconnectMinMs >= 1 && settings.reconnectMaxMs >= settings.reconnectMinMs)) {
    return yield* new TransportError({ reason: "rejected", message: "invalid capacity or reconnect bounds" })
  }
  const willFor: WillFor | undefined = options.will === undefined ? undefined : typeof options.will === "function" ? options.will : () => options.will as LastWill
  const firstWill = willFor?.(1)
  if (firstWill !== undefined && (FORBIDDEN_IN_PUBLISH_TOPIC.test(firstWill.topic) || firstWill.topic.length === 0 || firstWill.payload.byteLength > MAX_FRAME_BYTES)) {
    return yield* new TransportError({ reason: "rejected", message: `invalid Last Will on ${JSON.stringify(firstWill.topic).slice(0, 80)}` })
  }
  const toMqttWill = (will: LastWill) => ({ topic: will.topic, payload: asBuffer(will.payload), qos: 1 as const, retain: will.retain ?? true })
  const tag = `[mqtt ${options.clientId}@${address.host}:${address.port}]`

  const incoming = yield* Queue.bounded<Incoming, Cause.Done>(settings.incomingCapacity)
  // Sliding: a subscriber that does not keep up sees the latest states, which is what matters.
  const stateChanges = yield* PubSub.sliding<ConnectionState>({ capacity: 64, replay: 1 })
  const firstConnect = yield* Deferred.make<void, TransportError>()

  let state: ConnectionState = { _tag: "connecting" }
  let everConnected = false
  let phase: "open" | "closing" | "closed" = "open"
  let failedAttempts = 0
  let lastError = "no attempt finished yet"
  const counters = { received: 0, droppedOversize: 0, backpressureWaits: 0, connects: 0, connectionLosses: 0 }
  /** Publishes waiting for their PUBACK; failed all at once if the transport closes first. */
  const awaitingAck = new Set<(error: TransportError) => void>()

  const setState = (next: ConnectionState): void => {
    state = next
    Effect.runSync(PubSub.publish(stateChanges, next))
  }
  setState(state)

  const clientOptions: IClientOptions = {
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
  }
  const refuseFirstConnect = (message: string): void => {
    Deferred.doneUnsafe(firstConnect, Exit.fail(new TransportError({ reason: "rejected", message })))
  }
  const onTlsError = (error: Error): void => {
    lastError = `TLS: ${describeError(error)}`
    log(`${tag} ${lastError}`)
    if (!everConnected && isCertificateError(error)) refuseFirstConnect(`${options.url}: the broker's certificate does not verify (${describeError(error)})${options.ca === undefined ? "; for a private CA give its certificate (--ca FILE)" : ""}`)
  }
  const client = new MqttClient(socketTo(address, options.ca, onTlsError), clientOptions)

  // Every packet reaches the broker's queue or our consumer: see the header for the backpressure.
  client.handleMessage = (packet: IPublishPacket, done: (error?: Error) => void): void => {
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload
    if (payload.byteLength > MAX_FRAME_BYTES) {
      counters.droppedOversize += 1
      log(`${tag} dropped ${payload.byteLength}-byte payload on ${packet.topic.slice(0, 80)} (cap ${MAX_FRAME_BYTES})`)
      return done()
    }
    const message: Incoming = {
      topic: packet.topic,
      // A copy: a view would keep the whole socket chunk (up to 64 KiB) alive while it waits in the queue.
      payload: new Uint8Array(payload),
      retained: packet.retain === true,
    }
    if (Queue.offerUnsafe(incoming, message)) {
      counters.received += 1
      return done()
    }
    // Closing: no PUBACK, so the broker keeps the message for the next session.
    if (phase !== "open") return
    counters.backpressureWaits += 1
    Effect.runCallback(Queue.offer(incoming, message), {
      onExit: (exit) => {
        if (Exit.isSuccess(exit) && exit.value) {
          counters.received += 1
          done()
        }
      },
    })
  }

  // Runs before MQTT.js's own `close` handler, which schedules the next attempt with this period.
  client.prependListener("close", () => {
    if (phase !== "open") return
    if (everConnected && state._tag === "connected") counters.connectionLosses += 1
    failedAttempts += 1
    client.options.reconnectPeriod = reconnectDelayMs(failedAttempts, settings.reconnectMinMs, settings.reconnectMaxMs)
    // MQTT.js builds each CONNECT from `options`: the next connection gets its own will.
    if (willFor !== undefined) client.options.will = toMqttWill(willFor(counters.connects + 1))
    if (everConnected) setState({ _tag: "reconnecting", attempt: failedAttempts, error: lastError })
    log(`${tag} connection closed (${lastError}); attempt ${failedAttempts} in ${client.options.reconnectPeriod} ms`)
  })
  client.on("connect", (connack) => {
    failedAttempts = 0
    everConnected = true
    counters.connects += 1
    lastError = "connection lost"
    setState({ _tag: "connected", connection: counters.connects })
    log(`${tag} connected (session ${connack.sessionPresent ? "resumed" : "new"})`)
    Deferred.doneUnsafe(firstConnect, Exit.void)
  })
  // Without an `error` listener an EventEmitter throws: every MQTT.js error lands here.
  client.on("error", (error) => {
    lastError = describeError(error)
    log(`${tag} error: ${lastError}`)
    if (!everConnected && error instanceof ErrorWithReasonCode) {
      // The broker answered and said no: retrying until the deadline would only hide that.
      const login = error.code === 4 || error.code === 5
      refuseFirstConnect(login
        ? `${options.url} refused the login of ${options.username ?? `client ${options.clientId} (no username given)`}: ${error.code === 4 ? "bad username or password" : "not authorized"}`
        : `${options.url} refused ${options.clientId}: ${lastError}`)
    }
  })

  const publishNow = (topic: string, payload: Uint8Array, retain: boolean): Effect.Effect<void, TransportError> =>
    Effect.callback<void, TransportError>((resume) => {
      const settle = (error: TransportError) => {
        awaitingAck.delete(settle)
        resume(Effect.fail(error))
      }
      awaitingAck.add(settle)
      client.publish(topic, asBuffer(payload), { qos: 1, retain }, (error) => {
        if (!awaitingAck.delete(settle)) return
        resume(!error ? Effect.void : Effect.fail(new TransportError({ reason: "io", message: `publish to ${topic.slice(0, 80)}: ${describeError(error)}` })))
      })
      return Effect.sync(() => {
        awaitingAck.delete(settle)
      })
    })

  const checkPublish = (topic: string, payload: Uint8Array): TransportError | undefined => {
    if (topic.length === 0 || topic.length > MAX_TOPIC_CHARS || FORBIDDEN_IN_PUBLISH_TOPIC.test(topic)) {
      return new TransportError({ reason: "rejected", message: `refusing to publish to topic ${JSON.stringify(topic).slice(0, 80)}` })
    }
    if (payload.byteLength > MAX_FRAME_BYTES) {
      return new TransportError({ reason: "rejected", message: `payload of ${payload.byteLength} bytes exceeds ${MAX_FRAME_BYTES}: receivers would drop it` })
    }
    return undefined
  }

  const publish = (topic: Topic, payload: Uint8Array, publishOptions: { readonly retain: boolean }) =>
    Effect.suspend(() => {
      if (phase !== "open") return Effect.fail(notOpen("closed", `publish to ${topic.slice(0, 80)}`))
      const refused = checkPublish(topic, payload)
      return refused === undefined ? publishNow(topic, payload, publishOptions.retain) : Effect.fail(refused)
    })

  const checkFilters = (filters: ReadonlyArray<Topic>): TransportError | undefined => {
    const bad = filters.find((filter) => filter.length === 0 || filter.length > MAX_TOPIC_CHARS || filter.includes("\u0000"))
    return bad === undefined ? undefined : new TransportError({ reason: "rejected", message: `invalid topic filter ${JSON.stringify(bad).slice(0, 80)}` })
  }

  const subscribe = (filters: ReadonlyArray<Topic>) =>
    Effect.suspend(() => {
      if (phase !== "open") return Effect.fail(notOpen("closed", "subscribe"))
      if (filters.length === 0) return Effect.void
      const refused = checkFilters(filters)
      if (refused !== undefined) return Effect.fail(refused)
      return Effect.callback<void, TransportError>((resume) => {
        client.subscribe([...filters], { qos: 1 }, (error, granted) => {
          if (error) return resume(Effect.fail(new TransportError({ reason: "io", message: `subscribe: ${describeError(error)}` })))
          // 0x80 is the broker's "no" in a 3.1.1 SUBACK.
          const denied = (granted ?? []).filter((grant) => grant.qos === 0x80).map((grant) => grant.topic)
          if (denied.length > 0) return resume(Effect.fail(new TransportError({ reason: "rejected", message: `subscription refused: ${denied.join(", ").slice(0, 200)}` })))
          resume(Effect.void)
        })
      })
    })

  const unsubscribe = (filters: ReadonlyArray<Topic>) =>
    Effect.suspend(() => {
      if (phase !== "open") return Effect.fail(notOpen("closed", "unsubscribe"))
      if (filters.length === 0) return Effect.void
      const refused = checkFilters(filters)
      if (refused !== undefined) return Effect.fail(refused)
      return Effect.callback<void, TransportError>((resume) => {
        client.unsubscribe([...filters], (error) => {
          resume(error ? Effect.fail(new TransportError({ reason: "io", message: `unsubscribe: ${describeError(error)}` })) : Effect.void)
        })
      })
    })

  /** Ends the MQTT.js client within `timeoutMs`: a DISCONNECT when nothing is in flight, else drop the socket. */
  const endClient = (timeoutMs: number): Promise<void> =>
    new Promise<void>((resolve) => {
      // MQTT.js re-arms its reconnect timer after a refused CONNACK even when ended in between
      // (with `manualConnect` its `end` clears `disconnecting`): a period of 0 stops that for good.
      client.options.reconnectPeriod = 0
      const clean = client.connected && Object.keys(client.outgoing).length === 0
      const fallback = setTimeout(() => {
        log(`${tag} DISCONNECT did not finish in ${timeoutMs} ms: dropping the socket`)
        client.stream?.destroy()
        resolve()
      }, timeoutMs)
      // `end(false)` would wait for every unacknowledged publish, possibly forever; forced is bounded.
      client.end(!clean, {}, () => {
        clearTimeout(fallback)
        resolve()
      })
    })

  const close = (lastWords: ReadonlyArray<{ readonly topic: Topic; readonly payload: Uint8Array; readonly retain: boolean }>) =>
    Effect.gen(function*() {
      if (phase !== "open") return
      phase = "closing"
      const started = Date.now()
      const sendable = lastWords.filter((word) => checkPublish(word.topic, word.payload) === undefined)
      if (sendable.length < lastWords.length) log(`${tag} ${lastWords.length - sendable.length} last words refused (topic or size)`)
      if (sendable.length > 0) {
        const sent = yield* Effect.forEach(sendable, (word) => publishNow(word.topic, word.payload, word.retain), { concurrency: "unbounded", discard: true }).pipe(
          Effect.timeoutOption(settings.closeTimeoutMs),
          Effect.result,
        )
        if (sent._tag === "Failure" || sent.success._tag === "None") log(`${tag} last words not acknowledged before closing`)
      }
      const remaining = Math.max(100, settings.closeTimeoutMs - (Date.now() - started))
      yield* Effect.promise(() => endClient(remaining))
      phase = "closed"
      for (const fail of [...awaitingAck]) fail(notOpen("closed", "publish"))
      yield* Queue.end(incoming)
      setState({ _tag: "closed" })
      log(`${tag} closed`)
    }).pipe(Effect.uninterruptible)

  yield* Effect.addFinalizer(() => close([]))

  client.connect()
  yield* Deferred.await(firstConnect).pipe(
    Effect.timeoutOrElse({
      duration: settings.connectTimeoutMs,
      orElse: () =>
        Effect.fail(new TransportError({
          reason: "not-connected",
          message: `no MQTT broker accepted ${options.clientId} at ${options.url} within ${settings.connectTimeoutMs} ms (last error: ${lastError})`,
        })),
    }),
  )

  return {
    publish,
    subscribe,
    unsubscribe,
    incoming: Stream.fromQueue(incoming),
    connectionState: Effect.sync(() => state),
    connectionChanges: Stream.fromPubSub(stateChanges).pipe(Stream.takeUntil((next) => next._tag === "closed")),
    close,
    stats: () => ({ ...counters }),
  } satisfies MqttTransportService
})

/** The Transport service over MQTT; the scope of the layer is the connection's lifetime. */
export const layer = (options: MqttTransportOptions): Layer.Layer<Transport, TransportError> => Layer.effect(Transport, make(options))

/**
 * Whether an MQTT broker answers at `url` within `timeoutMs` (a refused CONNACK still counts:
 * something that speaks MQTT is there). Used to decide whether to start the embedded broker.
 */
export const probeBroker = (url: string, timeoutMs: number): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const address = parseBrokerUrl(url)
    if (address === undefined) return resume(Effect.succeed(false))
    const probe = new MqttClient(socketTo(address), {
      protocolVersion: 4,
      clientId: `probe-${Math.random().toString(16).slice(2, 10)}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      manualConnect: true,
    })
    let answered = false
    const finish = (result: boolean) => {
      if (answered) return
      answered = true
      clearTimeout(deadline)
      // A DISCONNECT when we got in (quiet broker logs), else just drop the socket.
      probe.end(!result)
      resume(Effect.succeed(result))
    }
    const deadline = setTimeout(() => finish(false), timeoutMs)
    probe.on("connect", () => finish(true))
    probe.on("error", (error) => finish(error instanceof ErrorWithReasonCode))
    probe.on("close", () => finish(false))
    probe.connect()
    return Effect.sync(() => finish(false))
  })

/** `{ ...defaults, ...options }` must not let an explicit `undefined` erase a default. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

export const MqttTransport = { make, layer, probeBroker, reconnectDelayMs } as const
