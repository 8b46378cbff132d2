/**
 * A deterministic cluster of virtual users on one thread: each user is the real core (decide,
 * evolve, its own log as an array), the network is a list of deliveries that a seeded scheduler
 * delivers, duplicates and reorders. No Effect, no I/O, no clock: the same seed gives the same run.
 * Used by the property tests and the simulator.
 */
import { Result } from "effect"
import { evolve, initialChatState, type ChatState } from "../chat/chat-state.ts"
import { decideCommand, decideGaps, decideIncoming, interpretResend, presenceOut, resendable, type Command, type DecisionContext } from "../chat/decide.ts"

import type { LogEntry, LogRecord, Outgoing } from "../events.ts"
import { parseTopic, type MessageId, type UserId } from "../ids.ts"
import { mulberry32 } from "../ports/id-source.port.ts"
import { encodeEnvelope, decodeEnvelopeText } from "../wire/messages.ts"

/** Simulated wait for a gap, before asking for a resend and again before giving up (as the service). */
export const GAP_WAIT_MS = 5000

export interface SimUser {
  readonly id: UserId
  state: ChatState
  readonly log: LogRecord[]
  online: boolean
}

export interface Delivery {
  readonly to: UserId
  readonly topic: string
  /** Encoded JSON: deliveries go through the real codec, like bytes on a broker. */
  readonly payload: string
}

export interface ClusterOptions {
  readonly seed: number
  readonly users: number
  /** Start of simulated time (ms). */
  readonly startMs?: number
}

export interface ClusterCounters {
  commands: number
  rejected: number
  delivered: number
  dropped: number
  records: number
}

/** Bound on deliveries in flight: a simulation that exceeds it has a bug (a message storm). */
export const MAX_IN_FLIGHT = 1_000_000

export class Cluster {
  readonly users: SimUser[]
  readonly network: Delivery[] = []
  readonly counters: ClusterCounters = { commands: 0, rejected: 0, delivered: 0, dropped: 0, records: 0 }
  private nowMs: number
  private readonly random: () => number
  private nextId = 0

  constructor(options: ClusterOptions) {
    this.random = mulberry32(options.seed)
    this.nowMs = options.startMs ?? 1_700_000_000_000
    this.users = Array.from({ length: options.users }, (_, i) => {
      const id = `user-${10001 + i}` as UserId
      const user: SimUser = { id, state: initialChatState(), log: [], online: false }
      this.append(user, Result.getOrThrow(decideCommand(user.state, { _tag: "profile.create", user: id }, this.context())))
      return user
    })
  }

  get now(): number {
    return this.nowMs
  }

  /** Moves simulated time; gaps in a sender's numbering older than GAP_WAIT_MS are given up. */
  advance(ms: number): void {
    if (ms < 0) throw new Error("time only moves forward")
    this.nowMs += ms
    for (const user of this.users) {
      for (const entry of decideGaps(user.state, this.nowMs, GAP_WAIT_MS, this.context())) {
        const record = this.append(user, entry)
        this.route(user, record.out)
      }
    }
  }

  random01(): number {
    return this.random()
  }

  private context(): DecisionContext {
    return { now: this.nowMs, newMessageId: () => `m${String(this.nextId++).padStart(10, "0")}` as MessageId }
  }

  private append(user: SimUser, entry: LogEntry): LogRecord {
    const record: LogRecord = { seq: user.log.length + 1, ...entry }
    user.log.push(record)
    user.state = evolve(user.state, record)
    this.counters.records += 1
    return record
  }

  /** A user command; returns the rejection reason, if any. */
  command(index: number, command: Command): string | null {
    const user = this.users[index]
    if (user === undefined) throw new Error(`no user ${index}`)
    this.counters.commands += 1
    if (!user.online && command._tag !== "session.start") {
      this.counters.rejected += 1
      return "offline"
    }
    const decided = decideCommand(user.state, command, this.context())
    if (Result.isFailure(decided)) {
      this.counters.rejected += 1
      return decided.failure.reason
    }
    const record = this.append(user, decided.success)
    if (command._tag === "session.start") {
      user.online = true
      this.route(user, presenceOut(user.state, user.state.clock, this.context(), "online", { session: user.state.session, connection: 1 }))
    }
    if (command._tag === "session.end") {
      user.online = false
      this.route(user, this.offlineAnnouncement(user))
    }
    this.route(user, record.out)
    return null
  }

  private offlineAnnouncement(user: SimUser): ReadonlyArray<Outgoing> {
    return presenceOut(user.state, user.state.clock, this.context(), "offline", { session: user.state.session, connection: 1 })
  }

  /** Who receives a topic: the broker's routing, from each user's own subscriptions (derived from its state). */
  private recipients(sender: SimUser, topic: string): ReadonlyArray<SimUser> {
    const where = parseTopic(topic)
    switch (where.kind) {
      case "control":
        return this.users.filter((u) => u.id === where.user)
      case "talk":
        return this.users.filter((u) => u !== sender && where.users.includes(u.id))
      case "groupTalk":
        return this.users.filter((u) => {
          const view = u.state.groups.get(where.group)?.value
          return u !== sender && (view === "member" || view === "leading")
        })
      case "global":
      case "presence":
      case "groupInfo":
        return this.users.filter((u) => u !== sender)
      case "unknown":
        return []
    }
  }

  private routeAgain(sender: SimUser, outs: ReadonlyArray<Outgoing>): void {
    for (const out of outs) {
      const payload = encodeEnvelope(out.envelope)
      for (const to of this.recipients(sender, out.topic)) this.network.push({ to: to.id, topic: out.topic, payload })
    }
  }

  private route(sender: SimUser, outs: ReadonlyArray<Outgoing>): void {
    if (outs.length === 0) return
    for (const out of outs) {
      const payload = encodeEnvelope(out.envelope)
      for (const to of this.recipients(sender, out.topic)) {
        if (this.network.length >= MAX_IN_FLIGHT) throw new Error("simulation network overflow")
        this.network.push({ to: to.id, topic: out.topic, payload })
      }
    }
    // The simulated broker acknowledges at once; the service logs acks the same way, in a record.
    const ids = outs.filter((o) => o.envelope.body._tag !== "presence").map((o) => o.envelope.id)
    if (ids.length > 0) this.append(sender, { at: this.nowMs, clock: sender.state.clock, event: { _tag: "outbox.acked", ids }, out: [] })
  }

  /** Delivers one in-flight message (offline users keep theirs queued, like a persistent session). */
  deliver(pick: number, duplicate: boolean): boolean {
    const ready = this.network.map((d, i) => [d, i] as const).filter(([d]) => this.userById(d.to).online)
    if (ready.length === 0) return false
    const [delivery, index] = ready[pick % ready.length]!
    if (!duplicate) this.network.splice(index, 1)
    this.receive(delivery)
    return true
  }

  /** Delivers everything deliverable, oldest first, bounded. Returns how many were delivered. */
  drain(budget = 1_000_000): number {
    let delivered = 0
    for (; delivered < budget; delivered++) {
      const index = this.network.findIndex((d) => this.userById(d.to).online)
      if (index < 0) return delivered
      const [delivery] = this.network.splice(index, 1)
      this.receive(delivery!)
    }
    throw new Error("drain budget exhausted: a message storm")
  }

  private receive(delivery: Delivery): void {
    const user = this.userById(delivery.to)
    this.counters.delivered += 1
    const decoded = decodeEnvelopeText(delivery.payload)
    if (Result.isFailure(decoded)) {
      this.counters.dropped += 1
      return
    }
    if (decoded.success.body._tag === "chat.resend") {
      const asked = interpretResend(user.state, delivery.topic, decoded.success)
      if (Result.isFailure(asked)) {
        this.counters.dropped += 1
        return
      }
      // Published again, not stored: the originals are in the log already.
      this.routeAgain(user, resendable(user.log, asked.success.topic, new Set(asked.success.missing)))
      return
    }
    const decided = decideIncoming(user.state, delivery.topic, decoded.success, this.context())
    if (Result.isFailure(decided)) {
      this.counters.dropped += 1
      return
    }
    for (const entry of decided.success) {
      const record = this.append(user, entry)
      this.route(user, record.out)
    }
  }

  userById(id: UserId): SimUser {
    const user = this.users.find((u) => u.id === id)
    if (user === undefined) throw new Error(`unknown user ${id}`)
    return user
  }
}
