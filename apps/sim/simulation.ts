/**
 * One simulation run: N real ChatServices in one world (harness.ts) driven by one seed. A
 * deterministic scheduler decides, step by step, what happens next: the broker hands one waiting
 * message to a user (the oldest, or — reordering — another; sometimes it keeps a copy to deliver
 * again, a duplicate), the one clock moves on (every due timer of every service runs), a user types
 * a command (in bursts, mostly in open conversations and groups), closes the chat for a while,
 * loses the network for a while (the chat still running), or its process crashes (at once, or
 * between storing a decision and publishing it) and restarts from its log; the broker may lose a
 * message it acknowledged (--lose). Then everyone comes back, the network drains, time passes for gaps to heal, and the
 * chat's promises are checked (invariants.ts).
 *
 * Everything but `timing` is a function of the options: the same seed gives the same report and
 * the same logs, byte for byte.
 */
import { Effect } from "effect"
import type { Command } from "../../domain/chat/decide.ts"
import type { UserId } from "../../domain/ids.ts"
import { defaultChatServiceOptions, type ChatServiceOptions } from "../../domain/service/chat-service.ts"
import { mulberry32 } from "../../domain/ports/id-source.port.ts"
import { SimWorld, type UserSnapshot } from "./harness.ts"
import { checkInvariants, type InvariantResult } from "./invariants.ts"
import type { SimOptions } from "./options.ts"
import { BURST_MAX, chooseCommand, groupNamesFor, pickWeighted, randomBelow, type Random } from "./workload.ts"

/**
 * What a step does. It delivers with probability ready / (ready + users): the larger the backlog,
 * the busier the broker, so the network neither starves nor grows without bound. Otherwise a user
 * acts or the clock moves on.
 */
export const deliveryProbability = (ready: number, users: number): number => ready / (ready + 3 * users)
export const ACTION_WEIGHTS = { command: 12, advance: 2 } as const
/** Above this many messages waiting for connected users, steps only deliver: backpressure. */
export const networkSoftLimit = (users: number): number => 200 * users

/** The most messages one delivery step hands a user. */
export const DELIVERY_BATCH_MAX = 8
/** A user away (closed chat or crashed) comes back after 1..this many steps. */
export const MAX_AWAY_STEPS = 400
/** Share of crashes that strike between storing a decision and publishing it (the others: at once). */
export const CRASH_BETWEEN_STORE_AND_PUBLISH = 0.5
/**
 * Most clock steps are a fraction of a second; this share are minutes, so requests time out.
 * Every 100 ms of simulated time wakes every online user's acknowledgement timer: simulated
 * time is what a run pays for, so the steps are short.
 */
export const LONG_PAUSE_PROBABILITY = 0.02
const SHORT_PAUSE_MAX_MS = 500
const LONG_PAUSE_MAX_MS = 150_000
/**
 * The service as the simulator runs it: requests time out after two minutes (a day in the chat),
 * so that the timeout path runs within minutes of simulated time; every timer is a real wake-up of
 * every user's fibers, so simulated hours cost real seconds.
 */
export const SIM_SERVICE_OPTIONS: ChatServiceOptions = { ...defaultChatServiceOptions, requestTimeoutMs: 2 * 60_000 }
/** Clock steps of gapWaitMs after the final drain: one to ask for a resend, one to give up, one spare. */
export const HEAL_ROUNDS = 3
/** Steps between progress reports. */
export const PROGRESS_EVERY_STEPS = 500

export interface Count {
  readonly label: string
  readonly count: number
}

/** What a run depends on: the options that change the simulation, and whether to time it. */
export type SimConfig = Omit<SimOptions, "json" | "logsDir">

export interface SimReport {
  readonly options: Omit<SimConfig, "timing">
  /** Set when the run was stopped early (Ctrl-C): the step it reached; the invariants were not checked. */
  readonly interruptedAtStep?: number
  readonly users: { readonly total: number; readonly offlineSpells: number; readonly partitions: number; readonly crashes: number; readonly crashesBetweenStoreAndPublish: number }
  readonly commands: {
    readonly total: number
    readonly accepted: number
    readonly rejected: number
    readonly acceptedByKind: ReadonlyArray<Count>
    readonly rejectedByReason: ReadonlyArray<Count>
  }
  /** Chat text: sent (stored by the sender) and delivered (shown to a reader), from the logs. */
  readonly messages: { readonly sent: number; readonly delivered: number; readonly due: number; readonly missing: number }
  readonly deliveries: {
    readonly total: number
    readonly duplicated: number
    readonly reordered: number
    /** Messages the broker acknowledged and lost (--lose). */
    readonly lostByTheBroker: number
    /** What the services refused or ignored, by reason (their own counters). */
    readonly droppedByReason: ReadonlyArray<Count>
    readonly peakWaiting: number
  }
  readonly records: { readonly total: number; readonly perUserMin: number; readonly perUserMax: number }
  readonly simulatedMs: number
  readonly steps: number
  readonly invariants: ReadonlyArray<InvariantResult>
  readonly ok: boolean
  readonly timing?: { readonly elapsedMs: number; readonly events: number; readonly eventsPerSecond: number }
}

export interface SimProgress {
  readonly step: number
  readonly steps: number
  readonly simulatedMs: number
  readonly sent: number
  readonly deliveries: number
  /** Commands and deliveries so far. */
  readonly events: number
}

export interface SimHooks {
  /** Called every PROGRESS_EVERY_STEPS steps. */
  readonly progress?: (progress: SimProgress) => void
  /** Polled every step: true stops the run where it is (the report says so). */
  readonly stopRequested?: () => boolean
  /** Wall clock for `timing` (performance.now by default). */
  readonly now?: () => number
}

/** Reasons name users and groups; counting them per id would scatter one cause over many rows. */
export const normaliseReason = (reason: string): string =>
  reason.replace(/user-[0-9]+/g, "<user>").replace(/room-[0-9]+/g, "<group>").replace(/[0-9]+/g, "<n>")

class Tally {
  private readonly counts = new Map<string, number>()
  add(key: string, by = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + by)
  }
  /** Most first; ties in key order, so the output does not depend on insertion order. */
  sorted(): ReadonlyArray<Count> {
    return [...this.counts].map(([label, count]) => ({ label, count })).sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
  }
}

export interface SimRun {
  readonly report: SimReport
  /** Every user's log and final state: for writing the logs out, and for tests. */
  readonly users: ReadonlyArray<UserSnapshot>
}

interface ReportInput {
  readonly options: SimConfig
  readonly counts: { readonly commands: number; readonly accepted: number; readonly deliveries: number; readonly duplicated: number; readonly reordered: number; readonly lost: number; readonly partitions: number; readonly offlineSpells: number; readonly crashes: number; readonly crashesStored: number; readonly peakWaiting: number; readonly sent: number }
  readonly users: ReadonlyArray<UserSnapshot>
  readonly invariants: ReadonlyArray<InvariantResult>
  readonly interrupted: boolean
  readonly step: number
  readonly elapsedMs: number
  readonly accepted: ReadonlyArray<Count>
  readonly rejected: ReadonlyArray<Count>
  readonly droppedByReason: Readonly<Record<string, number>>
  readonly simulatedMs: number
}

/** The report of a run from its counts, its users' logs and the invariants' verdicts. */
const makeReport = (input: ReportInput): SimReport => {
  const { options, counts, users, invariants, interrupted, elapsedMs } = input
  const audit = invariants.find((i) => i.name === "every message reached its receivers")?.figures
  const dropped = new Tally()
  for (const [reason, count] of Object.entries(input.droppedByReason)) dropped.add(normaliseReason(reason), count)
  const recordCounts = users.map((user) => user.log.length)
  const events = counts.commands + counts.deliveries
  return {
    options: { seed: options.seed, users: options.users, steps: options.steps, duplicate: options.duplicate, reorder: options.reorder, offline: options.offline, crash: options.crash, lose: options.lose, partition: options.partition },
    ...(interrupted ? { interruptedAtStep: input.step } : {}),
    users: { total: options.users, offlineSpells: counts.offlineSpells, partitions: counts.partitions, crashes: counts.crashes, crashesBetweenStoreAndPublish: counts.crashesStored },
    commands: { total: counts.commands, accepted: counts.accepted, rejected: counts.commands - counts.accepted, acceptedByKind: input.accepted, rejectedByReason: input.rejected },
    messages: { sent: counts.sent, delivered: audit?.received ?? 0, due: (audit?.received ?? 0) + (audit?.missing ?? 0), missing: audit?.missing ?? 0 },
    deliveries: { total: counts.deliveries, duplicated: counts.duplicated, reordered: counts.reordered, lostByTheBroker: counts.lost, droppedByReason: dropped.sorted(), peakWaiting: counts.peakWaiting },
    records: { total: recordCounts.reduce((a, b) => a + b, 0), perUserMin: Math.min(...recordCounts), perUserMax: Math.max(...recordCounts) },
    simulatedMs: input.simulatedMs,
    steps: input.step,
    invariants,
    ok: !interrupted && invariants.every((invariant) => invariant.ok),
    ...(options.timing ? { timing: { elapsedMs, events, eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : 0 } } : {}),
  }
}

/** The run, on a world of its own; resolves when the report is ready. */
export const simulate = async (options: SimConfig, hooks: SimHooks = {}): Promise<SimRun> => {
  const { world, runtime, ready } = SimWorld.open({ seed: options.seed, users: options.users, serviceOptions: SIM_SERVICE_OPTIONS })
  await ready
  try {
    return await runtime.runPromise(simulation(world, options, hooks))
  } finally {
    await runtime.dispose()
  }
}

const simulation = (world: SimWorld, options: SimConfig, hooks: SimHooks) => Effect.gen(function* () {
  const random: Random = mulberry32(options.seed ^ 0x51a1)
  const now = hooks.now ?? (() => performance.now())
  const groups = groupNamesFor(options.users)
  const ids: ReadonlyArray<UserId> = world.users.map((user) => user.id)
  const broker = world.broker
  const accepted = new Tally()
  const rejected = new Tally()
  const counts = { commands: 0, accepted: 0, deliveries: 0, duplicated: 0, reordered: 0, lost: 0, partitions: 0, offlineSpells: 0, crashes: 0, crashesStored: 0, peakWaiting: 0, texts: 0, sent: 0 }
  /** Step at which each away user comes back (undefined: here). */
  const backAt: Array<number | undefined> = ids.map(() => undefined)
  const startMs = yield* world.now
  const started = now()

  const waiting = (): number => broker.readyClients().reduce((sum, client) => sum + broker.queued(client), 0)

  const command = (index: number, kind: string, cmd: Command) => Effect.gen(function* () {
    counts.commands += 1
    const reason = yield* world.command(index, cmd)
    if (reason === null) {
      counts.accepted += 1
      accepted.add(kind)
      if (cmd._tag === "message.send") counts.sent += 1
    } else rejected.add(`${cmd._tag}: ${normaliseReason(reason)}`)
    return reason === null
  })

  /**
   * The broker hands one connected user a few of its waiting messages (1..DELIVERY_BATCH_MAX, as
   * a socket read would): which user and how many are the seed's; the first may be a later one
   * (reordering) and may stay queued to come again (a duplicate). Each is settled before the next.
   */
  const deliver = (reorder: boolean, duplicate: boolean, batch = 1 + randomBelow(random, DELIVERY_BATCH_MAX)) => Effect.gen(function* () {
    const clients = broker.readyClients()
    const client = clients[randomBelow(random, clients.length)]
    if (client === undefined) return false
    const index = world.indexOf(client)
    if (options.lose > 0 && random() < options.lose) {
      // The broker acknowledged this one and loses it: the sender's log says it went out.
      const queue = broker.waiting(client)
      const lost = queue[randomBelow(random, queue.length)]!
      counts.lost += broker.discard(client, (message) => message === lost)
      return true
    }
    for (let i = 0; i < batch; i++) {
      const queued = broker.queued(client)
      if (queued === 0) break
      const position = i === 0 && reorder && queued > 1 ? randomBelow(random, queued) : 0
      const keep = i === 0 && duplicate
      if (position !== 0) counts.reordered += 1
      if (keep) counts.duplicated += 1
      counts.deliveries += 1
      if (!(yield* world.deliver(index, position, keep))) break
    }
    return true
  })

  const comeBack = (index: number) => Effect.gen(function* () {
    backAt[index] = undefined
    if (world.cutOff.has(index)) return yield* world.heal(index)
    // A crash armed for the next append that never came: the process lived on.
    const life = world.user(index).life
    if (life !== null && !life.dead) {
      life.crashAfterAppend = false
      return
    }
    yield* world.start(index)
  })

  const goAway = (index: number, step: number, crash: boolean) => Effect.gen(function* () {
    backAt[index] = step + 1 + randomBelow(random, MAX_AWAY_STEPS)
    if (crash) {
      const betweenStoreAndPublish = random() < CRASH_BETWEEN_STORE_AND_PUBLISH
      counts.crashes += 1
      if (betweenStoreAndPublish) counts.crashesStored += 1
      yield* world.crash(index, betweenStoreAndPublish)
      return
    }
    counts.offlineSpells += 1
    yield* world.stop(index)
  })

  /** A user at the keyboard: one command, or a burst of messages in the same conversation. */
  const userAction = (step: number) => Effect.gen(function* () {
    // A user cut off from the network still types (its chat holds what it sends); one away does not.
    const online = world.users.filter((u) => world.online(u.index) && (backAt[u.index] === undefined || world.cutOff.has(u.index)))
    const user = online[randomBelow(random, online.length)]
    if (user === undefined) return
    const roll = random()
    if (roll < options.offline + options.crash) return yield* goAway(user.index, step, roll >= options.offline)
    if (roll < options.offline + options.crash + options.partition) {
      if (yield* world.partition(user.index)) {
        counts.partitions += 1
        backAt[user.index] = step + 1 + randomBelow(random, MAX_AWAY_STEPS)
      }
      return
    }
    const state = yield* world.state(user.index)
    if (state === undefined) return
    const choice = chooseCommand(random, user.id, state, ids.filter((id) => id !== user.id), groups, counts.texts++)
    const ok = yield* command(user.index, choice.kind, choice.command)
    if (!ok || choice.command._tag !== "message.send") return
    const burst = randomBelow(random, BURST_MAX)
    for (let i = 0; i < burst && world.online(user.index); i++) {
      yield* command(user.index, choice.kind, { ...choice.command, text: `${choice.command.text}.${i + 1}` })
    }
  })

  const advanceClock = () => {
    const long = random() < LONG_PAUSE_PROBABILITY
    return world.advance(long ? SHORT_PAUSE_MAX_MS + randomBelow(random, LONG_PAUSE_MAX_MS) : 1 + randomBelow(random, SHORT_PAUSE_MAX_MS))
  }

  const softLimit = networkSoftLimit(options.users)
  /** Delivers in order while more than `limit` wait (bounded by the world's own drain bound). */
  const drainDownTo = (limit: number) => Effect.gen(function* () {
    while (waiting() > limit) if (!(yield* deliver(false, false, DELIVERY_BATCH_MAX))) return
  })
  // Presence fans out to everyone: users arrive one at a time, the broker catching up past the soft limit.
  for (const user of world.users) {
    yield* world.start(user.index)
    yield* drainDownTo(softLimit)
  }
  let step = 0
  let interrupted = false
  for (; step < options.steps; step++) {
    if (hooks.stopRequested?.() === true) {
      interrupted = true
      break
    }
    if (step % PROGRESS_EVERY_STEPS === 0) hooks.progress?.({ step, steps: options.steps, simulatedMs: (yield* world.now) - startMs, sent: counts.sent, deliveries: counts.deliveries, events: counts.commands + counts.deliveries })
    for (let index = 0; index < backAt.length; index++) {
      const at = backAt[index]
      if (at !== undefined && at <= step) yield* comeBack(index)
    }
    const ready = waiting()
    counts.peakWaiting = Math.max(counts.peakWaiting, ready)
    if (ready >= softLimit) {
      yield* deliver(false, false, DELIVERY_BATCH_MAX)
      continue
    }
    if (random() < deliveryProbability(ready, options.users)) {
      const reorder = random() < options.reorder
      const duplicate = random() < options.duplicate
      yield* deliver(reorder, duplicate)
    } else if (pickWeighted(random, ACTION_WEIGHTS) === "advance") yield* advanceClock()
    else yield* userAction(step)
  }
  if (!interrupted) {
    // The network heals: everyone back, everything delivered in order, time for held gaps to resolve.
    for (let index = 0; index < backAt.length; index++) yield* comeBack(index)
    for (const index of [...world.cutOff]) yield* world.heal(index)
    for (const user of world.users) if (!world.online(user.index)) yield* world.start(user.index)
    yield* world.drain
    for (let round = 0; round < HEAL_ROUNDS; round++) {
      yield* world.advance(SIM_SERVICE_OPTIONS.gapWaitMs)
      yield* world.drain
    }
  }
  const elapsedMs = now() - started
  const users = yield* world.snapshot
  const invariants = interrupted ? [] : checkInvariants(users, waiting(), groups)
  const report = makeReport({
    options, counts, users, invariants, interrupted, step, elapsedMs,
    accepted: accepted.sorted(),
    rejected: rejected.sorted(),
    droppedByReason: yield* world.droppedByReason,
    simulatedMs: (yield* world.now) - startMs,
  })
  yield* world.close
  return { report, users }
})
