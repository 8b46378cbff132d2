/**
 * An in-process MQTT-like broker for the simulator and fast tests: persistent sessions (clean:false),
 * QoS 1 queues for offline clients (bounded, drops counted), retained messages, `+` wildcards, the
 * Last Will on a crash. Deterministic: delivery happens when `flush` runs (or on a microtask when
 * `autoFlush` is on), with optional seeded duplication and reordering to model at-least-once, or
 * one message at a time when the simulator's scheduler picks it (`deliverOne`).
 *
 * It implements the same Transport port as the MQTT.js adapter and runs the same contract tests.
 */
import { Deferred, Effect, Exit, Layer, Queue, Stream } from "effect"
import { Transport, TransportError, type ConnectionState, type Incoming } from "../../domain/ports/transport.port.ts"
import { topics, type Topic } from "../../domain/ids.ts"
import { UserDirectory } from "../../domain/ports/user-directory.port.ts"
import { mulberry32 } from "../../domain/ports/id-source.port.ts"

export interface MemoryBrokerOptions {
  /** Per-client queue bound while offline, like Mosquitto's max_queued_messages. */
  readonly maxQueued?: number
  /** Probability that a delivery is duplicated (at-least-once), and that a batch is shuffled. */
  readonly duplicateRate?: number
  readonly reorderRate?: number
  readonly seed?: number
  /** Deliver on a microtask after each publish (live use); off for step-by-step simulation. */
  readonly autoFlush?: boolean
  /**
   * Fault injection: a published message for which this returns true is acknowledged and never
   * delivered, like a broker whose queue overflowed or that crashed between saves.
   */
  readonly lose?: (message: { readonly topic: string; readonly payload: Uint8Array }) => boolean
}

export interface Message {
  readonly topic: string
  readonly payload: Uint8Array
  readonly retain: boolean
}

interface Session {
  readonly clientId: string
  readonly subscriptions: Set<string>
  /** Waiting for delivery (connected) or for the client to come back (offline). */
  readonly queue: Message[]
  connection: MemoryConnection | null
  will: Message | null
}

export interface MemoryConnection {
  readonly clientId: string
  deliver(message: Incoming): void
  setState(state: ConnectionState): void
}

/** How the broker cuts a transport off and lets it back (a partition, healed). */
export interface PartitionLink {
  sever(): void
  reconnect(): void
}

export const topicMatches = (filter: string, topic: string): boolean => {
  const f = filter.split("/")
  const t = topic.split("/")
  if (f.length !== t.length) return false
  return f.every((level, i) => level === "+" || level === t[i])
}

export const isValidPublishTopic = (topic: string): boolean =>
  topic.length > 0 && topic.length <= 65535 && !/[+#\u0000]/.test(topic)

export class MemoryBroker {
  private readonly sessions = new Map<string, Session>()
  private readonly retained = new Map<string, Message>()
  private readonly random: () => number
  private scheduled = false
  readonly counters = { published: 0, delivered: 0, dropped: 0, duplicated: 0 }

  constructor(private readonly options: MemoryBrokerOptions = {}) {
    this.random = mulberry32(options.seed ?? 1)
  }

  /** `number`: which connect of its transport this is (1, 2, 3…: presence orders by it). */
  connect(clientId: string, connection: MemoryConnection, will: Message | null, number = 1): void {
    const existing = this.sessions.get(clientId)
    if (existing?.connection) this.crash(clientId) // a second connection with one client id takes over
    const session = existing ?? { clientId, subscriptions: new Set<string>(), queue: [], connection: null, will: null }
    session.connection = connection
    session.will = will
    this.sessions.set(clientId, session)
    connection.setState({ _tag: "connected", connection: number })
    this.schedule()
  }

  /** Transports that can lose their connection and make it again, by client id. */
  private readonly links = new Map<string, PartitionLink>()

  /** A transport registers how it is cut off and how it comes back; `unlink` when it closes. */
  link(clientId: string, link: PartitionLink): void {
    this.links.set(clientId, link)
  }
  unlink(clientId: string, link: PartitionLink): void {
    if (this.links.get(clientId) === link) this.links.delete(clientId)
  }

  /**
   * The network between `clientId` and the broker breaks: the broker sees the client vanish (its
   * Will goes out, its session keeps queueing), the client's transport reconnects later (`heal`)
   * and holds what the application publishes meanwhile. False when there is no live link.
   */
  partition(clientId: string): boolean {
    const link = this.links.get(clientId)
    if (link === undefined || this.sessions.get(clientId)?.connection == null) return false
    link.sever()
    this.crash(clientId, { _tag: "reconnecting", attempt: 1, error: "connection lost (partition)" })
    return true
  }

  /** The network is back: the transport cut off by `partition` connects again. */
  heal(clientId: string): boolean {
    const link = this.links.get(clientId)
    if (link === undefined || this.sessions.get(clientId)?.connection != null) return false
    link.reconnect()
    return true
  }

  /** Clean disconnect: no will. The session and its subscriptions stay (clean:false). */
  disconnect(clientId: string): void {
    const session = this.sessions.get(clientId)
    if (!session?.connection) return
    session.connection.setState({ _tag: "closed" })
    session.connection = null
    session.will = null
  }

  /** The client vanished: the broker publishes its will. `state`: what its transport reports. */
  crash(clientId: string, state: ConnectionState = { _tag: "closed" }): void {
    const session = this.sessions.get(clientId)
    if (!session?.connection) return
    session.connection.setState(state)
    session.connection = null
    const will = session.will
    session.will = null
    if (will) this.publish(will)
  }

  subscribe(clientId: string, filters: ReadonlyArray<string>): void {
    const session = this.sessions.get(clientId)
    if (!session) throw new Error(`subscribe before connect: ${clientId}`)
    for (const filter of filters) {
      session.subscriptions.add(filter)
      for (const message of this.retained.values()) if (topicMatches(filter, message.topic)) this.enqueue(session, message)
    }
    this.schedule()
  }

  unsubscribe(clientId: string, filters: ReadonlyArray<string>): void {
    const session = this.sessions.get(clientId)
    for (const filter of filters) session?.subscriptions.delete(filter)
  }

  publish(message: Message): void {
    if (!isValidPublishTopic(message.topic)) throw new Error(`invalid publish topic ${JSON.stringify(message.topic)}`)
    this.counters.published += 1
    if (this.options.lose?.(message) === true) {
      this.counters.dropped += 1
      return
    }
    if (message.retain) {
      if (message.payload.byteLength === 0) this.retained.delete(message.topic)
      else this.retained.set(message.topic, message)
    }
    for (const session of this.sessions.values()) {
      for (const filter of session.subscriptions) {
        if (topicMatches(filter, message.topic)) {
          // A live message is not "retained" for current subscribers.
          this.enqueue(session, { ...message, retain: false })
          break
        }
      }
    }
    this.schedule()
  }

  private enqueue(session: Session, message: Message): void {
    if (session.queue.length >= (this.options.maxQueued ?? 100_000)) {
      this.counters.dropped += 1
      return
    }
    session.queue.push(message)
    if (this.random() < (this.options.duplicateRate ?? 0)) {
      this.counters.duplicated += 1
      session.queue.push(message)
    }
  }

  private schedule(): void {
    if (!this.options.autoFlush || this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.flush()
    })
  }

  /** Client ids with messages waiting and a live connection, in the order they first connected. */
  readyClients(): ReadonlyArray<string> {
    const ready: string[] = []
    for (const session of this.sessions.values()) if (session.connection && session.queue.length > 0) ready.push(session.clientId)
    return ready
  }

  /** Messages waiting for `clientId` (connected or not). */
  queued(clientId: string): number {
    return this.sessions.get(clientId)?.queue.length ?? 0
  }

  /**
   * The simulator's step: hands `clientId` the message at `index` of its queue (0 is the oldest;
   * another index is a reordering). With `keep`, the message stays queued and comes again (a
   * duplicate). False when the client is not connected or has nothing at `index`.
   */
  deliverOne(clientId: string, index: number, keep = false): boolean {
    const session = this.sessions.get(clientId)
    const connection = session?.connection
    if (!session || !connection || index < 0 || index >= session.queue.length) return false
    const message = keep ? session.queue[index]! : session.queue.splice(index, 1)[0]!
    if (keep) this.counters.duplicated += 1
    connection.deliver({ topic: message.topic, payload: message.payload, retained: message.retain })
    this.counters.delivered += 1
    return true
  }

  /** What waits for `clientId`, oldest first (a copy): tests look at what is in flight. */
  waiting(clientId: string): ReadonlyArray<Message> {
    return [...(this.sessions.get(clientId)?.queue ?? [])]
  }

  /** Fault injection: the waiting messages of `clientId` that `lose` picks vanish. Returns how many. */
  discard(clientId: string, lose: (message: Message) => boolean): number {
    const queue = this.sessions.get(clientId)?.queue
    if (queue === undefined) return 0
    const kept = queue.filter((message) => !lose(message))
    const lost = queue.length - kept.length
    queue.splice(0, queue.length, ...kept)
    this.counters.dropped += lost
    return lost
  }

  /** Puts a message in `clientId`'s queue as if routed to it (a forger's, or a copy replayed). */
  inject(clientId: string, message: Message): void {
    const session = this.sessions.get(clientId)
    if (!session) throw new Error(`inject before connect: ${clientId}`)
    if (session.queue.length >= (this.options.maxQueued ?? 100_000)) {
      this.counters.dropped += 1
      return
    }
    session.queue.push(message)
    this.schedule()
  }

  /** Whether `connection` is still the live one of its client id (a crash or a takeover detaches it). */
  isAttached(connection: MemoryConnection): boolean {
    return this.sessions.get(connection.clientId)?.connection === connection
  }

  /** Delivers everything queued for connected clients. Returns how many were delivered. */
  flush(limit = 1_000_000): number {
    let delivered = 0
    for (const session of this.sessions.values()) {
      const connection = session.connection
      if (!connection || session.queue.length === 0) continue
      const batch = session.queue.splice(0, Math.min(session.queue.length, limit - delivered))
      if (this.random() < (this.options.reorderRate ?? 0)) this.shuffle(batch)
      for (const message of batch) connection.deliver({ topic: message.topic, payload: message.payload, retained: message.retain })
      delivered += batch.length
      if (delivered >= limit) break
    }
    this.counters.delivered += delivered
    return delivered
  }

  /** Whether a retained message exists on `topic` (the user directory asks about presence). */
  hasRetained(topic: string): boolean {
    return this.retained.has(topic)
  }

  /** The retained payload on `topic`, if any. */
  retainedPayload(topic: string): Uint8Array | undefined {
    return this.retained.get(topic)?.payload
  }

  pending(): number {
    let total = 0
    for (const session of this.sessions.values()) if (session.connection) total += session.queue.length
    return total
  }

  private shuffle<A>(items: A[]): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1))
      const tmp = items[i]!
      items[i] = items[j]!
      items[j] = tmp
    }
  }
}

export interface MemoryTransportOptions {
  readonly clientId: string
  /** The will of connection N (1, then one more after each partition healed). */
  readonly will?: (connection: number) => { readonly topic: string; readonly payload: Uint8Array; readonly retain: boolean }
  /** Bound on messages received but not yet consumed by the application. */
  readonly incomingCapacity?: number
}

/** Publishes held while cut off from the broker; beyond this a publish fails (MQTT.js's offline queue is bounded too). */
const MAX_HELD_PUBLISHES = 10_000

/**
 * The Transport port over a MemoryBroker. Closing the layer's scope disconnects cleanly. Cut off
 * by the broker (`partition`), it reports `reconnecting`, holds publishes in order until the
 * broker lets it back (`heal`), then connects again with the next connection number and its Will.
 */
export const memoryTransportLayer = (broker: MemoryBroker, options: MemoryTransportOptions): Layer.Layer<Transport> =>
  Layer.effect(
    Transport,
    Effect.gen(function* () {
      const incoming = yield* Queue.bounded<Incoming>(options.incomingCapacity ?? 100_000)
      const changes = yield* Queue.sliding<ConnectionState>(64)
      let state: ConnectionState = { _tag: "connecting" }
      let closed = false
      let cutOff = false
      let number = 1
      const held: Array<{ readonly message: Message; readonly sent: Deferred.Deferred<void> }> = []
      const makeConnection = (): MemoryConnection => ({
        clientId: options.clientId,
        deliver: (message) => {
          if (!Queue.offerUnsafe(incoming, message)) broker.counters.dropped += 1
        },
        setState: (next) => {
          state = next
          Queue.offerUnsafe(changes, next)
        },
      })
      let connection = makeConnection()
      const willOf = (n: number) => (options.will ? { ...options.will(n) } : null)
      broker.connect(options.clientId, connection, willOf(number), number)
      const link: PartitionLink = {
        sever: () => {
          cutOff = true
        },
        reconnect: () => {
          if (closed) return
          cutOff = false
          number += 1
          connection = makeConnection()
          broker.connect(options.clientId, connection, willOf(number), number)
          // What was published while cut off goes out now, in order.
          for (const { message, sent } of held.splice(0)) {
            broker.publish(message)
            Deferred.doneUnsafe(sent, Exit.void)
          }
        },
      }
      broker.link(options.clientId, link)
      // A crashed client (the broker saw it vanish) can send nothing more, last words included.
      const ensureOpen = Effect.suspend(() =>
        closed
          ? Effect.fail(new TransportError({ reason: "closed", message: "transport closed" }))
          : broker.isAttached(connection) || cutOff
            ? Effect.void
            : Effect.fail(new TransportError({ reason: "not-connected", message: "the broker lost this connection" })),
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        broker.unlink(options.clientId, link)
        if (!closed && broker.isAttached(connection)) broker.disconnect(options.clientId)
        closed = true
      }))
      const publish = (message: Message) =>
        Effect.suspend(() => {
          if (!cutOff) {
            return Effect.try({
              try: () => broker.publish(message),
              catch: (error) => new TransportError({ reason: "rejected", message: String(error) }),
            })
          }
          if (held.length >= MAX_HELD_PUBLISHES) return Effect.fail(new TransportError({ reason: "not-connected", message: "too many publishes held while reconnecting" }))
          const sent = Deferred.makeUnsafe<void>()
          held.push({ message, sent })
          return Deferred.await(sent)
        })
      return Transport.of({
        publish: (topic: Topic, payload, publishOptions) => ensureOpen.pipe(Effect.flatMap(() => publish({ topic, payload, retain: publishOptions.retain }))),
        // The session (and its subscriptions) lives at the broker while the client is cut off.
        subscribe: (filters) => ensureOpen.pipe(Effect.map(() => broker.subscribe(options.clientId, filters))),
        unsubscribe: (filters) => ensureOpen.pipe(Effect.map(() => broker.unsubscribe(options.clientId, filters))),
        incoming: Stream.fromQueue(incoming),
        connectionState: Effect.sync(() => state),
        connectionChanges: Stream.fromQueue(changes),
        close: (lastWords) =>
          Effect.sync(() => {
            if (closed || !broker.isAttached(connection)) {
              closed = true
              return
            }
            for (const message of lastWords) broker.publish({ topic: message.topic, payload: message.payload, retain: message.retain })
            broker.disconnect(options.clientId)
            closed = true
          }),
      })
    }),
  )

/** The user directory over a MemoryBroker: an id is taken when its retained presence exists. */
export const memoryUserDirectoryLayer = (broker: MemoryBroker): Layer.Layer<UserDirectory> =>
  Layer.succeed(UserDirectory, UserDirectory.of({ isTaken: (user) => Effect.sync(() => broker.hasRetained(topics.presence(user))) }))
