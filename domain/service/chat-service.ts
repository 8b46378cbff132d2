/**
 * The application service: the one API the terminal UI, the simulator and the tests use. It wires
 * the pure core (decide / evolve) to the ports: every decision is appended to the log (durable)
 * BEFORE its wire messages are published, then folded into the state. One decision loop takes the
 * queued work in order and stores each batch with one append; nothing here does I/O except through
 * ports.
 */
import { Context, Deferred, Effect, Layer, PubSub, Queue, Result, Scope, Stream } from "effect"
import { evolve, type AcceptanceEntry, type ChatState, type RequestEntry } from "../chat/chat-state.ts"
import { decideCommand, decideGaps, groupInfoOut, interpretResend, presenceOut, resendable, type ChatTarget, type Command, type DecisionContext } from "../chat/decide.ts"
import { ledGroups, spoilsMyRetained, type RetainedOwner } from "../chat/retained.ts"
import type { LogEntry, LogRecord, Outgoing } from "../events.ts"
import { GroupName, parseTopic, topics, UserId, type MessageId, type Topic } from "../ids.ts"
import { EventLog, EventLogError } from "../ports/event-log.port.ts"
import { WallClock } from "../ports/clock.port.ts"
import { IdSource } from "../ports/id-source.port.ts"
import { Transport, TransportError, type ConnectionState, type Incoming } from "../ports/transport.port.ts"
import { Crypto } from "../ports/crypto.port.ts"
import { decideKeyChange, decideOpened } from "../trust/decide-trust.ts"
import { DropTally, type DropReport } from "./drop-tally.ts"
import { defaultStrangerLimits, laneOf, StoreBudget, StrangerLane, type StrangerLimits } from "./lanes.ts"
import { OwnEchoes } from "./own-echoes.ts"
import { historyPage, listGroups, listUsers, searchHistory, whoIs } from "./chat-queries.ts"
import { Profile } from "./profile.ts"
import { subjectOf, subscriptionChanges } from "./subscriptions.ts"
import { AWAITING_GROUP_MS, AwaitingGroup, isNotYetReadable } from "./awaiting-group.ts"

export { CommandRejected, defaultChatServiceOptions, messageOf, parseGroup, parseUser, type ChatMessage, type ChatNotice, type ChatServiceOptions, type GroupListing, type UserListing, type WhoIs } from "./chat-api.ts"
import { CommandRejected, defaultChatServiceOptions, messageOf, parseGroup, parseUser, type ChatMessage, type ChatNotice, type ChatServiceOptions, type GroupListing, type UserListing, type WhoIs } from "./chat-api.ts"

/** Acknowledgements are logged in batches: one record per batch, not per message. */
const ACK_FLUSH_MS = 100


export class ChatService extends Context.Service<ChatService, {
  readonly me: UserId
  readonly state: Effect.Effect<ChatState>
  readonly notices: Stream.Stream<ChatNotice>
  readonly connection: Effect.Effect<ConnectionState>
  listUsers(): Effect.Effect<ReadonlyArray<UserListing>>
  listGroups(): Effect.Effect<ReadonlyArray<GroupListing>>
  createGroup(name: string): Effect.Effect<void, CommandRejected>
  joinGroup(name: string): Effect.Effect<void, CommandRejected>
  acceptJoin(group: string, user: string): Effect.Effect<void, CommandRejected>
  refuseJoin(group: string, user: string, reason?: string): Effect.Effect<void, CommandRejected>
  leaveGroup(name: string): Effect.Effect<void, CommandRejected>
  startConversation(peer: string): Effect.Effect<void, CommandRejected>
  acceptConversation(peer: string): Effect.Effect<void, CommandRejected>
  refuseConversation(peer: string, reason?: string): Effect.Effect<void, CommandRejected>
  leaveConversation(peer: string): Effect.Effect<void, CommandRejected>
  /** Puts an ended conversation out of sight (/close): no longer listed, until either side moves again. */
  closeConversation(peer: string): Effect.Effect<void, CommandRejected>
  send(target: ChatTarget, text: string): Effect.Effect<ChatMessage, CommandRejected>
  /** Requests received (one-to-one and join requests), oldest first. */
  requests(): Effect.Effect<ReadonlyArray<RequestEntry>>
  /** Acceptances, with the topic each opened. */
  acceptances(): Effect.Effect<ReadonlyArray<AcceptanceEntry>>
  /** A conversation's messages, newest page; `beforeSeq` pages back. */
  history(target: ChatTarget, options: { readonly beforeSeq?: number; readonly limit: number }): Effect.Effect<{ readonly messages: ReadonlyArray<ChatMessage>; readonly hasMore: boolean }, CommandRejected>
  /**
   * Messages of a conversation whose text contains `query` (case-insensitive), newest first, at most
   * `limit`; looks back through at most SEARCH_MAX_MESSAGES messages.
   */
  search(target: ChatTarget, query: string, options: { readonly limit: number }): Effect.Effect<{ readonly matches: ReadonlyArray<ChatMessage>; readonly searched: number; readonly complete: boolean }, CommandRejected>
  /** A user's keys as pinned here, their fingerprint and our safety number; a change waiting for a decision. */
  whois(user: string): Effect.Effect<WhoIs, CommandRejected>
  /** Accepts a user's changed keys (compare the safety number first). */
  trustKeys(user: string): Effect.Effect<void, CommandRejected>
  /** Publishes offline and disconnects cleanly. */
  shutdown(): Effect.Effect<void>
  /** Parsing helpers for user input (CLI, slash commands). */
  parseUser(input: string): Effect.Effect<UserId, CommandRejected>
  parseGroup(input: string): Effect.Effect<GroupName, CommandRejected>
  /** Counters for diagnostics and tests. */
  readonly stats: Effect.Effect<{
    /** Malformed, misrouted, refused or over-budget input (reported as `dropped` notices, at most 10 a second and a summary). */
    readonly dropped: number
    /** The same drops (and the routine ones), by reason without ids. */
    readonly droppedByReason: Readonly<Record<string, number>>
    /** The strangers' lane (lanes.ts): waiting now, decided so far, and peers' messages decided while strangers waited. */
    readonly strangers: { readonly waiting: number; readonly decided: number; readonly overtaken: number }
    /** Routine traffic that changes nothing: my own echoes, duplicates, repeats. No notice. */
    readonly ignored: number
    readonly received: number
    readonly published: number
    readonly acked: number
  }>
}>()("mqtt-chat/domain/service/ChatService") {
  static readonly layer = (options: ChatServiceOptions = defaultChatServiceOptions) => Layer.effect(ChatService, makeChatService(options))
}

/** `heldSince`: when it first waited for its group's information (awaiting-group.ts). */
type IncomingJob = { readonly _tag: "incoming"; readonly incoming: Incoming; readonly stranger?: string; readonly heldSince?: number }

/** One unit of work for the decision loop. */
type Job =
  | { readonly _tag: "command"; readonly command: Command; readonly done: Deferred.Deferred<LogRecord, CommandRejected> }
  /** `stranger`: the sender (as claimed) when it came through the strangers' lane. */
  | IncomingJob
  | { readonly _tag: "acks" }
  /** Strangers' messages wait in their lane: take some (the loop would otherwise sleep on an empty queue). */
  | { readonly _tag: "strangers" }
  /** Show messages held behind a gap that did not fill in time. */
  | { readonly _tag: "gaps" }


/** A retained copy of mine is published again at most this often (see `repairs`). */
const REPAIR_INTERVAL_MS = 1000

/** Resend requests answered at once; more are dropped (their readers give the gap up after a wait). */
const MAX_CONCURRENT_RESENDS = 8

/** How far back a resend request is looked up: 20 pages of 1,000 messages. */
const RESEND_MAX_PAGES = 20

/** The log port's bound on one append (adapters/storage/log-rules.ts enforces it). */
const MAX_ENTRIES_PER_APPEND = 1024

const chunks = <A>(items: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

/** Why a job stored nothing; `routine` ones (see decide.ts) are counted, not reported. */
interface Refusal {
  readonly reason: string
  readonly routine: boolean
}

const refusal = (reason: string): Refusal => ({ reason, routine: false })

/** Outbox entries remembered as waiting for a key; beyond this they wait for the next start. */
const MAX_UNSEALED = 10_000

/** Jobs decided together and stored with ONE append (one fsync): the service-level group commit. */
const MAX_BATCH = 256
/** Bound on queued work: a flood of incoming messages waits here, and the transport waits for room. */
const MAX_QUEUED_JOBS = 10_000

const makeChatService = Effect.fnUntraced(function* (options: ChatServiceOptions) {
  const profile = yield* Profile
  const log = yield* EventLog
  const transport = yield* Transport
  const clock = yield* WallClock
  const ids = yield* IdSource
  const crypto = yield* Crypto
  const channel = profile.channel
  const scope = yield* Scope.Scope
  const me = profile.me
  const work = yield* Queue.bounded<Job>(MAX_QUEUED_JOBS)
  const notices = yield* PubSub.sliding<ChatNotice>(4096)
  const acks: MessageId[] = []
  /** Resend requests found in the current batch: answered from the log once it is stored. */
  const resendRequests: Array<{ readonly topic: Topic; readonly missing: ReadonlyArray<number> }> = []
  let resendsRunning = 0
  /**
   * Retained copies of mine seen erased or overwritten, published again after the batch; at most
   * once a REPAIR_INTERVAL_MS per copy (the sweep publishes what had to wait): an attacker erasing
   * in a loop, or a second profile with my id, costs one publish a second, not a storm.
   */
  const repairs = new Map<string, RetainedOwner>()
  const lastRepairAt = new Map<string, number>()
  const counters = { dropped: 0, ignored: 0, received: 0, published: 0, acked: 0 }
  const limits: StrangerLimits = { ...defaultStrangerLimits, ...options.strangers }
  const strangers = new StrangerLane<Job>(limits)
  const storeBudget = new StoreBudget(limits, yield* clock.now)
  const tally = new DropTally()
  const strangerCounters = { decided: 0, overtaken: 0 }
  /** A `strangers` job is in `work`. */
  let strangersWaking = false
  const subscribed = new Set<string>()
  let state: ChatState = profile.restored
  let closing = false
  let currentConnection = 0
  /** When the current connection was made (ms), or null while disconnected. */
  let connectedSince: number | null = null

  // Pure code draws ids through a callback: take them from the injected source.
  const newMessageId = () => Effect.runSync(ids.newMessageId)
  const decisionContext = Effect.map(clock.now, (now): DecisionContext => ({ now, newMessageId }))

  const notify = (notice: ChatNotice) => PubSub.publish(notices, notice).pipe(Effect.asVoid)

  /** Topics this state needs: my control topic, the directories, every open conversation and group. */
  const desiredSubscriptions = (current: ChatState): Set<string> => {
    const wanted = new Set<string>([topics.control(me), topics.globalControl, topics.presenceWildcard, topics.groupInfoWildcard])
    for (const snapshot of current.conversations.values()) {
      const view = snapshot.value
      if (view === "active" || view === "outgoing") wanted.add(snapshot.context.topic)
    }
    for (const snapshot of current.groups.values()) {
      const view = snapshot.value
      if (view === "member" || view === "leading") wanted.add(topics.groupTalk(snapshot.context.name as GroupName))
    }
    return wanted
  }

  /** The whole set at start; after a batch only the conversations and groups its records touched. */
  const syncSubscriptions = (records?: ReadonlyArray<LogRecord>) => Effect.gen(function* () {
    const { add, remove } = records === undefined
      ? ((wanted) => ({ add: [...wanted].filter((t) => !subscribed.has(t)) as Topic[], remove: [...subscribed].filter((t) => !wanted.has(t)) as Topic[] }))(desiredSubscriptions(state))
      : subscriptionChanges(state, me, records, subscribed)
    if (add.length > 0) {
      yield* transport.subscribe(add)
      for (const t of add) subscribed.add(t)
    }
    if (remove.length > 0) {
      yield* transport.unsubscribe(remove)
      for (const t of remove) subscribed.delete(t)
    }
  }).pipe(Effect.catch((error) => notify({ _tag: "error", message: `subscription: ${error.message}` })))

  /** Publishes in order; the broker's acknowledgement is logged later, in a batch. */
  const publishAll = (outs: ReadonlyArray<Outgoing>) =>
    Effect.forEach(outs, (out) =>
      sealed(out).pipe(
        Effect.flatMap((payload) => transport.publish(out.topic, payload, { retain: out.retain })),
        Effect.tap(() =>
          Effect.sync(() => {
            counters.acked += 1
            if (out.envelope.body._tag !== "presence" && acks.length < 100_000) acks.push(out.envelope.id)
          }),
        ),
        // The UI marks the message sent (until now it showed it pending).
        Effect.tap(() => (out.envelope.body._tag === "chat.message" || out.envelope.body._tag === "group.message" ? notify({ _tag: "published", id: out.envelope.id }) : Effect.void)),
        Effect.catch((error) => notify({ _tag: "error", message: `publish to ${out.topic}: ${error.message}` })),
        // Start now, in call order: MQTT.js queues publishes in the order they are made.
        Effect.forkIn(scope, { startImmediately: true }),
        Effect.tap(() => Effect.sync(() => { counters.published += 1 })),
      ), { discard: true })

  /**
   * Signed (and for chat text, encrypted) with the state as stored. What cannot be sealed yet (no key
   * of the peer) stays in the outbox: it goes out with the next start.
   */
  const sealed = (out: Outgoing) =>
    Effect.suspend(() => {
      const bytes = channel.seal(state, out)
      if (Result.isSuccess(bytes)) {
        echoes.sealed(out.topic, bytes.success)
        return Effect.succeed(bytes.success)
      }
      if (unsealed.size < MAX_UNSEALED) unsealed.add(out.envelope.id)
      return Effect.fail(new TransportError({ reason: "rejected", message: bytes.failure }))
    })
  /** Frames of mine on talk topics whose echo has not come back yet (own-echoes.ts). */
  const echoes = new OwnEchoes()

  /** Group messages that came before their key or their sender's membership (awaiting-group.ts). */
  const awaiting = new AwaitingGroup<IncomingJob>()
  /** A refusal that means "not yet" for a group message: the frame waits, counted as routine. */
  const awaitGroupOr = (job: IncomingJob, refused: Refusal, now: number): Refusal => {
    const where = parseTopic(job.incoming.topic)
    if (where.kind !== "groupTalk" || !isNotYetReadable(refused.reason)) return refused
    for (const pushed of awaiting.hold(where.group, job, refused.reason, job.heldSince ?? now)) tally.count(`${pushed.reason} (pushed out while waiting)`)
    return { reason: "group message waiting for the group's key or members", routine: true }
  }
  /** What waited for a group about which a record was just stored is decided again, after this batch. */
  const releaseAwaiting = (records: ReadonlyArray<LogRecord>): void => {
    if (awaiting.size === 0) return
    const groups = new Set<string>()
    for (const { event } of records) {
      const subject = subjectOf(event)
      if (subject !== null && "group" in subject) groups.add(subject.group)
      if (event._tag === "group.key.received") groups.add(event.group)
    }
    for (const group of groups) {
      const released = awaiting.release(group)
      const jobs = released.map((waiting): IncomingJob => ({ ...waiting.item, heldSince: waiting.since }))
      // Never wait for room here: this loop is the queue's only consumer. What does not fit waits again.
      const refused = new Set(Queue.offerAllUnsafe(work, jobs))
      released.forEach((waiting, i) => {
        if (refused.has(jobs[i]!)) awaiting.hold(group, jobs[i]!, waiting.reason, waiting.since)
      })
    }
  }
  /** Outbox entries that could not be sealed (a peer's or group's key missing): tried again when keys arrive. */
  const unsealed = new Set<MessageId>()
  const retryUnsealed = Effect.suspend(() => {
    if (unsealed.size === 0) return Effect.void
    const waiting = state.outbox.values().filter((out) => unsealed.has(out.envelope.id))
    unsealed.clear()
    return publishAll(waiting)
  })

  /** Key changes seen in the current batch: reported once the batch is done. */
  const keyWarnings: Array<{ readonly topic: string; readonly reason: string }> = []
  /** My presence as announced on the current connection, or null while not connected. */
  const myPresence = () => (connectedSince !== null && state.online && !closing ? { session: state.session, connection: currentConnection } : null)

  const noteRetained = (current: ChatState, topic: string, env: Parameters<typeof spoilsMyRetained>[2]) => {
    const owner = spoilsMyRetained(current, topic, env, myPresence())
    if (owner !== null) repairs.set(owner.kind === "presence" ? "presence" : owner.group, owner)
  }

  /** Publishes the repairs that are due; the others wait for the sweep. */
  const flushRepairs = Effect.gen(function* () {
    if (repairs.size === 0) return
    const now = yield* clock.now
    const due: RetainedOwner[] = []
    for (const [key, owner] of repairs) {
      if (now - (lastRepairAt.get(key) ?? -Infinity) < REPAIR_INTERVAL_MS) continue
      repairs.delete(key)
      lastRepairAt.set(key, now)
      due.push(owner)
    }
    if (due.length > 0) yield* publishAll(retainedCopies(due, yield* decisionContext))
  })

  /** What I own that is retained, as it stands: my presence, or a group I lead (retained.ts). */
  const retainedCopies = (owners: Iterable<RetainedOwner>, context: DecisionContext): ReadonlyArray<Outgoing> => {
    const position = myPresence()
    return [...owners].flatMap((owner) =>
      owner.kind === "group" ? groupInfoOut(state, state.clock, context, owner.group)
      : position === null ? []
      : presenceOut(state, state.clock, context, "online", position).filter((out) => out.retain))
  }

  /** Decides one job against the provisional state; returns the entries to store (often one). */
  const decideJob = (job: Job, provisional: ChatState, context: DecisionContext): Result.Result<ReadonlyArray<LogEntry>, Refusal> => {
    switch (job._tag) {
      case "command": {
        const decided = decideCommand(provisional, job.command, context)
        return Result.isFailure(decided) ? Result.fail(refusal(decided.failure.reason)) : Result.succeed([decided.success])
      }
      case "gaps":
        return Result.succeed(decideGaps(provisional, context.now, options.gapWaitMs, context))
      case "strangers":
        return Result.succeed([])
      case "incoming": {
        counters.received += 1
        // The same reason the full path gives my own message (decide.ts), without its signature check.
        if (echoes.isEcho(job.incoming.topic, job.incoming.payload, job.incoming.retained)) return Result.fail({ reason: "my own message", routine: true })
        // Verified (and decrypted) before anything is decided: the sender is the key's owner.
        const opened = channel.open(provisional, job.incoming.topic, job.incoming.payload)
        noteRetained(provisional, job.incoming.topic, Result.isSuccess(opened) ? opened.success.envelope : null)
        if (Result.isFailure(opened)) {
          const change = opened.failure.keyChange
          const noted = change === undefined ? null : decideKeyChange(provisional, change, context)
          if (noted === null) return Result.fail(awaitGroupOr(job, { reason: opened.failure.reason, routine: opened.failure.routine }, context.now))
          keyWarnings.push({ topic: job.incoming.topic, reason: opened.failure.reason })
          return Result.succeed([noted])
        }
        if (opened.success.envelope.body._tag === "chat.resend") {
          const asked = interpretResend(provisional, job.incoming.topic, opened.success.envelope)
          if (Result.isFailure(asked)) return Result.fail(asked.failure)
          resendRequests.push(asked.success)
          return Result.succeed([])
        }
        const decided = decideOpened(provisional, job.incoming.topic, opened.success, context)
        return Result.isFailure(decided) ? Result.fail(awaitGroupOr(job, decided.failure, context.now)) : Result.succeed(decided.success)
      }
      case "acks": {
        if (acks.length === 0) return Result.succeed([])
        const batch = acks.splice(0, 1024)
        return Result.succeed([{ at: context.now, clock: provisional.clock, event: { _tag: "outbox.acked", ids: batch }, out: [] }])
      }
    }
  }

  /**
   * The decision loop: take what is queued (up to MAX_BATCH), decide each in order against the
   * state so far, store all the entries with one append, then subscribe, publish and answer.
   */
  const processBatch = Effect.fnUntraced(function* (taken: ReadonlyArray<Job>) {
    const context = yield* decisionContext
    // Peers' work first, then a few of the strangers' messages (lanes.ts).
    if (taken.some((job) => job._tag === "strangers")) strangersWaking = false
    if (strangers.size > 0) strangerCounters.overtaken += taken.filter((job) => job._tag === "incoming").length
    const fromStrangers = strangers.take(limits.perBatch).map((item) => item.job)
    strangerCounters.decided += fromStrangers.length
    const jobs = [...taken.filter((job) => job._tag !== "strangers"), ...fromStrangers]
    if (strangers.size > 0 && !strangersWaking) strangersWaking = Queue.offerUnsafe(work, { _tag: "strangers" })
    let provisional = state
    // The seen-set and the outbox are shared with `state`: until the batch is durable its changes
    // stay in a transaction that readers of `state` do not see, and that a failed append drops.
    const shared = [state.seen, state.outbox]
    for (const part of shared) part.begin()
    let settled = false
    const settle = (commit: boolean) => {
      if (settled) return
      settled = true
      for (const part of shared) (commit ? part.commit() : part.rollback())
    }
    const stored: Array<{ readonly job: Job; readonly record: LogRecord }> = []
    const rejected: Array<{ readonly job: Job } & Refusal> = []
    for (const job of jobs) {
      let decided: Result.Result<ReadonlyArray<LogEntry>, Refusal>
      try {
        decided = decideJob(job, provisional, context)
      } catch (defect) {
        // A broken invariant on one input must not take the chat down: drop it, say why.
        decided = Result.fail(refusal(`internal error: ${String(defect).slice(0, 200)}`))
      }
      // What strangers may store is budgeted: a flood that passes every check still stores little.
      if (job._tag === "incoming" && job.stranger !== undefined && Result.isSuccess(decided) && decided.success.length > 0) {
        const over = storeBudget.take(job.stranger, context.now)
        if (over !== null) decided = Result.fail(refusal(over))
      }
      if (Result.isFailure(decided)) {
        rejected.push({ job, ...decided.failure })
        continue
      }
      for (const entry of decided.success) {
        const record: LogRecord = { seq: provisional.lastSeq + 1, ...entry }
        provisional = evolve(provisional, record)
        stored.push({ job, record })
      }
    }
    if (stored.length > 0) {
      const entries = stored.map(({ record: { seq: _seq, ...entry } }) => entry)
      // The log takes at most MAX_ENTRIES_PER_APPEND per call; a gap release can exceed it.
      const appended = yield* Effect.forEach(chunks(entries, MAX_ENTRIES_PER_APPEND), (chunk) => log.append(chunk)).pipe(
        Effect.map((parts) => parts.flat()),
        Effect.result,
      )
      if (Result.isFailure(appended)) {
        for (const { job } of stored) rejected.push({ job, ...refusal(`could not store: ${appended.failure.message}`) })
        // A redelivery of what could not be stored must not look like a duplicate.
        settle(false)
        stored.length = 0
      } else {
        appended.success.forEach((record, i) => {
          if (record.seq !== stored[i]!.record.seq) throw new Error(`log assigned seq ${record.seq}, expected ${stored[i]!.record.seq}`)
        })
        settle(true)
        state = provisional
      }
    }
    if (stored.length > 0) {
      yield* syncSubscriptions(stored.map(({ record }) => record))
      releaseAwaiting(stored.map(({ record }) => record))
      yield* publishAll(stored.flatMap(({ record }) => record.out))
      if (stored.some(({ record }) => record.event._tag === "peer.key.pinned" || record.event._tag === "peer.key.trusted" || record.event._tag === "group.key.received")) yield* retryUnsealed
    }
    for (const { job, record } of stored) {
      const message = messageOf(record, me)
      if (message !== null) yield* notify({ _tag: "message", message })
      if (job._tag === "command") yield* Deferred.succeed(job.done, record).pipe(Effect.asVoid)
    }
    for (const { job, reason, routine } of rejected) {
      if (job._tag === "command") yield* Deferred.fail(job.done, new CommandRejected({ message: reason }))
      else if (job._tag === "incoming") {
        // Echoes of my own messages, QoS 1 duplicates and repeats are normal traffic, not trouble.
        if (routine) {
          counters.ignored += 1
          tally.count(reason)
          continue
        }
        yield* reportDrop(job.incoming.topic, reason, context.now)
      }
    }
    for (const warning of keyWarnings.splice(0)) {
      counters.dropped += 1
      yield* notify({ _tag: "dropped", topic: warning.topic.slice(0, 120), reason: warning.reason })
    }
    if (stored.length > 0) yield* notify({ _tag: "changed" })
    // Against the stored state: a group I no longer lead after this batch is not mine to repair.
    yield* flushRepairs
    for (const request of resendRequests.splice(0)) {
      // Bounded: a flood of resend requests (each may read 20 pages of the log) waits its turn or is dropped.
      if (resendsRunning >= MAX_CONCURRENT_RESENDS) {
        yield* reportDrop(request.topic, "resend request while too many are being answered", context.now)
        continue
      }
      resendsRunning += 1
      yield* Effect.forkIn(answerResend(request).pipe(Effect.ensuring(Effect.sync(() => { resendsRunning -= 1 }))), scope)
    }
  })

  /** Counts a drop by reason; notices go out at most 10 a second, then one summary (drop-tally.ts). */
  const reportDrop = (topic: string, reason: string, now: number) =>
    Effect.suspend(() => {
      counters.dropped += 1
      return Effect.forEach(tally.record(topic, reason, now), (report) => notify({ _tag: "dropped", ...report }), { discard: true })
    })

  /**
   * Where received messages wait: peers' traffic in `work`, strangers' in their bounded lane. A
   * whole chunk at a time, with no effect per message: during a flood this runs for every message,
   * and it must stay far cheaper than deciding one (the real message queues behind what is not yet sorted).
   */
  const admit = (chunk: ReadonlyArray<Incoming>) =>
    Effect.gen(function* () {
      const now = yield* clock.now
      const forPeers: Job[] = []
      const reports: DropReport[] = []
      let queued = false
      for (const incoming of chunk) {
        const lane = laneOf(state, me, incoming.topic, incoming.payload)
        if (lane.lane === "peers") {
          forPeers.push({ _tag: "incoming", incoming })
          continue
        }
        const refused = strangers.offer(lane.sender, { _tag: "incoming", incoming, stranger: lane.sender })
        if (refused === null) {
          queued = true
          continue
        }
        counters.received += 1
        counters.dropped += 1
        reports.push(...tally.record(incoming.topic, refused, now))
      }
      if (forPeers.length > 0) yield* Queue.offerAll(work, forPeers)
      if (queued && !strangersWaking) {
        strangersWaking = true
        yield* Queue.offer(work, { _tag: "strangers" })
      }
      for (const report of reports) yield* notify({ _tag: "dropped", ...report })
    })

  /** Publishes again, same ids, the messages a reader says it never got: found by paging my log back. */
  const answerResend = Effect.fn("ChatService.answerResend")(function* (request: { readonly topic: Topic; readonly missing: ReadonlyArray<number> }) {
    const wanted = new Set(request.missing)
    const found: Outgoing[] = []
    let beforeSeq: number | undefined
    for (let page = 0; page < RESEND_MAX_PAGES && found.length < wanted.size; page++) {
      const history = yield* log.history(request.topic, { limit: 1000, ...(beforeSeq === undefined ? {} : { beforeSeq }) })
      found.push(...resendable(history.records, request.topic, wanted))
      if (!history.hasMore || history.records.length === 0) break
      beforeSeq = history.records[0]!.seq
    }
    yield* publishAll(found.sort((a, b) => a.envelope.clock - b.envelope.clock))
  }, (effect, request) => effect.pipe(Effect.catch((error) => notify({ _tag: "error", message: `resend on ${request.topic}: ${error.message}` }))))

  /** A user's command: queued for the decision loop, answered with its stored record or why not. */
  const run = Effect.fn("ChatService.run")(function* (command: Command): Effect.fn.Return<LogRecord, CommandRejected> {
    if (closing && command._tag !== "session.end") return yield* new CommandRejected({ message: "the chat is shutting down" })
    const done = yield* Deferred.make<LogRecord, CommandRejected>()
    yield* Queue.offer(work, { _tag: "command", command, done })
    return yield* Deferred.await(done)
  })

  const sweepTimeouts = Effect.gen(function* () {
    yield* flushRepairs
    const now = yield* clock.now
    for (const given of awaiting.expire(now)) tally.count(`${given.reason} (still after ${AWAITING_GROUP_MS / 60_000} minutes)`)
    const summary = tally.flush(now)
    if (summary !== null) yield* notify({ _tag: "dropped", ...summary })
    const connectedFor = connectedSince === null ? 0 : now - connectedSince
    // Only the orders that hold messages (indexed by the fold), never every sender's.
    const gapDue = [...state.index.holding.keys()].some((key) => {
      const o = state.inbound.get(key)
      return o !== undefined && o.held.length > 0 && now - (o.resendAskedAt ?? o.heldSince) >= options.gapWaitMs
    })
    if (gapDue && connectedFor >= options.gapWaitMs) {
      yield* Queue.offer(work, { _tag: "gaps" })
    }
    // Only conversations waiting for an answer (indexed by the fold), never every conversation.
    for (const [peer, since] of state.index.waiting) {
      if (now - since < options.requestTimeoutMs) continue
      yield* run({ _tag: "conversation.timeout", peer: peer as UserId }).pipe(Effect.ignore)
    }
  })

  // --- start: the loop, subscriptions, resend what the broker never acknowledged, announce the session.
  // The broker's session may still hold subscriptions from before a crash: drop the ones no longer wanted.
  const wantedAtStart = desiredSubscriptions(state)
  const stale = [
    ...[...state.conversations.values()].map((s) => s.context.topic),
    ...[...state.groups.values()].map((s) => topics.groupTalk(s.context.name as GroupName)),
  ].filter((t) => !wantedAtStart.has(t)) as Topic[]
  if (stale.length > 0) yield* transport.unsubscribe(stale).pipe(Effect.catch((error) => notify({ _tag: "error", message: `unsubscribe: ${error.message}` })))
  yield* Queue.takeBetween(work, 1, MAX_BATCH).pipe(
    // Whatever happens in a batch, no transaction stays open (a commit already closed it).
    Effect.flatMap((jobs) => processBatch(jobs).pipe(Effect.ensuring(Effect.sync(() => {
      state.seen.rollback()
      state.outbox.rollback()
    })))),
    Effect.catchCause((cause) => notify({ _tag: "error", message: `decision loop: ${String(cause).slice(0, 300)}` })),
    Effect.forever,
    Effect.forkIn(scope),
  )
  yield* syncSubscriptions()
  yield* publishAll(state.outbox.values())
  yield* run({ _tag: "session.start" }).pipe(Effect.mapError((e) => new EventLogError({ reason: "io", message: e.message })))

  yield* transport.incoming.pipe(
    Stream.runForEachArray(admit),
    Effect.forkIn(scope),
  )
  yield* transport.connectionChanges.pipe(
    Stream.runForEach((connection) =>
      Effect.gen(function* () {
        yield* notify({ _tag: "connection", state: connection })
        connectedSince = connection._tag === "connected" ? yield* clock.now : null
        // Every connection announces itself: its own Will (registered at connect) marks its end.
        if (connection._tag === "connected" && state.online && !closing) {
          currentConnection = connection.connection
          const context = yield* decisionContext
          yield* publishAll(presenceOut(state, state.clock, context, "online", { session: state.session, connection: connection.connection }))
          // The retained information of my groups may have been erased while I was away.
          yield* publishAll(retainedCopies(ledGroups(state).map((group) => ({ kind: "group" as const, group })), context))
        }
      }),
    ),
    Effect.forkIn(scope),
  )
  const offerAcks = Effect.suspend(() => (acks.length > 0 && !closing ? Queue.offer(work, { _tag: "acks" }) : Effect.void))
  yield* offerAcks.pipe(Effect.delay(ACK_FLUSH_MS), Effect.forever, Effect.forkIn(scope))
  yield* sweepTimeouts.pipe(Effect.delay(options.sweepIntervalMs), Effect.forever, Effect.forkIn(scope))

  const shutdown = Effect.gen(function* () {
    if (closing) return
    closing = true
    yield* Queue.offer(work, { _tag: "acks" })
    yield* run({ _tag: "session.end" }).pipe(Effect.ignore)
    const context = yield* decisionContext
    const offline = presenceOut(state, state.clock, context, "offline", { session: state.session, connection: currentConnection })
    const lastWords = offline.flatMap((out) => {
      const bytes = channel.seal(state, out)
      return Result.isSuccess(bytes) ? [{ topic: out.topic, payload: bytes.success, retain: out.retain }] : []
    })
    yield* transport.close(lastWords)
  })
  yield* Effect.addFinalizer(() => shutdown)

  return ChatService.of({
    me,
    state: Effect.sync(() => state),
    notices: Stream.fromPubSub(notices),
    connection: transport.connectionState,
    listUsers: () => Effect.sync(() => listUsers(state, me)),
    listGroups: () => Effect.sync(() => listGroups(state)),
    createGroup: (name) => parseGroup(name).pipe(Effect.flatMap((group) => run({ _tag: "group.create", group })), Effect.asVoid),
    joinGroup: (name) => parseGroup(name).pipe(Effect.flatMap((group) => run({ _tag: "group.join", group })), Effect.asVoid),
    acceptJoin: (group, user) =>
      Effect.all([parseGroup(group), parseUser(user)]).pipe(Effect.flatMap(([g, u]) => run({ _tag: "group.accept", group: g, user: u })), Effect.asVoid),
    refuseJoin: (group, user, reason = "refused") =>
      Effect.all([parseGroup(group), parseUser(user)]).pipe(Effect.flatMap(([g, u]) => run({ _tag: "group.refuse", group: g, user: u, reason })), Effect.asVoid),
    leaveGroup: (name) => parseGroup(name).pipe(Effect.flatMap((group) => run({ _tag: "group.leave", group })), Effect.asVoid),
    startConversation: (peer) => parseUser(peer).pipe(Effect.flatMap((p) => run({ _tag: "conversation.request", peer: p })), Effect.asVoid),
    acceptConversation: (peer) => parseUser(peer).pipe(Effect.flatMap((p) => run({ _tag: "conversation.accept", peer: p })), Effect.asVoid),
    refuseConversation: (peer, reason = "refused") =>
      parseUser(peer).pipe(Effect.flatMap((p) => run({ _tag: "conversation.refuse", peer: p, reason })), Effect.asVoid),
    leaveConversation: (peer) => parseUser(peer).pipe(Effect.flatMap((p) => run({ _tag: "conversation.leave", peer: p })), Effect.asVoid),
    closeConversation: (peer) => parseUser(peer).pipe(Effect.flatMap((p) => run({ _tag: "conversation.dismiss", peer: p })), Effect.asVoid),
    send: (to, text) =>
      run({ _tag: "message.send", target: to, text }).pipe(
        Effect.map((record) => {
          const message = messageOf(record, me)
          if (message === null) throw new Error("a sent message must be a message record")
          return message
        }),
      ),
    requests: () => Effect.sync(() => state.requests),
    acceptances: () => Effect.sync(() => state.acceptances),
    history: (to, page) => historyPage(log, me, to, page),
    search: (to, query, options) => searchHistory(log, me, to, query, options),
    whois: (input) => parseUser(input).pipe(Effect.map((user) => whoIs(crypto, state, { user: me, keys: profile.keys }, user))),
    trustKeys: (input) => parseUser(input).pipe(Effect.flatMap((peer) => run({ _tag: "peer.trust", peer })), Effect.asVoid),
    shutdown: () => shutdown,
    parseUser,
    parseGroup,
    stats: Effect.sync(() => ({
      ...counters,
      droppedByReason: tally.byReason(),
      strangers: { waiting: strangers.size, ...strangerCounters },
    })),
  })
})

