/**
 * The folded chat state as data, for a snapshot on disk (adapters/storage/snapshot-file.ts): opening
 * a profile then folds only the records after it instead of the whole log.
 *
 * The snapshot is a cache, never a source of truth: the log is. So the decode is strict (Schema, on
 * data from disk that may be damaged or hostile), and anything it does not recognise — another
 * fingerprint, another shape, numbers out of bounds — is a failure the caller answers with a full
 * replay. `STATE_FINGERPRINT` names the state's shape: a snapshot written by code of another shape
 * (an older or newer version) is ignored without being decoded.
 *
 * Pure: no I/O. Encoding is synchronous and reads the committed view of the state's two mutable
 * parts (the seen-set and the outbox), which is the state as of `state.lastSeq`.
 */
import { Result, Schema } from "effect"
import { Outbox, SeenIds, MAX_REQUEST_HISTORY, MAX_SEEN_IDS, type ChatState, type PersistedSeenIds } from "../chat/chat-state.ts"
import { PersistentMap } from "../chat/persistent-map.ts"
import { MAX_UNOPENED, type StateIndex } from "../chat/state-index.ts"
import { conversationMachine } from "../conversation/conversation.machine.ts"
import { groupMachine, MAX_PENDING_JOINS } from "../group/group.machine.ts"
import { presenceMachine } from "../presence/presence.machine.ts"
import { DomainEvent, Outgoing } from "../events.ts"
import { GroupName, MessageId, Topic, UserId } from "../ids.ts"
import { PublicKeys } from "../trust/identity.ts"
import { MAX_GROUP_KEYS_KEPT } from "../trust/trust-state.ts"
import { GroupInfo } from "../wire/messages.ts"
import { StoredNonNegativeInt } from "../wire/limits.ts"
import { fingerprintOf } from "./fingerprint.ts"

/**
 * Bump when what the fold computes changes in a way the fingerprint below cannot see: it hashes the
 * persisted shape and the machines' structure, not the code of the fold.
 */
export const STATE_SHAPE_VERSION = 1

/** The folded state of a profile, as the profile needs it to start without the log's beginning. */
export interface FoldedProfile {
  readonly state: ChatState
  /** The keys the profile was created with (its first record): checked against the identity file. */
  readonly createdKeys: PublicKeys | null
}

const Count = StoredNonNegativeInt
const Key = Schema.String.check(Schema.isMaxLength(512))
const entries = <V extends Schema.Top>(value: V) => Schema.Array(Schema.Tuple([Key, value]))

const machineSnapshot = <C extends Schema.Top>(states: ReadonlyArray<string>, context: C) =>
  Schema.Struct({ value: Schema.Literals(states), context })

const Stance = Schema.Struct({ attempt: Count, wants: Schema.Boolean, conditional: Schema.Boolean, refuses: Schema.NullOr(Count) })

const ConversationContext = Schema.Struct({
  peer: UserId,
  topic: Topic,
  mine: Stance,
  theirs: Stance,
  lastOutcome: Schema.Literals(["none", "refused", "refused-by-me", "timed-out", "left", "peer-left"]),
})

const Lineage = Schema.Struct({ foundedClock: Count, foundedBy: UserId })

const GroupContext = Schema.Struct({
  me: UserId,
  name: GroupName,
  info: Schema.NullOr(GroupInfo),
  joinAttempt: Count,
  refusedAttempt: Count,
  settledAttempt: Count,
  leaving: Schema.Boolean,
  pending: Schema.Array(Schema.Struct({ user: UserId, attempt: Count })).check(Schema.isMaxLength(MAX_PENDING_JOINS)),
  refused: Schema.Record(Schema.String, Count),
  buried: Schema.NullOr(Lineage),
  waiting: Schema.NullOr(GroupInfo),
})

const stateNames = (machine: { readonly root: { readonly states: Readonly<Record<string, unknown>> } }) => Object.keys(machine.root.states)

const PresenceSnapshot = machineSnapshot(stateNames(presenceMachine), Schema.Struct({ session: Schema.Int, connection: Schema.Int }))
const ConversationSnapshot = machineSnapshot(stateNames(conversationMachine), ConversationContext)
const GroupSnapshot = machineSnapshot(stateNames(groupMachine), GroupContext)

const RequestKind = Schema.Literals(["chat", "group"])

const Persisted = Schema.Struct({
  fingerprint: Schema.String,
  createdKeys: Schema.NullOr(PublicKeys),
  me: Schema.NullOr(UserId),
  session: Count,
  online: Schema.Boolean,
  clock: Count,
  lastSeq: Count,
  presence: entries(PresenceSnapshot),
  conversations: entries(ConversationSnapshot),
  conversationSince: entries(Count),
  dismissed: Schema.Array(Key),
  groups: entries(GroupSnapshot),
  requests: Schema.Array(Schema.Struct({
    kind: RequestKind,
    from: UserId,
    group: Schema.NullOr(GroupName),
    requestId: MessageId,
    at: Count,
    status: Schema.Literals(["pending", "accepted", "refused", "expired", "withdrawn"]),
  })).check(Schema.isMaxLength(MAX_REQUEST_HISTORY)),
  acceptances: Schema.Array(Schema.Struct({
    kind: RequestKind,
    by: Schema.Literals(["me", "peer"]),
    peer: UserId,
    group: Schema.NullOr(GroupName),
    topic: Topic,
    at: Count,
  })).check(Schema.isMaxLength(MAX_REQUEST_HISTORY)),
  topics: entries(Schema.Struct({ messages: Count, sent: Count, lastAt: Count, lastSeq: Count })),
  inbound: entries(Schema.Struct({
    shown: Count,
    held: Schema.Array(DomainEvent),
    heldSince: Count,
    resendAskedAt: Schema.NullOr(Count),
  })),
  index: Schema.Struct({
    incoming: Count,
    unopened: Schema.Struct({ numberOf: entries(Count), peerAt: entries(UserId), head: Count, next: Count }),
    waiting: entries(Count),
    holding: Schema.Array(Key),
    topicSenders: entries(Schema.Array(UserId)),
    joined: Schema.Array(Key),
    coMembers: entries(Count),
    outside: Count,
    outsideByFounder: entries(Count),
    pendingJoins: Count,
  }),
  trust: Schema.Struct({
    pins: Schema.Record(Schema.String, PublicKeys),
    keyChanges: Schema.Record(Schema.String, PublicKeys),
    groupKeys: Schema.Record(Schema.String, Schema.Array(Schema.Struct({
      version: Count,
      from: UserId,
      key: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{43}$/)),
    })).check(Schema.isMaxLength(MAX_GROUP_KEYS_KEPT))),
  }),
  /**
   * Up to 100,000 ids and times: one string each (ids newline-separated, times comma-separated),
   * checked by `restoreSeen` in one pass — a Schema array of that length costs a third of a second.
   */
  seen: Schema.Struct({
    capacity: Count,
    count: Count.check(Schema.isLessThanOrEqualTo(MAX_SEEN_IDS)),
    ids: Schema.String.check(Schema.isMaxLength(MAX_SEEN_IDS * 80)),
    times: Schema.String.check(Schema.isMaxLength(MAX_SEEN_IDS * 17)),
    horizon: Count,
  }),
  outbox: Schema.Array(Outgoing),
})
type Persisted = typeof Persisted.Type

const decodePersisted = Schema.decodeUnknownResult(Persisted)
const encodeOutgoing = Schema.encodeSync(Outgoing)

/**
 * The state's shape, hashed: the shape version, the JSON Schema of the persisted form, and the
 * machines' definitions (states, transitions, guard and action names). Deliberately not the fold's
 * function sources: the bundle (esbuild) and the sources (tsx) print those differently, and a
 * snapshot must be readable by both. A change to what the fold computes that keeps this shape must
 * bump STATE_SHAPE_VERSION (docs/decisions/011-state-snapshots.md).
 */
export const STATE_FINGERPRINT: string = fingerprintOf([
  `state-shape ${STATE_SHAPE_VERSION}`,
  JSON.stringify(Schema.toJsonSchemaDocument(Persisted)),
  `MAX_UNOPENED ${MAX_UNOPENED} MAX_SEEN_IDS ${MAX_SEEN_IDS} MAX_REQUEST_HISTORY ${MAX_REQUEST_HISTORY}`,
  JSON.stringify(conversationMachine.root.definition),
  JSON.stringify(groupMachine.root.definition),
  JSON.stringify(presenceMachine.root.definition),
])

const sortedEntries = <V, B>(map: PersistentMap<V>, f: (value: V) => B): Array<readonly [string, B]> =>
  [...map.keys()].sort().map((key) => [key, f(map.get(key)!)] as const)

const keysOf = (map: PersistentMap<true>): Array<string> => [...map.keys()].sort()

const encodeIndex = (index: StateIndex) => ({
  incoming: index.incoming,
  unopened: {
    numberOf: sortedEntries(index.unopened.numberOf, (n) => n),
    peerAt: sortedEntries(index.unopened.peerAt, (p) => p),
    head: index.unopened.head,
    next: index.unopened.next,
  },
  waiting: sortedEntries(index.waiting, (n) => n),
  holding: keysOf(index.holding),
  topicSenders: sortedEntries(index.topicSenders, (senders) => senders),
  joined: keysOf(index.joined),
  coMembers: sortedEntries(index.coMembers, (n) => n),
  outside: index.outside,
  outsideByFounder: sortedEntries(index.outsideByFounder, (n) => n),
  pendingJoins: index.pendingJoins,
})

/** The state as JSON text (keys of every map sorted: the same state gives the same text). */
export const encodeFoldedProfile = (folded: FoldedProfile): string => {
  const { state } = folded
  const persisted = {
    fingerprint: STATE_FINGERPRINT,
    createdKeys: folded.createdKeys,
    me: state.me,
    session: state.session,
    online: state.online,
    clock: state.clock,
    lastSeq: state.lastSeq,
    presence: sortedEntries(state.presence, (s) => ({ value: s.value, context: s.context })),
    conversations: sortedEntries(state.conversations, (s) => ({ value: s.value, context: s.context })),
    conversationSince: sortedEntries(state.conversationSince, (at) => at),
    dismissed: keysOf(state.dismissed),
    groups: sortedEntries(state.groups, (s) => ({ value: s.value, context: s.context })),
    requests: state.requests,
    acceptances: state.acceptances,
    topics: sortedEntries(state.topics, (t) => t),
    inbound: sortedEntries(state.inbound, (o) => o),
    index: encodeIndex(state.index),
    trust: state.trust,
    seen: encodeSeen(state.seen.persisted()),
    outbox: state.outbox.values().map((out) => encodeOutgoing(out)),
  }
  return JSON.stringify(persisted)
}

class Invalid extends Error {}

const encodeSeen = (seen: PersistedSeenIds) => ({
  capacity: seen.capacity,
  count: seen.ids.length,
  ids: seen.ids.join("\n"),
  times: seen.times.join(","),
  horizon: seen.horizon,
})

/** A seen key: sender and envelope id (chat-state.ts `seenKey`). */
const SEEN_KEY = /^user-[0-9]{1,12}\/[A-Za-z0-9_-]{8,64}$/
const DIGIT_0 = 48
const DIGIT_9 = 57
const COMMA = 44

/**
 * The times `0|[1-9][0-9]{0,15}` joined by commas, parsed in one pass over the characters (a split
 * and a regex per time cost several times as much for 100,000 of them). Throws on anything else.
 */
const parseTimes = (text: string, count: number): Array<number> => {
  const times = new Array<number>(count)
  let n = 0
  let value = 0
  let digits = 0
  // One turn per character, plus the end: text.length + 1 turns.
  for (let i = 0; i <= text.length; i++) {
    const code = i === text.length ? COMMA : text.charCodeAt(i)
    if (code === COMMA) {
      if (digits === 0 || n >= count || !Number.isSafeInteger(value)) throw new Invalid(`seen: time ${n} is not a time`)
      times[n++] = value
      value = 0
      digits = 0
      continue
    }
    if (code < DIGIT_0 || code > DIGIT_9 || (digits === 1 && value === 0) || digits === 16) throw new Invalid(`seen: time ${n} is not a time`)
    value = value * 10 + (code - DIGIT_0)
    digits++
  }
  if (n !== count) throw new Invalid("seen: times and count disagree")
  return times
}

/**
 * The ids are checked one by one but not put in a `Set` here: that waits for the set's first
 * question (chat-state.ts `SeenIds`), where an id repeated, which no writer makes, counts once.
 */
const restoreSeen = (seen: Persisted["seen"]): SeenIds => {
  if (seen.capacity !== MAX_SEEN_IDS) throw new Invalid(`seen: capacity ${seen.capacity}`)
  const ids = seen.count === 0 ? [] : seen.ids.split("\n")
  if (ids.length !== seen.count || (seen.count === 0 && seen.times !== "")) throw new Invalid("seen: ids, times and count disagree")
  const numbers = seen.count === 0 ? [] : parseTimes(seen.times, seen.count)
  for (let i = 0; i < ids.length; i++) {
    if (!SEEN_KEY.test(ids[i]!)) throw new Invalid(`seen: ${ids[i]!.slice(0, 80)} is not a seen key`)
  }
  try {
    return SeenIds.restored({ capacity: seen.capacity, ids, times: numbers, horizon: seen.horizon })
  } catch (error) {
    throw new Invalid(error instanceof Error ? error.message : String(error))
  }
}

const mapOf = <V, B>(pairs: ReadonlyArray<readonly [string, V]>, f: (value: V, key: string) => B, what: string): PersistentMap<B> => {
  const map = PersistentMap.fromEntries(pairs.map(([key, value]) => [key, f(value, key)] as const))
  if (map.size !== pairs.length) throw new Invalid(`${what}: a key appears twice`)
  return map
}

const trueMapOf = (keys: ReadonlyArray<string>, what: string): PersistentMap<true> => mapOf(keys.map((key) => [key, true] as const), () => true as const, what)

const restoreIndex = (index: Persisted["index"]): StateIndex => ({
  incoming: index.incoming,
  unopened: {
    numberOf: mapOf(index.unopened.numberOf, (n) => n, "index.unopened.numberOf"),
    peerAt: mapOf(index.unopened.peerAt, (p) => p, "index.unopened.peerAt"),
    head: index.unopened.head,
    next: index.unopened.next,
  },
  waiting: mapOf(index.waiting, (n) => n, "index.waiting"),
  holding: trueMapOf(index.holding, "index.holding"),
  topicSenders: mapOf(index.topicSenders, (senders) => senders, "index.topicSenders"),
  joined: trueMapOf(index.joined, "index.joined"),
  coMembers: mapOf(index.coMembers, (n) => n, "index.coMembers"),
  outside: index.outside,
  outsideByFounder: mapOf(index.outsideByFounder, (n) => n, "index.outsideByFounder"),
  pendingJoins: index.pendingJoins,
})

const isHeld = (event: DomainEvent): event is Extract<DomainEvent, { _tag: "message.held" }> => event._tag === "message.held"

const restoreState = (p: Persisted): ChatState => {
  const outbox = new Outbox()
  for (const out of p.outbox) outbox.add(out)
  if (outbox.size !== p.outbox.length) throw new Invalid("outbox: an id appears twice")
  return {
    me: p.me,
    session: p.session,
    online: p.online,
    clock: p.clock,
    lastSeq: p.lastSeq,
    presence: mapOf(p.presence, (s) => presenceMachine.resolveState(s), "presence"),
    conversations: mapOf(p.conversations, (s, key) => {
      if (s.context.peer !== key) throw new Invalid(`conversations: ${key} holds ${s.context.peer}'s`)
      return conversationMachine.resolveState(s)
    }, "conversations"),
    conversationSince: mapOf(p.conversationSince, (at) => at, "conversationSince"),
    dismissed: trueMapOf(p.dismissed, "dismissed"),
    groups: mapOf(p.groups, (s, key) => {
      if (s.context.name !== key) throw new Invalid(`groups: ${key} holds ${s.context.name}`)
      return groupMachine.resolveState(s)
    }, "groups"),
    requests: p.requests,
    acceptances: p.acceptances,
    topics: mapOf(p.topics, (t) => t, "topics"),
    inbound: mapOf(p.inbound, (order) => {
      const held = order.held.filter(isHeld)
      if (held.length !== order.held.length) throw new Invalid("inbound: a held message that is not message.held")
      return { ...order, held }
    }, "inbound"),
    index: restoreIndex(p.index),
    trust: p.trust,
    seen: restoreSeen(p.seen),
    outbox,
  }
}

/**
 * The state `text` holds, or why it cannot be used: not JSON, not the shape, another code's
 * fingerprint, or an inner inconsistency. Never throws.
 */
export const decodeFoldedProfile = (text: string): Result.Result<FoldedProfile, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Result.fail("the state is not JSON")
  }
  // The fingerprint first: a snapshot of other code is common (every upgrade) and needs no decode.
  const fingerprint = typeof json === "object" && json !== null && "fingerprint" in json ? json.fingerprint : undefined
  if (fingerprint !== STATE_FINGERPRINT) return Result.fail(`the state was written by other code (fingerprint ${String(fingerprint).slice(0, 40)}, this code ${STATE_FINGERPRINT})`)
  const decoded = decodePersisted(json)
  if (Result.isFailure(decoded)) return Result.fail(`the state does not decode: ${decoded.failure.message.slice(0, 300)}`)
  try {
    return Result.succeed({ state: restoreState(decoded.success), createdKeys: decoded.success.createdKeys })
  } catch (error) {
    return Result.fail(`the state is inconsistent: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300))
  }
}
