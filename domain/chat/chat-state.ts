/**
 * The chat state is the fold of the log: `evolve(state, record)` for every record, in order. The
 * live client uses the very same `step` to make decisions (chat/decide.ts), so `replay(log)` equals
 * the live state by construction — and tests/properties/replay.property.test.ts checks it.
 *
 * Protocol lifecycle goes through the XState machines (presence, conversation, group); chat
 * messages, the high-volume part, are projected by plain code (`projectMessage`).
 */
import { initialTransition, type transition } from "xstate"
import type { AnyMachineSnapshot, SnapshotFrom } from "xstate"
import { stepMachine } from "./machine-step.ts"
import { conversationMachine, viewOf, type ConversationAction, type Stance } from "../conversation/conversation.machine.ts"
import { groupMachine, viewOfGroup, type GroupAction } from "../group/group.machine.ts"
import { presenceMachine } from "../presence/presence.machine.ts"
import type { DomainEvent, LogRecord, Outgoing } from "../events.ts"
import { topics, type GroupName, type MessageId, type Topic, type UserId } from "../ids.ts"
import type { GroupInfo } from "../wire/messages.ts"
import { initialTrustState, stepTrust, type TrustState } from "../trust/trust-state.ts"
import { clockCeiling } from "../wire/limits.ts"
import { PersistentMap } from "./persistent-map.ts"
import { emptyIndex, indexConversation, indexGroup, indexToJson, type StateIndex } from "./state-index.ts"

export { isUnopened, MAX_UNOPENED, type StateIndex, type Unopened } from "./state-index.ts"

export type PresenceSnapshot = SnapshotFrom<typeof presenceMachine>
export type ConversationSnapshot = SnapshotFrom<typeof conversationMachine>
export type GroupSnapshot = SnapshotFrom<typeof groupMachine>

/** Bounds: every list in the state has one. */
export const MAX_REQUEST_HISTORY = 500
export const MAX_SEEN_IDS = 100_000

export interface RequestEntry {
  readonly kind: "chat" | "group"
  readonly from: UserId
  readonly group: GroupName | null
  readonly requestId: MessageId
  readonly at: number
  /** Updated as the request is answered. */
  readonly status: "pending" | "accepted" | "refused" | "expired" | "withdrawn"
}

export interface AcceptanceEntry {
  readonly kind: "chat" | "group"
  /** Who accepted: me (I accepted their request) or them. */
  readonly by: "me" | "peer"
  readonly peer: UserId
  readonly group: GroupName | null
  readonly topic: Topic
  readonly at: number
}

export interface TopicSummary {
  readonly messages: number
  /** My messages on this topic: the next one is numbered sent + 1. */
  readonly sent: number
  readonly lastAt: number
  readonly lastSeq: number
}

/** Bound on messages held back per sender and topic; past it they are shown as they are. */
export const MAX_HELD_PER_SENDER = 1000

export type HeldMessage = Extract<DomainEvent, { _tag: "message.held" }>

/**
 * Per sender and topic: the highest message number shown, and the messages that arrived ahead of a
 * gap, in number order. Restores each sender's order when the broker reorders across reconnects.
 */
export interface InboundOrder {
  readonly shown: number
  readonly held: ReadonlyArray<HeldMessage>
  /** When the oldest held message arrived (ms): after a wait the sender is asked to resend. */
  readonly heldSince: number
  /** When I asked the sender to resend (ms), or null: after another wait the gap is given up. */
  readonly resendAskedAt: number | null
}

export const inboundKey = (topic: Topic, from: UserId): string => `${topic} ${from}`

export interface ChatState {
  readonly me: UserId | null
  /** My connect counter: presence announcements carry it (see presence.machine.ts). */
  readonly session: number
  readonly online: boolean
  /** Lamport clock. */
  readonly clock: number
  readonly lastSeq: number
  /** Maps are persistent (O(log N) per change, see persistent-map.ts): the fold never copies them whole. */
  readonly presence: PersistentMap<PresenceSnapshot>
  /** Closed ones nobody opened are tombstones, at most MAX_UNOPENED (see `isUnopened`). */
  readonly conversations: PersistentMap<ConversationSnapshot>
  /** When each conversation last changed state (ms): request timeouts count from it. */
  readonly conversationSince: PersistentMap<number>
  /** Ended conversations I closed (/close): not listed until either of us moves again. A subset of `conversations`' keys. */
  readonly dismissed: PersistentMap<true>
  readonly groups: PersistentMap<GroupSnapshot>
  readonly requests: ReadonlyArray<RequestEntry>
  readonly acceptances: ReadonlyArray<AcceptanceEntry>
  readonly topics: PersistentMap<TopicSummary>
  readonly inbound: PersistentMap<InboundOrder>
  readonly index: StateIndex
  /** Pinned keys of peers, key changes waiting for a decision, group keys (trust/trust-state.ts). */
  readonly trust: TrustState
  /** Envelope ids already handled, for dropping QoS 1 duplicates. Bounded FIFO. */
  readonly seen: SeenIds
  /** Sends not yet acknowledged by the broker: resent after a restart. */
  readonly outbox: Outbox
}

/**
 * The two parts of the state that are too big to copy per record are mutable inside, and
 * transactional: the service opens a transaction for a batch of records whose append is not yet
 * durable (`begin`), and then either applies it (`commit`) or drops it (`rollback`). Meanwhile
 * readers of the committed view (`toJSON`, `values`) see the state of the last stored record; the
 * decisions of the same batch see their own additions (`has`). Replay never opens a transaction.
 */
interface Transactional {
  begin(): void
  commit(): void
  rollback(): void
}

/**
 * Envelope ids already handled (sender/id keys), bounded FIFO.
 *
 * A set restored from a snapshot does not build its 100,000-id `Set` until something asks it a
 * question (`has`, `size`, `horizon`, ...): that build was most of what a long profile's start-up
 * cost beyond an empty one. The records folded on top of the snapshot meanwhile only `add`, and
 * those adds wait, in order, until the `Set` is built; then they are inserted as they would have
 * been. Every answer is the one an eagerly built set gives (tests/properties/seen-ids.property.test.ts).
 */
export class SeenIds implements Transactional {
  /** null: restored and not asked yet; `order` from `head` holds the ids, `deferred` what was added since. */
  private ids: Set<string> | null
  private order: string[]
  /** When each id in `order` was stored (the record's `at`), for the replay horizon. */
  private times: number[]
  private head = 0
  private pending: Map<string, number> | null = null
  /** Adds made before the set was built, in order, and their times; at most `capacity` of them. */
  private deferredIds: string[] = []
  private deferredTimes: number[] = []
  private forgottenUpTo = 0
  /** `restored`: the committed ids of a snapshot, adopted as they are (see `restored`). */
  constructor(private readonly capacity: number = MAX_SEEN_IDS, restored?: PersistedSeenIds) {
    this.order = restored === undefined ? [] : [...restored.ids]
    this.times = restored === undefined ? [] : [...restored.times]
    this.ids = restored === undefined ? new Set() : null
    this.forgottenUpTo = restored?.horizon ?? 0
  }
  has(id: string): boolean {
    return this.indexed().has(id) || (this.pending?.has(id) ?? false)
  }
  /** `at`: when the message was stored, my clock. */
  add(id: string, at = 0): void {
    if (this.pending !== null) {
      if (!this.indexed().has(id)) this.pending.set(id, at)
      return
    }
    if (this.ids === null && this.deferredIds.length < this.capacity) {
      this.deferredIds.push(id)
      this.deferredTimes.push(at)
      return
    }
    this.insert(this.indexed(), id, at)
  }
  /**
   * The latest time at which an id this set has forgotten was stored (0: none forgotten). A message
   * sent before it may have been seen and forgotten: it cannot be told from a replay.
   */
  get horizon(): number {
    this.indexed()
    return this.forgottenUpTo
  }
  begin(): void {
    if (this.pending !== null) throw new Error("seen-set: a transaction is already open")
    this.pending = new Map()
  }
  commit(): void {
    const pending = this.pending
    this.pending = null
    if (pending === null || pending.size === 0) return
    const ids = this.indexed()
    for (const [id, at] of pending) this.insert(ids, id, at)
  }
  rollback(): void {
    this.pending = null
  }
  /**
   * The `Set`, built on first use: the restored ids inserted in order (an id that repeats, which only
   * a damaged snapshot has, counts once, as a fold would have stored it), then the deferred adds.
   */
  private indexed(): Set<string> {
    if (this.ids !== null) return this.ids
    const order = this.order
    const ids = new Set(order)
    if (ids.size !== order.length) {
      const times = this.times
      this.order = []
      this.times = []
      ids.clear()
      for (let i = 0; i < order.length; i++) this.insert(ids, order[i]!, times[i]!)
    }
    this.ids = ids
    const deferredIds = this.deferredIds
    const deferredTimes = this.deferredTimes
    this.deferredIds = []
    this.deferredTimes = []
    // At most `capacity` turns (add's bound).
    for (let i = 0; i < deferredIds.length; i++) this.insert(ids, deferredIds[i]!, deferredTimes[i]!)
    return ids
  }
  private insert(ids: Set<string>, id: string, at: number): void {
    // One lookup, not has() then add(): the set holds up to 100,000 ids and every message comes here.
    const size = ids.size
    ids.add(id)
    if (ids.size === size) return
    this.order.push(id)
    this.times.push(at)
    if (ids.size > this.capacity) {
      const evicted = this.order[this.head]
      this.forgottenUpTo = Math.max(this.forgottenUpTo, this.times[this.head] ?? 0)
      this.head += 1
      if (evicted !== undefined) ids.delete(evicted)
      // Compact now and then so the arrays do not grow without bound.
      if (this.head > this.capacity) {
        this.order.splice(0, this.head)
        this.times.splice(0, this.head)
        this.head = 0
      }
    }
  }
  get size(): number {
    return this.indexed().size
  }
  toJSON(): ReadonlyArray<string> {
    this.indexed()
    return this.order.slice(this.head)
  }
  /** The committed set as plain data, for a snapshot of the state (domain/snapshot/state-codec.ts). */
  persisted(): PersistedSeenIds {
    this.indexed()
    return { capacity: this.capacity, ids: this.order.slice(this.head), times: this.times.slice(this.head), horizon: this.forgottenUpTo }
  }
  /**
   * The set `persisted` described, its `Set` not built yet (see the class). Throws on data that
   * breaks the set's invariants (the codec checks first).
   */
  static restored(persisted: PersistedSeenIds): SeenIds {
    const { capacity, ids, times } = persisted
    if (ids.length !== times.length || ids.length > capacity) throw new Error("seen-set: persisted ids and times do not match")
    return new SeenIds(capacity, persisted)
  }
}

export interface PersistedSeenIds {
  readonly capacity: number
  readonly ids: ReadonlyArray<string>
  readonly times: ReadonlyArray<number>
  readonly horizon: number
}

/** Unacknowledged sends by envelope id, in the order sent. */
export class Outbox implements Transactional {
  private readonly unacked = new Map<string, Outgoing>()
  private journal: Array<{ readonly add: Outgoing } | { readonly remove: string }> | null = null
  add(out: Outgoing): void {
    if (this.journal !== null) this.journal.push({ add: out })
    else this.unacked.set(out.envelope.id, out)
  }
  delete(id: string): void {
    if (this.journal !== null) this.journal.push({ remove: id })
    else this.unacked.delete(id)
  }
  begin(): void {
    if (this.journal !== null) throw new Error("outbox: a transaction is already open")
    this.journal = []
  }
  commit(): void {
    const journal = this.journal
    this.journal = null
    for (const change of journal ?? []) {
      if ("add" in change) this.unacked.set(change.add.envelope.id, change.add)
      else this.unacked.delete(change.remove)
    }
  }
  rollback(): void {
    this.journal = null
  }
  get size(): number {
    return this.unacked.size
  }
  /** In the order they were sent: the resend after a restart keeps it. */
  values(): ReadonlyArray<Outgoing> {
    return [...this.unacked.values()]
  }
  toJSON(): Readonly<Record<string, Outgoing>> {
    return Object.fromEntries(this.unacked)
  }
}

export const initialChatState = (): ChatState => ({
  me: null,
  session: 0,
  online: false,
  clock: 0,
  lastSeq: 0,
  presence: PersistentMap.empty(),
  conversations: PersistentMap.empty(),
  conversationSince: PersistentMap.empty(),
  dismissed: PersistentMap.empty(),
  groups: PersistentMap.empty(),
  requests: [],
  acceptances: [],
  topics: PersistentMap.empty(),
  inbound: PersistentMap.empty(),
  index: emptyIndex(),
  trust: initialTrustState(),
  seen: new SeenIds(),
  outbox: new Outbox(),
})

/** Machine actions a step produced: the decision layer turns them into wire messages. */
export type StepAction =
  | { readonly machine: "conversation"; readonly peer: UserId; readonly action: ConversationAction }
  | { readonly machine: "group"; readonly group: GroupName; readonly action: GroupAction }

export const requireMe = (state: ChatState): UserId => {
  if (state.me === null) throw new Error("the profile has no user id yet")
  return state.me
}

export const conversationOf = (state: ChatState, peer: UserId): ConversationSnapshot =>
  state.conversations.get(peer) ?? initialTransition(conversationMachine, { peer, topic: topics.talk(requireMe(state), peer) })[0]

export const groupOf = (state: ChatState, group: GroupName): GroupSnapshot =>
  state.groups.get(group) ?? initialTransition(groupMachine, { me: requireMe(state), name: group })[0]

const INITIAL_PRESENCE = initialTransition(presenceMachine)[0]

export const presenceOf = (state: ChatState, user: UserId): PresenceSnapshot => state.presence.get(user) ?? INITIAL_PRESENCE

export const conversationView = (state: ChatState, peer: UserId) => {
  const snapshot = state.conversations.get(peer)
  return snapshot === undefined ? "idle" : viewOf(snapshot.context.mine, snapshot.context.theirs)
}

export const groupView = (state: ChatState, group: GroupName) => {
  const snapshot = state.groups.get(group)
  return snapshot === undefined ? "absent" : viewOfGroup(snapshot.context)
}

/**
 * Someone I talk with: a conversation I took part in (I asked, accepted or refused), or a member
 * of a group I am in or asking to join. Everyone else is a stranger, whose traffic is unsolicited.
 */
export const isContact = (state: ChatState, user: UserId): boolean => {
  const conversation = state.conversations.get(user)
  return (conversation !== undefined && conversation.context.mine.attempt > 0) || state.index.coMembers.has(user)
}

/** Shared by every step that names no action: frozen, so no caller can add to it. */
const NO_ACTIONS: ReadonlyArray<never> = Object.freeze([])

/** Named actions come back as data; assign and other built-ins are already applied to the snapshot. */
const collect = <A>(actions: ReadonlyArray<{ type: string; params?: unknown }>): ReadonlyArray<A> =>
  // Most steps (every replayed presence and information record) name none: no arrays made for them.
  actions.length === 0 ? NO_ACTIONS
  : actions.filter((a) => a.type.startsWith("send.") || a.type.startsWith("publish.")).map((a) => ({ type: a.type, params: a.params }) as A)

const stanceOf = (event: Extract<DomainEvent, { _tag: "conversation.stance.received" }>): Stance => ({
  attempt: event.attempt,
  wants: event.kind === "request" || event.kind === "accept",
  conditional: event.kind === "accept",
  refuses: event.kind === "accept" ? null : event.refuses,
})

const appendBounded = <A>(list: ReadonlyArray<A>, item: A, bound: number): ReadonlyArray<A> => {
  const next = [...list, item]
  return next.length > bound ? next.slice(next.length - bound) : next
}

/** Marks the newest pending request matching `match` with `status`. */
const settleRequest = (
  requests: ReadonlyArray<RequestEntry>,
  match: (r: RequestEntry) => boolean,
  status: RequestEntry["status"],
): ReadonlyArray<RequestEntry> => {
  let index = -1
  for (let i = requests.length - 1; i >= 0; i--) {
    const r = requests[i]!
    if (r.status === "pending" && match(r)) {
      index = i
      break
    }
  }
  if (index < 0) return requests
  return requests.map((r, i) => (i === index ? { ...r, status } : r))
}

interface Stepped {
  readonly state: ChatState
  readonly actions: ReadonlyArray<StepAction>
}

const stepConversation = (state: ChatState, peer: UserId, event: Parameters<typeof transition<typeof conversationMachine>>[2], at: number) => {
  const before = conversationOf(state, peer)
  const [after, actions] = stepMachine(conversationMachine, before, event)
  const changed = after.value !== before.value
  const { index, evicted } = indexConversation(state.index, peer, state.conversations.has(peer) ? before : undefined, after, at)
  let conversations = state.conversations.set(peer, after)
  let conversationSince = changed ? state.conversationSince.set(peer, at) : state.conversationSince
  // Closed out of sight until the conversation moves again.
  let dismissed = after.value !== "closed" && state.dismissed.has(peer) ? state.dismissed.remove(peer) : state.dismissed
  // Past MAX_UNOPENED tombstones the oldest is forgotten.
  if (evicted !== null) {
    conversations = conversations.remove(evicted)
    conversationSince = conversationSince.remove(evicted)
    if (dismissed.has(evicted)) dismissed = dismissed.remove(evicted)
  }
  return {
    before,
    after,
    state: { ...state, conversations, conversationSince, dismissed, index },
    actions: actions.length === 0 ? NO_ACTIONS : collect<ConversationAction>(actions).map((action) => ({ machine: "conversation" as const, peer, action })),
  }
}

const stepGroup = (state: ChatState, group: GroupName, event: Parameters<typeof transition<typeof groupMachine>>[2]) => {
  const before = groupOf(state, group)
  const [after, actions] = stepMachine(groupMachine, before, event)
  const inside = (value: unknown) => value === "member" || value === "leading"
  const next = { ...state, groups: state.groups.set(group, after), index: indexGroup(state.index, group, before, after) }
  return {
    before,
    after,
    // Joining (again): what members sent while I was out never comes, so numbering starts afresh.
    state: inside(after.value) && !inside(before.value) ? forgetSenderOrder(next, topics.groupTalk(group)) : next,
    actions: actions.length === 0 ? NO_ACTIONS : collect<GroupAction>(actions).map((action) => ({ machine: "group" as const, group, action })),
  }
}

/** Track what the conversation negotiation means for the two history lists. */
const noteConversationHistory = (
  state: ChatState,
  event: DomainEvent,
  peer: UserId,
  before: AnyMachineSnapshot,
  after: AnyMachineSnapshot,
  at: number,
): ChatState => {
  const me = requireMe(state)
  let requests = state.requests
  let acceptances = state.acceptances
  const wasIncoming = before.value === "incoming"
  const isChat = (r: RequestEntry) => r.kind === "chat" && r.from === peer
  if (event._tag === "conversation.stance.received" && event.kind === "request" && after.value === "incoming" && !wasIncoming) {
    requests = appendBounded(requests, { kind: "chat", from: peer, group: null, requestId: event.requestId, at, status: "pending" }, MAX_REQUEST_HISTORY)
  }
  if (wasIncoming && after.value !== "incoming") {
    const status: RequestEntry["status"] =
      after.value === "active" ? "accepted" : event._tag === "conversation.timed-out" ? "expired" : event._tag === "conversation.refuse.sent" ? "refused" : "withdrawn"
    requests = settleRequest(requests, isChat, status)
  }
  if (after.value === "active" && before.value !== "active") {
    const by = event._tag === "conversation.stance.received" && event.kind === "accept" ? "peer" : "me"
    acceptances = appendBounded(acceptances, { kind: "chat", by, peer, group: null, topic: topics.talk(me, peer), at }, MAX_REQUEST_HISTORY)
  }
  return requests === state.requests && acceptances === state.acceptances ? state : { ...state, requests, acceptances }
}

/** Drops the per-sender order of one topic: held messages there are shown, numbering restarts. */
const forgetSenderOrder = (state: ChatState, topic: Topic): ChatState => {
  const senders = state.index.topicSenders.get(topic)
  if (senders === undefined) return state
  // Only this topic's senders (the index keeps them): orders still holding messages stay until released.
  let inbound = state.inbound
  const kept: UserId[] = []
  for (const sender of senders) {
    const key = inboundKey(topic, sender)
    if ((inbound.get(key)?.held.length ?? 0) > 0) kept.push(sender)
    else inbound = inbound.remove(key)
  }
  const topicSenders = kept.length === 0 ? state.index.topicSenders.remove(topic) : state.index.topicSenders.set(topic, kept)
  return { ...state, inbound, index: { ...state.index, topicSenders } }
}

/** One sender's order on a topic changes; the indexes of holding orders and of each topic's senders follow. */
const withOrder = (state: ChatState, topic: Topic, from: UserId, order: InboundOrder): Pick<ChatState, "inbound" | "index"> => {
  const key = inboundKey(topic, from)
  const index = state.index
  const holdingBefore = index.holding.has(key)
  const holdingAfter = order.held.length > 0
  const holding = holdingBefore === holdingAfter ? index.holding : holdingAfter ? index.holding.set(key, true) : index.holding.remove(key)
  const isNew = !state.inbound.has(key)
  const topicSenders = isNew ? index.topicSenders.set(topic, [...(index.topicSenders.get(topic) ?? []), from]) : index.topicSenders
  return {
    inbound: state.inbound.set(key, order),
    index: holding === index.holding && topicSenders === index.topicSenders ? index : { ...index, holding, topicSenders },
  }
}

const NOTHING_HELD: ReadonlyArray<HeldMessage> = Object.freeze([])

/** Message counts per topic and each sender's order: plain data, no statechart on the hot path. */
const projectMessage = (state: ChatState, event: Extract<DomainEvent, { _tag: "message.sent" | "message.received" | "message.held" }>, at: number, seq: number): ChatState => {
  if (event._tag === "message.held") {
    const key = inboundKey(event.topic, event.from)
    const current: InboundOrder = state.inbound.get(key) ?? { shown: 0, held: [], heldSince: at, resendAskedAt: null }
    const held = [...current.held, event].sort((a, b) => a.n - b.n)
    const fresh = current.held.length === 0
    return { ...state, ...withOrder(state, event.topic, event.from, { ...current, held, heldSince: fresh ? at : current.heldSince, resendAskedAt: fresh ? null : current.resendAskedAt }) }
  }
  const summary = state.topics.get(event.topic)
  const topicsNext = state.topics.set(event.topic, {
    messages: (summary?.messages ?? 0) + 1,
    sent: (summary?.sent ?? 0) + (event._tag === "message.sent" ? 1 : 0),
    lastAt: at,
    lastSeq: seq,
  })
  if (event._tag === "message.sent") return { ...state, topics: topicsNext }
  const key = inboundKey(event.topic, event.from)
  const current = state.inbound.get(key)
  // Nearly always nothing is held: the empty list is kept rather than filtered into a new one.
  const held = current === undefined ? NOTHING_HELD : current.held.length === 0 ? current.held : current.held.filter((h) => h.id !== event.id)
  const inbound: InboundOrder = {
    shown: Math.max(current?.shown ?? 0, event.n),
    held,
    heldSince: current?.heldSince ?? at,
    resendAskedAt: held.length === 0 ? null : current?.resendAskedAt ?? null,
  }
  return { ...state, topics: topicsNext, ...withOrder(state, event.topic, event.from, inbound) }
}

/** The founding information of a group I create: stamped with this record's clock. */
export const foundingInfo = (me: UserId, group: GroupName, clock: number): GroupInfo => ({
  name: group,
  leader: me,
  members: [me],
  version: 1,
  foundedClock: clock,
  foundedBy: me,
  dissolved: false,
})

/** Applies one event: the single source of behaviour for both live decisions and replay. */
export const step = (state: ChatState, record: Pick<LogRecord, "seq" | "at" | "clock" | "event">): Stepped => {
  const { event, at } = record
  switch (event._tag) {
    case "profile.created":
      if (state.me !== null && state.me !== event.user) throw new Error("a profile has exactly one user id")
      return { state: { ...state, me: event.user }, actions: NO_ACTIONS }
    case "session.started":
      return { state: { ...state, session: event.session, online: true }, actions: NO_ACTIONS }
    case "session.ended":
      return { state: { ...state, online: false }, actions: NO_ACTIONS }
    case "presence.observed": {
      const [after] = stepMachine(presenceMachine, presenceOf(state, event.user), {
        type: "presence.observed",
        status: event.status,
        session: event.session,
        connection: event.connection,
      })
      return { state: { ...state, presence: state.presence.set(event.user, after) }, actions: NO_ACTIONS }
    }
    case "conversation.request.sent":
    case "conversation.accept.sent":
    case "conversation.refuse.sent":
    case "conversation.leave.sent":
    case "conversation.timed-out":
    case "conversation.stance.received": {
      const machineEvent =
        event._tag === "conversation.request.sent" ? ({ type: "request.send" } as const)
        : event._tag === "conversation.accept.sent" ? ({ type: "accept.send" } as const)
        : event._tag === "conversation.refuse.sent" ? ({ type: "refuse.send" } as const)
        : event._tag === "conversation.leave.sent" ? ({ type: "leave.send" } as const)
        : event._tag === "conversation.timed-out" ? ({ type: "timeout" } as const)
        : ({ type: "stance.receive", stance: stanceOf(event) } as const)
      const stepped = stepConversation(state, event.peer, machineEvent, at)
      // Re-established: what the peer sent while we were not talking was dropped, so its numbering starts afresh.
      const reopened = stepped.after.value === "active" && stepped.before.value !== "active"
      const afterStep = reopened ? forgetSenderOrder(stepped.state, stepped.after.context.topic as Topic) : stepped.state
      return {
        state: noteConversationHistory(afterStep, event, event.peer, stepped.before, stepped.after, at),
        actions: stepped.actions,
      }
    }
    case "conversation.dismissed":
      // Only an ended conversation is put out of sight (decide checks; a hand-made log is held to it too).
      return state.conversations.get(event.peer)?.value === "closed" ? { state: { ...state, dismissed: state.dismissed.set(event.peer, true) }, actions: NO_ACTIONS } : { state, actions: NO_ACTIONS }
    case "group.created":
      return stepGroup(state, event.group, { type: "group.create", info: foundingInfo(requireMe(state), event.group, record.clock) })
    case "group.info.received":
    case "group.accept.received": {
      // Whichever arrives first — the retained information or the acceptance — admits me.
      const stepped = stepGroup(state, event.info.name, { type: "info.receive", from: event.from, info: event.info })
      const joined = stepped.after.value === "member" && stepped.before.value === "joining"
      if (!joined) return stepped
      const acceptance: AcceptanceEntry = { kind: "group", by: "peer", peer: event.info.leader, group: event.info.name, topic: topics.groupTalk(event.info.name), at }
      return { ...stepped, state: { ...stepped.state, acceptances: appendBounded(stepped.state.acceptances, acceptance, MAX_REQUEST_HISTORY) } }
    }
    case "group.join.sent":
      return stepGroup(state, event.group, { type: "join.send" })
    case "group.join.received": {
      const stepped = stepGroup(state, event.group, { type: "join.receive", from: event.from, attempt: event.attempt })
      const newlyPending =
        stepped.after.context.pending.some((p) => p.user === event.from && p.attempt === event.attempt) &&
        !stepped.before.context.pending.some((p) => p.user === event.from && p.attempt === event.attempt)
      if (!newlyPending) return stepped
      const entry: RequestEntry = { kind: "group", from: event.from, group: event.group, requestId: event.requestId, at, status: "pending" }
      return { ...stepped, state: { ...stepped.state, requests: appendBounded(stepped.state.requests, entry, MAX_REQUEST_HISTORY) } }
    }
    case "group.accept.sent":
    case "group.refuse.sent": {
      const accepted = event._tag === "group.accept.sent"
      const stepped = stepGroup(state, event.group, accepted
        ? { type: "join.accept", user: event.member }
        : { type: "join.refuse", user: event.member, reason: event.reason })
      if (stepped.actions.length === 0) return stepped
      let next = {
        ...stepped.state,
        requests: settleRequest(stepped.state.requests, (r) => r.kind === "group" && r.from === event.member && r.group === event.group, accepted ? "accepted" : "refused"),
      }
      if (accepted) {
        const acceptance: AcceptanceEntry = { kind: "group", by: "me", peer: event.member, group: event.group, topic: topics.groupTalk(event.group), at }
        next = { ...next, acceptances: appendBounded(next.acceptances, acceptance, MAX_REQUEST_HISTORY) }
      }
      return { ...stepped, state: next }
    }
    case "group.refuse.received":
      return stepGroup(state, event.group, { type: "refuse.receive", from: event.from, attempt: event.attempt })
    case "group.leave.sent": {
      const stepped = stepGroup(state, event.group, { type: "leave.send" })
      // Leaving as leader refuses the pending requests (send.refuseAll): my list says so too.
      if (stepped.before.value !== "leading") return stepped
      const requests = stepped.state.requests.map((r) => (r.kind === "group" && r.group === event.group && r.status === "pending" ? { ...r, status: "refused" as const } : r))
      return { ...stepped, state: { ...stepped.state, requests } }
    }
    case "group.leave.received": {
      const stepped = stepGroup(state, event.group, { type: "leave.receive", from: event.from })
      // A join request withdrawn before I answered it: my list says so.
      const withdrawn = stepped.before.context.pending.some((p) => p.user === event.from) && !stepped.after.context.pending.some((p) => p.user === event.from) &&
        !(stepped.before.context.info?.members.includes(event.from) ?? false)
      if (!withdrawn) return stepped
      const requests = settleRequest(stepped.state.requests, (r) => r.kind === "group" && r.from === event.from && r.group === event.group, "withdrawn")
      return { ...stepped, state: { ...stepped.state, requests } }
    }
    case "message.sent":
    case "message.received":
    case "message.held":
      return { state: projectMessage(state, event, at, record.seq), actions: NO_ACTIONS }
    case "message.resend.asked": {
      const key = inboundKey(event.topic, event.from)
      const current = state.inbound.get(key)
      if (current === undefined) return { state, actions: NO_ACTIONS }
      return { state: { ...state, inbound: state.inbound.set(key, { ...current, resendAskedAt: at }) }, actions: NO_ACTIONS }
    }
    case "outbox.acked": {
      for (const id of event.ids) state.outbox.delete(id)
      return { state, actions: NO_ACTIONS }
    }
    case "peer.key.pinned":
    case "peer.key.changed":
    case "peer.key.trusted":
    case "group.key.received":
      return { state: { ...state, trust: stepTrust(state.trust, event) }, actions: NO_ACTIONS }
  }
}

/** Presence announcements are stale after a restart: never resent from the outbox. */
const isResendable = (out: Outgoing): boolean => out.envelope.body._tag !== "presence"

/** Folds one stored record: the event, then the bookkeeping every record carries. */
export const evolve = (state: ChatState, record: LogRecord): ChatState => {
  if (record.seq <= state.lastSeq) throw new Error(`log order: record ${record.seq} after ${state.lastSeq}`)
  const { state: stepped } = step(state, record)
  const received = receivedEnvelopeId(record.event)
  if (received !== null) stepped.seen.add(received, record.at)
  // Most records send nothing: no array is made for them.
  for (const out of record.out) if (isResendable(out)) stepped.outbox.add(out)
  // Never above what a clock can have counted at the record's time (limits.ts): a record stored
  // before that bound existed, with a clock near 2^53, leaves a clock that still counts and that
  // every receiver accepts.
  return withPosition(stepped, record.seq, Math.min(Math.max(stepped.clock, record.clock), clockCeiling(record.at)))
}

/**
 * `{ ...state, lastSeq, clock }` written out field by field, in initialChatState's order: the same
 * object. A spread here, where every kind of step's state meets, ran on V8's slow generic path and
 * took a seventh of a whole rebuild (docs/architecture.md, "Where replay time goes"). `satisfies`
 * makes a field added to ChatState, optional or not, fail to compile until it is listed here.
 */
const withPosition = (state: ChatState, lastSeq: number, clock: number): ChatState => ({
  me: state.me,
  session: state.session,
  online: state.online,
  clock,
  lastSeq,
  presence: state.presence,
  conversations: state.conversations,
  conversationSince: state.conversationSince,
  dismissed: state.dismissed,
  groups: state.groups,
  requests: state.requests,
  acceptances: state.acceptances,
  topics: state.topics,
  inbound: state.inbound,
  index: state.index,
  trust: state.trust,
  seen: state.seen,
  outbox: state.outbox,
}) satisfies { readonly [K in keyof Required<ChatState>]: unknown }

/** Duplicate detection key of an incoming event: sender and envelope id (ids are unique per sender). */
export const receivedEnvelopeId = (event: DomainEvent): string | null => {
  switch (event._tag) {
    case "conversation.stance.received":
      return seenKey(event.peer, event.requestId)
    case "group.join.received":
      return seenKey(event.from, event.requestId)
    case "message.received":
    case "message.held":
      return seenKey(event.from, event.id)
    default:
      return null
  }
}

export const seenKey = (from: UserId, id: MessageId): string => `${from}/${id}`

/** Folds a whole log: the state a client restarted from this log starts with. */
export const replay = (records: Iterable<LogRecord>, initial: ChatState = initialChatState()): ChatState => {
  let state = initial
  for (const record of records) state = evolve(state, record)
  return state
}

/** Everything in the state as plain JSON: what tests compare, and what the replay tool prints. */
export const stateToJson = (state: ChatState) => ({
  ...state,
  presence: state.presence.mapValues((s) => presenceMachine.getPersistedSnapshot(s)),
  conversations: state.conversations.mapValues((s) => conversationMachine.getPersistedSnapshot(s)),
  conversationSince: state.conversationSince.toJSON(),
  dismissed: state.dismissed.toJSON(),
  groups: state.groups.mapValues((s) => groupMachine.getPersistedSnapshot(s)),
  topics: state.topics.toJSON(),
  inbound: state.inbound.toJSON(),
  index: indexToJson(state.index),
  seen: state.seen.toJSON(),
  outbox: state.outbox.toJSON(),
})
