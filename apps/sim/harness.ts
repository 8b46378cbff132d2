/**
 * The one engine of the simulator and the tests: N real ChatServices, composed as the chat composes
 * them (domain/service/compose.ts), over one in-memory broker (adapters/sim-network/memory-broker.ts)
 * that routes by subscription, keeps retained messages and persistent sessions' QoS 1 queues, and
 * publishes Last Wills. Each user has a memory log that outlives its restarts, seeded ids and keys,
 * and every service runs on ONE TestClock: timestamps and the service's timers (ack flush, gap and
 * timeout sweeps) move only when the world advances time.
 *
 * Nothing here decides or folds: the services do. The world only starts, stops and crashes them,
 * hands the broker's messages over one at a time (the caller picks which, for reordering and
 * duplication), and waits until every fiber is idle (`settle`): a scheduler that counts the tasks
 * it has queued says when nothing is left to run. No sleeps, no wall clock.
 */
import { Cause, Clock, Context, Effect, Exit, Fiber, Layer, ManagedRuntime, Scheduler, Scope, Stream } from "effect"
import { runCommand } from "./run-command.ts"
import { QuietScheduler } from "./quiet-scheduler.ts"
import { TestClock } from "effect/testing"
import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { MemoryBroker, memoryTransportLayer, type MemoryBrokerOptions } from "../../adapters/sim-network/memory-broker.ts"
import { NodeCrypto } from "../../adapters/system/node-crypto.ts"
import type { ChatState } from "../../domain/chat/chat-state.ts"
import type { Command } from "../../domain/chat/decide.ts"
import type { LogRecord } from "../../domain/events.ts"
import type { UserId } from "../../domain/ids.ts"
import { WallClock } from "../../domain/ports/clock.port.ts"
import { EventLog, EventLogError } from "../../domain/ports/event-log.port.ts"
import { IdSource, seededIdSource } from "../../domain/ports/id-source.port.ts"
import { IdentityStore } from "../../domain/ports/identity-store.port.ts"
import type { StoredIdentity } from "../../domain/trust/identity.ts"
import { ChatService, defaultChatServiceOptions, type ChatNotice, type ChatServiceOptions } from "../../domain/service/chat-service.ts"
import { chatServiceLayer } from "../../domain/service/compose.ts"

/** Where simulated time starts (ms since the epoch): a plausible date, the same for every run. */
export const SIM_START_MS = 1_700_000_000_000
/** The i-th virtual user's id: fixed, so a seed's logs name the same users. */
export const simUserId = (index: number): UserId => `user-${10001 + index}` as UserId
/** Bound on the scheduler turns one `settle` may take: beyond it, something loops. */
const MAX_SETTLE_TURNS = 1_000_000
/** Bound on the deliveries of one `drain`: beyond it, a message storm. */
const MAX_DRAIN_DELIVERIES = 5_000_000
/** Notices kept per user (the newest are dropped beyond it). */
const MAX_NOTICES = 10_000

/** A mix of the world's seed and a user's index: each user draws its own ids and keys. */
const userSeed = (seed: number, index: number, salt: number): number => (Math.imul(seed ^ salt, 0x9e3779b1) + index * 0x85ebca6b) >>> 0

interface Life {
  readonly scope: Scope.Closeable
  readonly service: ChatService["Service"]
  /** The process died: its log takes no more writes, its connection is gone. */
  dead: boolean
  /** Die right after the next append returns (stored, not yet published). */
  crashAfterAppend: boolean
}

export interface VirtualUser {
  readonly index: number
  readonly id: UserId
  /** Survives restarts: the profile's log, its identity, its id source. */
  readonly log: EventLog["Service"]
  readonly identity: { current: StoredIdentity | null }
  readonly ids: IdSource["Service"]
  readonly cryptoSeed: number
  readonly notices: ChatNotice[]
  life: Life | null
  /** Starts so far (1 = the profile was created). */
  starts: number
  crashes: number
}

/** A user's log and state as the invariants and the replay tools take them. */
export interface UserSnapshot {
  readonly id: UserId
  readonly log: ReadonlyArray<LogRecord>
  /** The live service's state, or the state it stopped with (folded by nobody here). */
  readonly state: ChatState
  readonly online: boolean
}

export interface WorldOptions {
  readonly seed: number
  readonly users: number
  readonly startMs?: number
  readonly serviceOptions?: ChatServiceOptions
  readonly broker?: Omit<MemoryBrokerOptions, "autoFlush">
}

/** The log as the service sees it: refuses every write once the process has died. */
const mortalLog = (log: EventLog["Service"], user: VirtualUser, broker: MemoryBroker, life: () => Life | null): EventLog["Service"] =>
  EventLog.of({
    ...log,
    append: (entries) =>
      Effect.suspend(() => {
        const current = life()
        if (current?.dead === true) return Effect.fail(new EventLogError({ reason: "io", message: "the process died" }))
        return log.append(entries).pipe(Effect.tap(() => Effect.sync(() => {
          if (current === null || !current.crashAfterAppend) return
          // Stored and fsynced; the process dies before it can publish what it stored.
          current.dead = true
          broker.crash(user.id)
        })))
      }),
  })

export class SimWorld {
  readonly broker: MemoryBroker
  readonly users: ReadonlyArray<VirtualUser>
  private stoppedStates = new Map<number, ChatState>()

  private constructor(readonly options: WorldOptions, private readonly quiet: QuietScheduler) {
    this.broker = new MemoryBroker({ ...options.broker, seed: options.seed, autoFlush: false })
    this.users = Array.from({ length: options.users }, (_, index): VirtualUser => ({
      index,
      id: simUserId(index),
      log: Effect.runSync(Effect.scoped(Layer.build(MemoryEventLog.layer).pipe(Effect.map((context) => Context.get(context, EventLog))))),
      identity: { current: null },
      ids: (() => {
        const drawn = seededIdSource(userSeed(options.seed, index, 0x1d5))
        return IdSource.of({ newUserId: Effect.succeed(simUserId(index)), newMessageId: drawn.newMessageId })
      })(),
      cryptoSeed: userSeed(options.seed, index, 0xc4e),
      notices: [],
      life: null,
      starts: 0,
      crashes: 0,
    }))
  }

  /** A world and the runtime that runs it (TestClock at `startMs`, the counting scheduler). */
  static readonly open = (options: WorldOptions) => {
    const quiet = new QuietScheduler()
    const runtime = ManagedRuntime.make(
      TestClock.layer({ warningDelay: "1 day" }).pipe(Layer.provide(Layer.succeed(Scheduler.Scheduler, quiet))),
    )
    const world = new SimWorld(options, quiet)
    return { world, runtime, ready: runtime.runPromise(TestClock.setTime(options.startMs ?? SIM_START_MS)) }
  }

  user(index: number): VirtualUser {
    const user = this.users[index]
    if (user === undefined) throw new Error(`no user ${index} (the world has ${this.users.length})`)
    return user
  }

  indexOf(id: string): number {
    const index = this.users.findIndex((u) => u.id === id)
    if (index < 0) throw new Error(`unknown user ${id}`)
    return index
  }

  online(index: number): boolean {
    const life = this.user(index).life
    return life !== null && !life.dead
  }

  /** Simulated time (ms since the epoch): the TestClock every service reads. */
  readonly now: Effect.Effect<number> = Clock.currentTimeMillis

  /** The services' drops by reason (their own counters), over every life of every user. */
  private readonly retiredDrops = new Map<string, number>()
  private retire(service: ChatService["Service"]): Effect.Effect<void> {
    return Effect.map(service.stats, (stats) => {
      for (const [reason, count] of Object.entries(stats.droppedByReason)) this.retiredDrops.set(reason, (this.retiredDrops.get(reason) ?? 0) + count)
    })
  }
  readonly droppedByReason: Effect.Effect<Readonly<Record<string, number>>> = Effect.gen({ self: this }, function* () {
    const totals = new Map(this.retiredDrops)
    for (const user of this.users) {
      if (user.life === null) continue
      const stats = yield* user.life.service.stats
      for (const [reason, count] of Object.entries(stats.droppedByReason)) totals.set(reason, (totals.get(reason) ?? 0) + count)
    }
    return Object.fromEntries([...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  })

  /** Runs the scheduler until no fiber has work left (bounded). */
  readonly settle: Effect.Effect<void> = Effect.gen({ self: this }, function* () {
    for (let turn = 0; turn < MAX_SETTLE_TURNS; turn++) {
      yield* Effect.yieldNow
      if (this.quiet.pending === 0) {
        yield* this.buryTheDead
        if (this.quiet.pending === 0) return
      }
    }
    return yield* Effect.die(new Error(`the services did not settle in ${MAX_SETTLE_TURNS} scheduler turns`))
  })

  /** Closes the scopes of users whose process died (their service can do nothing more). */
  private readonly buryTheDead: Effect.Effect<void> = Effect.gen({ self: this }, function* () {
    for (const user of this.users) {
      const life = user.life
      if (life === null || !life.dead) continue
      user.life = null
      this.cutOff.delete(user.index)
      this.stoppedStates.set(user.index, yield* life.service.state)
      yield* this.retire(life.service)
      yield* Scope.close(life.scope, Exit.void)
    }
  })

  /** Starts (or restarts from its log) user `index`'s chat. A failure to start is a finding. */
  start(index: number): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      const user = this.user(index)
      if (user.life !== null) return
      const scope = yield* Scope.make()
      const broker = this.broker
      let life: Life | null = null
      const layer = chatServiceLayer({
        log: Layer.succeed(EventLog, mortalLog(user.log, user, broker, () => life)),
        clock: WallClock.layer,
        ids: Layer.succeed(IdSource, user.ids),
        crypto: NodeCrypto.layerSeeded(user.cryptoSeed),
        identities: IdentityStore.layerMemory(user.identity),
        transport: (profile) => memoryTransportLayer(broker, { clientId: profile.me, will: profile.willFor }),
        options: this.options.serviceOptions ?? defaultChatServiceOptions,
      })
      const context = yield* Layer.buildWithScope(layer, scope).pipe(
        Effect.catchCause((cause) => Effect.die(new Error(`${user.id} could not start: ${Cause.pretty(cause)}`))),
      )
      const service = Context.get(context, ChatService)
      life = { scope, service, dead: false, crashAfterAppend: false }
      user.life = life
      user.starts += 1
      this.stoppedStates.delete(index)
      yield* service.notices.pipe(
        Stream.runForEach((notice) => Effect.sync(() => {
          if (user.notices.length < MAX_NOTICES) user.notices.push(notice)
        })),
        Effect.forkIn(scope),
      )
      yield* this.settle
    })
  }

  /** The user closes the chat: offline announced, session ended, connection closed cleanly. */
  stop(index: number): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      const user = this.user(index)
      const life = user.life
      if (life === null) return
      // A chat closed while cut off cannot say goodbye: its Will already spoke for it.
      this.cutOff.delete(index)
      yield* life.service.shutdown()
      this.stoppedStates.set(index, yield* life.service.state)
      user.life = null
      yield* this.retire(life.service)
      yield* Scope.close(life.scope, Exit.void)
      yield* this.settle
    })
  }

  /**
   * The process dies: now (`afterNextAppend` false), or right after its next append, between
   * storing a decision and publishing it. The broker publishes its Will; its log keeps what was
   * stored; it comes back with `start`.
   */
  crash(index: number, afterNextAppend = false): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      const user = this.user(index)
      const life = user.life
      if (life === null || life.dead) return
      user.crashes += 1
      if (afterNextAppend) {
        life.crashAfterAppend = true
        return
      }
      life.dead = true
      this.cutOff.delete(index)
      this.stoppedStates.set(index, yield* life.service.state)
      this.broker.crash(user.id)
      yield* this.settle
    })
  }

  /** Users cut off from the broker, their chat still running (partition). */
  readonly cutOff = new Set<number>()

  /**
   * The network between user `index` and the broker breaks: the broker publishes its Will and
   * queues for it, its chat keeps running and holds what it publishes until `heal`.
   */
  partition(index: number): Effect.Effect<boolean> {
    return Effect.gen({ self: this }, function* () {
      if (!this.online(index) || this.cutOff.has(index)) return false
      if (!this.broker.partition(this.user(index).id)) return false
      this.cutOff.add(index)
      yield* this.settle
      return true
    })
  }

  /** The network is back for user `index`: its transport connects again (the next connection number). */
  heal(index: number): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      if (!this.cutOff.delete(index)) return
      this.broker.heal(this.user(index).id)
      yield* this.settle
    })
  }

  /** A user's command through the service's API, as the terminal UI gives it. Null, or why it was refused. */
  command(index: number, command: Command): Effect.Effect<string | null> {
    return Effect.gen({ self: this }, function* () {
      const user = this.user(index)
      if (command._tag === "session.start") {
        yield* this.start(index)
        return null
      }
      if (command._tag === "session.end") {
        yield* this.stop(index)
        return null
      }
      const life = user.life
      if (life === null || life.dead) return "offline"
      const outcome = yield* Effect.forkChild(runCommand(life.service, command).pipe(Effect.result))
      yield* this.settle
      const result = yield* Fiber.join(outcome)
      return result._tag === "Success" ? null : result.failure
    })
  }

  /** Hands user `index` the message at `position` of its queue (`keep`: it stays, a duplicate), then settles. */
  deliver(index: number, position: number, keep = false): Effect.Effect<boolean> {
    return Effect.gen({ self: this }, function* () {
      const delivered = this.broker.deliverOne(this.user(index).id, position, keep)
      if (delivered) yield* this.settle
      return delivered
    })
  }

  /** Delivers everything deliverable, oldest first, until the broker and every service are idle. */
  readonly drain: Effect.Effect<number> = Effect.gen({ self: this }, function* () {
    let delivered = 0
    yield* this.settle
    while (delivered < MAX_DRAIN_DELIVERIES) {
      const ready = this.broker.readyClients()
      if (ready.length === 0) return delivered
      for (const client of ready) {
        while (this.broker.deliverOne(client, 0)) delivered += 1
      }
      yield* this.settle
    }
    return yield* Effect.die(new Error(`drain: over ${MAX_DRAIN_DELIVERIES} deliveries, a message storm`))
  })

  /** Moves the one clock: every timer due runs, in order; then everything settles. */
  advance(ms: number): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      if (!(ms >= 0)) return yield* Effect.die(new Error(`time only moves forward, not by ${ms}`))
      yield* this.settle
      yield* TestClock.adjust(ms)
      yield* this.settle
    })
  }

  /** Every record of user `index`'s log, read back from the log (not from the service). */
  records(index: number): Effect.Effect<ReadonlyArray<LogRecord>> {
    return this.user(index).log.replay().pipe(Stream.runCollect, Effect.orDie)
  }

  /** The live state, or the one it stopped with; undefined before its first start. */
  state(index: number): Effect.Effect<ChatState | undefined> {
    const life = this.user(index).life
    return life !== null && !life.dead ? life.service.state : Effect.succeed(this.stoppedStates.get(index))
  }

  /** Every started user's log and state. */
  readonly snapshot: Effect.Effect<ReadonlyArray<UserSnapshot>> = Effect.gen({ self: this }, function* () {
    const out: UserSnapshot[] = []
    for (const user of this.users) {
      const state = yield* this.state(user.index)
      if (state === undefined) continue
      out.push({ id: user.id, log: yield* this.records(user.index), state, online: this.online(user.index) })
    }
    return out
  })

  /** Every user's chat closed cleanly. */
  readonly close: Effect.Effect<void> = Effect.gen({ self: this }, function* () {
    for (const user of this.users) yield* this.stop(user.index)
  })
}

