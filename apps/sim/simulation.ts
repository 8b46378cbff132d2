/**
 * One simulation run: a `Cluster` of virtual users (the real decide/evolve, the real wire codec)
 * driven step by step by the seeded workload, with users dropping offline for a while, deliveries
 * duplicated and reordered, and the clock jumping far enough for requests to time out. Then
 * everyone comes back, the network drains, and the invariants are checked.
 *
 * Everything but `timing` is a function of the options: the same seed gives the same report.
 */
import { Result } from "effect"
import type { Command } from "../../domain/chat/decide.ts"
import { decideIncoming, interpretResend } from "../../domain/chat/decide.ts"
import type { MessageId, UserId } from "../../domain/ids.ts"
import { Cluster, GAP_WAIT_MS, MAX_IN_FLIGHT, type Delivery, type SimUser } from "../../domain/sim/cluster.ts"
import { defaultChatServiceOptions } from "../../domain/service/chat-service.ts"
import { decodeEnvelopeText } from "../../domain/wire/messages.ts"
import { checkInvariants, type InvariantResult } from "./invariants.ts"
import type { SimOptions } from "./options.ts"
import { InFlight } from "./in-flight.ts"
import { chooseCommand, groupNamesFor, pickWeighted, randomBelow, type Random } from "./workload.ts"

/**
 * What a step does. A step delivers with probability ready / (ready + users): the larger the
 * backlog, the busier the broker, so the network neither starves nor grows without bound, and
 * users still act while messages wait. Otherwise the clock moves on, or a user acts: goes offline
 * for a while (probability `offline`) or types a command.
 */
export const deliveryProbability = (ready: number, users: number): number => ready / (ready + users)
export const ACTION_WEIGHTS = { command: 9, advance: 1 } as const

/** Above this many deliveries in flight, steps only deliver (and never duplicate): backpressure. */
export const networkSoftLimit = (users: number): number => Math.min(MAX_IN_FLIGHT / 2, 200 * users)

/** A disconnected user comes back after 1..this many steps. */
export const MAX_OFFLINE_STEPS = 500
/** Most clock advances are seconds; this share are hours, so pending requests time out. */
export const LONG_PAUSE_PROBABILITY = 0.1
const SHORT_PAUSE_MAX_MS = 60_000
const LONG_PAUSE_MIN_MS = 60 * 60 * 1000
const LONG_PAUSE_SPAN_MS = 36 * 60 * 60 * 1000
/** Same timeout as the chat service's sweep. */
export const REQUEST_TIMEOUT_MS = defaultChatServiceOptions.requestTimeoutMs
/** Clock advances of GAP_WAIT_MS after the final drain: one to ask for a resend, one to give up, one spare. */
export const HEAL_ROUNDS = 3
/** Deliveries allowed for the final drain; a run that needs more is a message storm. */
export const finalDrainBudget = (users: number): number => Math.min(MAX_IN_FLIGHT, 2_000 * users)

/** How often something happened: a kind of command, a rejection or drop reason. */
export interface Count {
  readonly label: string
  readonly count: number
}

/** What a run depends on: the options that change the simulation, and whether to time it. */
export type SimConfig = Omit<SimOptions, "json" | "logsDir">

export interface SimReport {
  readonly options: Omit<SimConfig, "timing">
  readonly users: { readonly total: number; readonly offlineSpells: number }
  readonly commands: {
    readonly total: number
    readonly accepted: number
    readonly rejected: number
    /** Accepted commands per kind, most first. */
    readonly acceptedByKind: ReadonlyArray<Count>
    /** Rejections per reason (ids replaced by placeholders), most first. */
    readonly rejectedByReason: ReadonlyArray<Count>
  }
  readonly deliveries: {
    readonly total: number
    readonly duplicated: number
    readonly reordered: number
    readonly dropped: number
    readonly droppedByReason: ReadonlyArray<Count>
    readonly peakInFlight: number
  }
  readonly records: { readonly total: number; readonly perUserMin: number; readonly perUserMax: number }
  readonly simulatedMs: number
  readonly invariants: ReadonlyArray<InvariantResult>
  readonly ok: boolean
  /** Wall-clock cost of the run (not of the invariant check): the one non-deterministic part. */
  readonly timing?: { readonly elapsedMs: number; readonly events: number; readonly eventsPerSecond: number }
}

/** Reasons name users and groups; counting them per id would scatter one cause over many rows. */
export const normaliseReason = (reason: string): string =>
  reason.replace(/user-[0-9]+/g, "<user>").replace(/room-[0-9]+/g, "<group>").replace(/[0-9]+/g, "<n>")

class Tally {
  private readonly counts = new Map<string, number>()
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }
  /** Most first; ties in key order, so the output does not depend on insertion order. */
  sorted(): ReadonlyArray<Count> {
    return [...this.counts].map(([label, count]) => ({ label, count })).sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
  }
}

/** Drops are decided again to learn the reason; this id is never stored. */
const UNUSED_MESSAGE_ID = "reason-probe" as MessageId

export interface SimRun {
  readonly report: SimReport
  /** The virtual users at the end, with their logs: for writing the logs out, and for tests. */
  readonly users: ReadonlyArray<SimUser>
}

export const runSimulation = (options: SimConfig, now: () => number = () => performance.now()): SimReport => simulate(options, now).report

export const simulate = (options: SimConfig, now: () => number = () => performance.now()): SimRun => {
  const cluster = new Cluster({ seed: options.seed, users: options.users })
  const random: Random = () => cluster.random01()
  const groups = groupNamesFor(options.users)
  const ids: ReadonlyArray<UserId> = cluster.users.map((user) => user.id)
  const byId = new Map<UserId, SimUser>(cluster.users.map((user) => [user.id, user]))
  const isOnline = (id: UserId): boolean => byId.get(id)!.online
  const inFlight = new InFlight(ids, MAX_IN_FLIGHT)
  const softLimit = networkSoftLimit(options.users)

  const accepted = new Tally()
  const rejected = new Tally()
  const dropped = new Tally()
  const counts = { commands: 0, accepted: 0, deliveries: 0, duplicated: 0, reordered: 0, dropped: 0, offlineSpells: 0, peakInFlight: 0, texts: 0 }
  /** Step at which each disconnected user comes back (undefined: online). */
  const backAt: Array<number | undefined> = ids.map(() => undefined)

  /**
   * The cluster routes what its users publish into `cluster.network`; the simulator keeps them in
   * per-recipient queues instead, because Cluster.deliver scans its whole network for every
   * delivery (in flight × users), which made a 50-user run take minutes.
   */
  const collectRouted = (): void => {
    for (const delivery of cluster.network) inFlight.push(delivery)
    cluster.network.length = 0
    counts.peakInFlight = Math.max(counts.peakInFlight, inFlight.size)
  }

  const command = (index: number, kind: string, cmd: Command): boolean => {
    counts.commands += 1
    const reason = cluster.command(index, cmd)
    collectRouted()
    if (reason === null) {
      counts.accepted += 1
      accepted.add(kind)
    } else rejected.add(`${cmd._tag}: ${normaliseReason(reason)}`)
    return reason === null
  }

  /** Why the cluster dropped `delivery`: the same decision, taken again on the unchanged state. */
  const dropReason = (delivery: Delivery): string => {
    const decoded = decodeEnvelopeText(delivery.payload)
    if (Result.isFailure(decoded)) return `undecodable: ${decoded.failure.reason}`
    const user = byId.get(delivery.to)!
    const refusal = (result: Result.Result<unknown, { readonly reason: string }>): string | undefined =>
      Result.isFailure(result) ? result.failure.reason : undefined
    // A resend request is answered from the log, not decided: the cluster checks it with interpretResend.
    const reason = decoded.success.body._tag === "chat.resend"
      ? refusal(interpretResend(user.state, delivery.topic, decoded.success))
      : refusal(decideIncoming(user.state, delivery.topic, decoded.success, { now: cluster.now, newMessageId: () => UNUSED_MESSAGE_ID }))
    if (reason === undefined) throw new Error(`invariant: the cluster dropped a delivery to ${delivery.to} that decides fine now`)
    return normaliseReason(reason)
  }

  /** Hands exactly one delivery to the cluster (its network holds nothing else), which receives it. */
  const receive = (delivery: Delivery, duplicate: boolean): void => {
    if (cluster.network.length !== 0) throw new Error("invariant: the cluster's network must be empty between steps")
    cluster.network.push(delivery)
    const droppedBefore = cluster.counters.dropped
    if (!cluster.deliver(0, duplicate)) throw new Error(`invariant: the cluster did not deliver to ${delivery.to}`)
    // A duplicate stays in the cluster's network, ahead of what the delivery routed: it is still
    // in flight here, in its queue.
    if (duplicate && cluster.network.shift() !== delivery) throw new Error("invariant: the duplicated delivery is not first in the cluster's network")
    collectRouted()
    counts.deliveries += 1
    if (cluster.counters.dropped > droppedBefore) {
      counts.dropped += 1
      dropped.add(dropReason(delivery))
    }
  }

  /** Delivers one message to an online user: the oldest, or (reordering) any of them. */
  const deliver = (reorder: boolean, duplicate: boolean): boolean => {
    const oldest = inFlight.oldestReady(isOnline)
    if (oldest === undefined) return false
    const slot = reorder ? inFlight.randomReady(isOnline, random)! : oldest
    if (slot.to !== oldest.to || slot.index !== oldest.index) counts.reordered += 1
    if (duplicate) counts.duplicated += 1
    receive(duplicate ? inFlight.peek(slot).delivery : inFlight.take(slot).delivery, duplicate)
    return true
  }

  const connect = (index: number): void => {
    backAt[index] = undefined
    command(index, "session.start", { _tag: "session.start" })
  }

  const onlineIndexes = (): ReadonlyArray<number> => cluster.users.flatMap((user, index) => (user.online ? [index] : []))

  const disconnect = (index: number, step: number): void => {
    if (command(index, "session.end", { _tag: "session.end" })) {
      counts.offlineSpells += 1
      backAt[index] = step + 1 + randomBelow(random, MAX_OFFLINE_STEPS)
    }
  }

  /** The service's sweep: requests older than the timeout end, on the side of whoever is online. */
  const sweepTimeouts = (): void => {
    cluster.users.forEach((user, index) => {
      if (!user.online) return
      for (const [peer, snapshot] of user.state.conversations) {
        if (snapshot.value !== "outgoing" && snapshot.value !== "incoming") continue
        const since = user.state.conversationSince.get(peer) ?? cluster.now
        if (cluster.now - since >= REQUEST_TIMEOUT_MS) command(index, "conversation.timeout", { _tag: "conversation.timeout", peer: peer as UserId })
      }
    })
  }

  const advanceClock = (): void => {
    const long = random() < LONG_PAUSE_PROBABILITY
    // Advancing lets the cluster act on gaps in senders' numbering (ask for a resend, give up).
    cluster.advance(long ? LONG_PAUSE_MIN_MS + randomBelow(random, LONG_PAUSE_SPAN_MS) : 1 + randomBelow(random, SHORT_PAUSE_MAX_MS))
    collectRouted()
    sweepTimeouts()
  }

  /** A random online user acts: disconnects for a while, or types a command. */
  const userAction = (step: number): void => {
    const online = onlineIndexes()
    const index = online[randomBelow(random, online.length)]
    if (index === undefined) return
    if (random() < options.offline) return disconnect(index, step)
    const user = cluster.users[index]!
    const choice = chooseCommand(random, user.id, user.state, ids.filter((id) => id !== user.id), groups, counts.texts++)
    command(index, choice.kind, choice.command)
  }

  const startMs = cluster.now
  const started = now()
  /** Delivers in order while more than `limit` are in flight, within `budget` deliveries. */
  const drainDownTo = (limit: number, budget: number): void => {
    let delivered = 0
    while (inFlight.size > limit && delivered < budget && deliver(false, false)) delivered += 1
  }
  // Every arrival is announced to everyone (presence fans out: N users cost N² deliveries), so users
  // arrive one at a time and the broker catches up whenever the backlog passes the soft limit.
  cluster.users.forEach((_, index) => {
    connect(index)
    drainDownTo(softLimit, MAX_IN_FLIGHT)
  })
  for (let step = 0; step < options.steps; step++) {
    backAt.forEach((at, index) => { if (at !== undefined && at <= step) connect(index) })
    if (inFlight.size >= softLimit && deliver(false, false)) continue
    if (random() < deliveryProbability(inFlight.readyCount(isOnline), options.users)) {
      const reorder = random() < options.reorder
      const duplicate = random() < options.duplicate
      deliver(reorder, duplicate)
    } else if (pickWeighted(random, ACTION_WEIGHTS) === "advance") advanceClock()
    else userAction(step)
  }
  // Everyone back, then deliver everything in order, bounded.
  backAt.forEach((at, index) => { if (at !== undefined) connect(index) })
  drainDownTo(0, finalDrainBudget(options.users))
  // Heal: time passes as the service's sweep would let it, so messages held back for a gap are
  // asked for again, then shown (protocol.md 7.5), each round drained before the next.
  for (let round = 0; round < HEAL_ROUNDS; round++) {
    cluster.advance(GAP_WAIT_MS)
    collectRouted()
    drainDownTo(0, finalDrainBudget(options.users))
  }
  const elapsedMs = now() - started
  if (cluster.counters.delivered !== counts.deliveries || cluster.counters.dropped !== counts.dropped || cluster.counters.commands !== counts.commands) {
    throw new Error("invariant: the simulator's counts disagree with the cluster's")
  }

  const invariants = checkInvariants(cluster.users, inFlight, groups)
  const recordCounts = cluster.users.map((user) => user.log.length)
  const events = counts.commands + counts.deliveries
  const report: SimReport = {
    options: { seed: options.seed, users: options.users, steps: options.steps, duplicate: options.duplicate, reorder: options.reorder, offline: options.offline },
    users: { total: options.users, offlineSpells: counts.offlineSpells },
    commands: {
      total: counts.commands,
      accepted: counts.accepted,
      rejected: counts.commands - counts.accepted,
      acceptedByKind: accepted.sorted(),
      rejectedByReason: rejected.sorted(),
    },
    deliveries: {
      total: counts.deliveries,
      duplicated: counts.duplicated,
      reordered: counts.reordered,
      dropped: counts.dropped,
      droppedByReason: dropped.sorted(),
      peakInFlight: counts.peakInFlight,
    },
    records: { total: cluster.counters.records, perUserMin: Math.min(...recordCounts), perUserMax: Math.max(...recordCounts) },
    simulatedMs: cluster.now - startMs,
    invariants,
    ok: invariants.every((invariant) => invariant.ok),
    ...(options.timing ? { timing: { elapsedMs, events, eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : 0 } } : {}),
  }
  return { report, users: cluster.users }
}
