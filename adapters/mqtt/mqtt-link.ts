/**
 * One MQTT.js client as the transport drives it (mqtt-transport.ts builds it): the state both
 * sides share (`Link`), the client's events (messages into the bounded queue, reconnects with
 * their own Last Will, refusals that end the first connection at once), and the operations the
 * port offers — publish awaiting its PUBACK, subscribe and unsubscribe, and a bounded close.
 */
import { Cause, Deferred, Effect, Exit, Queue } from "effect"
import { ErrorWithReasonCode, type IPublishPacket, type MqttClient } from "mqtt"
import type { Topic } from "../../domain/ids.ts"
import { TransportError, type ConnectionState, type Incoming } from "../../domain/ports/transport.port.ts"
import { MAX_FRAME_BYTES } from "../../domain/wire/messages.ts"
import { asBuffer, describeError } from "./broker-address.ts"
import { reconnectDelayMs, type LastWill, type MqttTransportOptions, type WillFor } from "./mqtt-transport.ts"

/** Wildcards or NUL in a PUBLISH topic make the broker drop us, and MQTT.js resends it after every reconnect. */
export const FORBIDDEN_IN_PUBLISH_TOPIC = /[+#\u0000]/
export const MAX_TOPIC_CHARS = 1024

export interface LinkSettings {
  readonly keepaliveSeconds: number
  readonly connectTimeoutMs: number
  readonly reconnectMinMs: number
  readonly reconnectMaxMs: number
  readonly incomingCapacity: number
  readonly closeTimeoutMs: number
}

/** What the client's events and the port's operations share about one transport. */
export interface Link {
  readonly options: MqttTransportOptions
  readonly settings: LinkSettings
  readonly log: (line: string) => void
  /** `[mqtt user-1@host:port]`, in front of every log line. */
  readonly tag: string
  readonly incoming: Queue.Queue<Incoming, Cause.Done>
  readonly firstConnect: Deferred.Deferred<void, TransportError>
  readonly counters: { received: number; droppedOversize: number; backpressureWaits: number; connects: number; connectionLosses: number }
  /** Publishes waiting for their PUBACK; failed all at once if the transport closes first. */
  readonly awaitingAck: Set<(error: TransportError) => void>
  readonly willFor: WillFor | undefined
  readonly toMqttWill: (will: LastWill) => { topic: string; payload: Buffer; qos: 1; retain: boolean }
  state: ConnectionState
  phase: "open" | "closing" | "closed"
  everConnected: boolean
  failedAttempts: number
  lastError: string
  setState(next: ConnectionState): void
  /** Ends the first connection's wait with this refusal (a later one changes nothing). */
  refuseFirstConnect(message: string): void
}

export const notOpen = (reason: "closed" | "not-connected", what: string) =>
  new TransportError({ reason, message: `${what}: the transport is ${reason === "closed" ? "closed" : "not connected"}` })

/** The client's events: attached before it connects, so nothing arrives unhandled. */
export const attachClientEvents = (client: MqttClient, link: Link): void => {
  // Every packet reaches the broker's queue or our consumer: see the header for the backpressure.
  client.handleMessage = (packet: IPublishPacket, done: (error?: Error) => void): void => {
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload
    if (payload.byteLength > MAX_FRAME_BYTES) {
      link.counters.droppedOversize += 1
      link.log(`${link.tag} dropped ${payload.byteLength}-byte payload on ${packet.topic.slice(0, 80)} (cap ${MAX_FRAME_BYTES})`)
      return done()
    }
    const message: Incoming = {
      topic: packet.topic,
      // A copy: a view would keep the whole socket chunk (up to 64 KiB) alive while it waits in the queue.
      payload: new Uint8Array(payload),
      retained: packet.retain === true,
    }
    if (Queue.offerUnsafe(link.incoming, message)) {
      link.counters.received += 1
      return done()
    }
    // Closing: no PUBACK, so the broker keeps the message for the next session.
    if (link.phase !== "open") return
    link.counters.backpressureWaits += 1
    Effect.runCallback(Queue.offer(link.incoming, message), {
      onExit: (exit) => {
        if (Exit.isSuccess(exit) && exit.value) {
          link.counters.received += 1
          done()
        }
      },
    })
  }

  // Runs before MQTT.js's own `close` handler, which schedules the next attempt with this period.
  client.prependListener("close", () => {
    if (link.phase !== "open") return
    if (link.everConnected && link.state._tag === "connected") link.counters.connectionLosses += 1
    link.failedAttempts += 1
    client.options.reconnectPeriod = reconnectDelayMs(link.failedAttempts, link.settings.reconnectMinMs, link.settings.reconnectMaxMs)
    // MQTT.js builds each CONNECT from `options`: the next connection gets its own will.
    if (link.willFor !== undefined) client.options.will = link.toMqttWill(link.willFor(link.counters.connects + 1))
    if (link.everConnected) link.setState({ _tag: "reconnecting", attempt: link.failedAttempts, error: link.lastError })
    link.log(`${link.tag} connection closed (${link.lastError}); attempt ${link.failedAttempts} in ${client.options.reconnectPeriod} ms`)
  })
  client.on("connect", (connack) => {
    link.failedAttempts = 0
    link.everConnected = true
    link.counters.connects += 1
    link.lastError = "connection lost"
    link.setState({ _tag: "connected", connection: link.counters.connects })
    link.log(`${link.tag} connected (session ${connack.sessionPresent ? "resumed" : "new"})`)
    Deferred.doneUnsafe(link.firstConnect, Exit.void)
  })
  // Without an `error` listener an EventEmitter throws: every MQTT.js error lands here.
  client.on("error", (error) => {
    link.lastError = describeError(error)
    link.log(`${link.tag} error: ${link.lastError}`)
    if (!link.everConnected && error instanceof ErrorWithReasonCode) {
      // The broker answered and said no: retrying until the deadline would only hide that.
      const login = error.code === 4 || error.code === 5
      link.refuseFirstConnect(login
        ? `${link.options.url} refused the login of ${link.options.username ?? `client ${link.options.clientId} (no username given)`}: ${error.code === 4 ? "bad username or password" : "not authorized"}`
        : `${link.options.url} refused ${link.options.clientId}: ${link.lastError}`)
    }
  })
}

export const checkPublish = (topic: string, payload: Uint8Array): TransportError | undefined => {
  if (topic.length === 0 || topic.length > MAX_TOPIC_CHARS || FORBIDDEN_IN_PUBLISH_TOPIC.test(topic)) {
    return new TransportError({ reason: "rejected", message: `refusing to publish to topic ${JSON.stringify(topic).slice(0, 80)}` })
  }
  if (payload.byteLength > MAX_FRAME_BYTES) {
    return new TransportError({ reason: "rejected", message: `payload of ${payload.byteLength} bytes exceeds ${MAX_FRAME_BYTES}: receivers would drop it` })
  }
  return undefined
}

/** Publishing: QoS 1, done when the broker acknowledges (PUBACK). */
export const publishing = (client: MqttClient, link: Link) => {
  const publishNow = (topic: string, payload: Uint8Array, retain: boolean): Effect.Effect<void, TransportError> =>
    Effect.callback<void, TransportError>((resume) => {
      const settle = (error: TransportError) => {
        link.awaitingAck.delete(settle)
        resume(Effect.fail(error))
      }
      link.awaitingAck.add(settle)
      client.publish(topic, asBuffer(payload), { qos: 1, retain }, (error) => {
        if (!link.awaitingAck.delete(settle)) return
        resume(!error ? Effect.void : Effect.fail(new TransportError({ reason: "io", message: `publish to ${topic.slice(0, 80)}: ${describeError(error)}` })))
      })
      return Effect.sync(() => {
        link.awaitingAck.delete(settle)
      })
    })

  const publish = (topic: Topic, payload: Uint8Array, publishOptions: { readonly retain: boolean }) =>
    Effect.suspend(() => {
      if (link.phase !== "open") return Effect.fail(notOpen("closed", `publish to ${topic.slice(0, 80)}`))
      const refused = checkPublish(topic, payload)
      return refused === undefined ? publishNow(topic, payload, publishOptions.retain) : Effect.fail(refused)
    })

  return { publishNow, publish }
}

const checkFilters = (filters: ReadonlyArray<Topic>): TransportError | undefined => {
  const bad = filters.find((filter) => filter.length === 0 || filter.length > MAX_TOPIC_CHARS || filter.includes("\u0000"))
  return bad === undefined ? undefined : new TransportError({ reason: "rejected", message: `invalid topic filter ${JSON.stringify(bad).slice(0, 80)}` })
}

export const subscribing = (client: MqttClient, link: Link) => {
  const subscribe = (filters: ReadonlyArray<Topic>) =>
    Effect.suspend(() => {
      if (link.phase !== "open") return Effect.fail(notOpen("closed", "subscribe"))
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
      if (link.phase !== "open") return Effect.fail(notOpen("closed", "unsubscribe"))
      if (filters.length === 0) return Effect.void
      const refused = checkFilters(filters)
      if (refused !== undefined) return Effect.fail(refused)
      return Effect.callback<void, TransportError>((resume) => {
        client.unsubscribe([...filters], (error) => {
          resume(error ? Effect.fail(new TransportError({ reason: "io", message: `unsubscribe: ${describeError(error)}` })) : Effect.void)
        })
      })
    })

  return { subscribe, unsubscribe }
}

/** Closing: last words (bounded), then a DISCONNECT or a dropped socket, then the queue ends. */
export const closing = (client: MqttClient, link: Link, publishNow: ReturnType<typeof publishing>["publishNow"]) => {
  /** Ends the MQTT.js client within `timeoutMs`: a DISCONNECT when nothing is in flight, else drop the socket. */
  const endClient = (timeoutMs: number): Promise<void> =>
    new Promise<void>((resolve) => {
      // MQTT.js re-arms its reconnect timer after a refused CONNACK even when ended in between
      // (with `manualConnect` its `end` clears `disconnecting`): a period of 0 stops that for good.
      client.options.reconnectPeriod = 0
      const clean = client.connected && Object.keys(client.outgoing).length === 0
      const fallback = setTimeout(() => {
        link.log(`${link.tag} DISCONNECT did not finish in ${timeoutMs} ms: dropping the socket`)
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
      if (link.phase !== "open") return
      link.phase = "closing"
      const started = Date.now()
      const sendable = lastWords.filter((word) => checkPublish(word.topic, word.payload) === undefined)
      if (sendable.length < lastWords.length) link.log(`${link.tag} ${lastWords.length - sendable.length} last words refused (topic or size)`)
      if (sendable.length > 0) {
        const sent = yield* Effect.forEach(sendable, (word) => publishNow(word.topic, word.payload, word.retain), { concurrency: "unbounded", discard: true }).pipe(
          Effect.timeoutOption(link.settings.closeTimeoutMs),
          Effect.result,
        )
        if (sent._tag === "Failure" || sent.success._tag === "None") link.log(`${link.tag} last words not acknowledged before closing`)
      }
      const remaining = Math.max(100, link.settings.closeTimeoutMs - (Date.now() - started))
      yield* Effect.promise(() => endClient(remaining))
      link.phase = "closed"
      for (const fail of [...link.awaitingAck]) fail(notOpen("closed", "publish"))
      yield* Queue.end(link.incoming)
      link.setState({ _tag: "closed" })
      link.log(`${link.tag} closed`)
    }).pipe(Effect.uninterruptible)

  return close
}
