/**
 * Counters and indexes the fold keeps beside the state's maps (`ChatState.index`), so that no
 * decision, sweep or subscription update has to scan the state: the cost of one message must not
 * grow with the number of conversations or groups held (bench/flood.bench.ts). Each is kept by the
 * step that changes what it counts (chat-state.ts), from the snapshot before and after.
 */
import type { GroupName, UserId } from "../ids.ts"
import type { ConversationSnapshot, GroupSnapshot } from "./chat-state.ts"
import { PersistentMap } from "./persistent-map.ts"

/** Maps are persistent: a change costs O(log N). */
export interface StateIndex {
  /** Conversations whose view is `incoming`: requests waiting for my answer. */
  readonly incoming: number
  /** Closed conversations nobody opened, oldest first (see `isUnopened`). */
  readonly unopened: Unopened
  /** Conversations waiting for an answer (incoming or outgoing), with since when: the timeout sweep reads these. */
  readonly waiting: PersistentMap<number>
  /** `inbound` keys whose order holds messages behind a gap: the gap sweep reads these. */
  readonly holding: PersistentMap<true>
  /** Per talk topic, the senders with an order in `inbound`: re-opening a topic forgets theirs without a scan. */
  readonly topicSenders: PersistentMap<ReadonlyArray<UserId>>
  /** Groups I am in (member, leading) or asking to join. */
  readonly joined: PersistentMap<true>
  /** Users listed in those groups, with in how many: who my contacts are, without a scan. */
  readonly coMembers: PersistentMap<number>
  /** Groups I hold information on and am not in (listed, or dissolved): in all, and per founder. */
  readonly outside: number
  readonly outsideByFounder: PersistentMap<number>
  /** Join requests waiting for my decision, over every group I lead. */
  readonly pendingJoins: number
}

export const emptyIndex = (): StateIndex => ({
  incoming: 0,
  unopened: emptyUnopened(),
  waiting: PersistentMap.empty(),
  holding: PersistentMap.empty(),
  topicSenders: PersistentMap.empty(),
  joined: PersistentMap.empty(),
  coMembers: PersistentMap.empty(),
  outside: 0,
  outsideByFounder: PersistentMap.empty(),
  pendingJoins: 0,
})

/**
 * A closed conversation in which I never moved: a request withdrawn before I answered, or a leave
 * that came before the request it withdraws. It is kept as a tombstone — the peer's highest
 * attempt, so that its own older request arriving late (brokers reorder across reconnects) does
 * not come back as a new one — but at most MAX_UNOPENED of them, the oldest forgotten first
 * (`index.unopened`): a stream of withdrawn requests from fake ids must not grow the state. One I
 * moved in (asked, accepted, refused) is never forgotten: the peer orders my stances by attempt,
 * and a forgotten attempt of mine would be used again and ignored as old (the simulator found it).
 */
export const isUnopened = (snapshot: ConversationSnapshot | undefined): boolean =>
  snapshot !== undefined && snapshot.value === "closed" && snapshot.context.mine.attempt === 0

export const MAX_UNOPENED = 1000

/** The tombstones in the order they were made: a FIFO as two persistent maps (peer → number, number → peer). */
export interface Unopened {
  readonly numberOf: PersistentMap<number>
  readonly peerAt: PersistentMap<UserId>
  /** The oldest number that may still be in use, and the next one to give. */
  readonly head: number
  readonly next: number
}

const emptyUnopened = (): Unopened => ({ numberOf: PersistentMap.empty(), peerAt: PersistentMap.empty(), head: 0, next: 0 })

const withoutUnopened = (u: Unopened, peer: UserId): Unopened => {
  const number = u.numberOf.get(peer)
  return number === undefined ? u : { ...u, numberOf: u.numberOf.remove(peer), peerAt: u.peerAt.remove(String(number)) }
}

/** Adds `peer`; returns the tombstones and whom to forget (the oldest, past MAX_UNOPENED). */
const withUnopened = (u: Unopened, peer: UserId): { readonly unopened: Unopened; readonly evicted: UserId | null } => {
  const added: Unopened = { ...u, numberOf: u.numberOf.set(peer, u.next), peerAt: u.peerAt.set(String(u.next), peer), next: u.next + 1 }
  if (added.numberOf.size <= MAX_UNOPENED) return { unopened: added, evicted: null }
  // Numbers freed by a tombstone that reopened are skipped: each is skipped once (amortised O(1)).
  let head = added.head
  while (head < added.next && !added.peerAt.has(String(head))) head += 1
  const oldest = added.peerAt.get(String(head))!
  return { unopened: { ...withoutUnopened(added, oldest), head: head + 1 }, evicted: oldest }
}


const isWaiting = (value: unknown): boolean => value === "incoming" || value === "outgoing"

/**
 * What one conversation's step changes in the index (`before` undefined: it did not exist):
 * unanswered requests, conversations waiting for an answer, tombstones. `evicted`: the tombstone
 * forgotten to make room, whose conversation the caller removes.
 */
export const indexConversation = (
  index: StateIndex,
  peer: UserId,
  before: ConversationSnapshot | undefined,
  after: ConversationSnapshot,
  at: number,
): { readonly index: StateIndex; readonly evicted: UserId | null } => {
  const beforeValue = before?.value ?? "idle"
  let waiting = index.waiting
  if (isWaiting(beforeValue) && !isWaiting(after.value)) waiting = waiting.remove(peer)
  if (isWaiting(after.value) && after.value !== beforeValue) waiting = waiting.set(peer, at)
  const incoming = index.incoming - (beforeValue === "incoming" ? 1 : 0) + (after.value === "incoming" ? 1 : 0)
  let unopened = index.unopened
  let evicted: UserId | null = null
  if (isUnopened(before) && !isUnopened(after)) unopened = withoutUnopened(unopened, peer)
  if (!isUnopened(before) && isUnopened(after)) {
    const added = withUnopened(unopened, peer)
    unopened = added.unopened
    evicted = added.evicted
  }
  const same = waiting === index.waiting && incoming === index.incoming && unopened === index.unopened
  return { index: same ? index : { ...index, waiting, incoming, unopened }, evicted }
}

const isInside = (value: unknown): boolean => value === "member" || value === "leading" || value === "joining"

const NO_MEMBERS: ReadonlyArray<UserId> = []

/** Co-member counts after one of my groups went from listing `before` to listing `after` (≤ 256 each). */
const countMembers = (counts: PersistentMap<number>, before: ReadonlyArray<UserId>, after: ReadonlyArray<UserId>): PersistentMap<number> => {
  const had = new Set(before)
  const has = new Set(after)
  let next = counts
  for (const user of had) {
    if (has.has(user)) continue
    const left = (next.get(user) ?? 1) - 1
    next = left === 0 ? next.remove(user) : next.set(user, left)
  }
  for (const user of has) if (!had.has(user)) next = next.set(user, (next.get(user) ?? 0) + 1)
  return next
}

/** What one group's step changes in the index: membership, groups I am not in, pending joins. */
export const indexGroup = (index: StateIndex, group: GroupName, before: GroupSnapshot, after: GroupSnapshot): StateIndex => {
  const outsideFounder = (s: GroupSnapshot): UserId | null => (s.context.info !== null && !isInside(s.value) ? s.context.info.foundedBy : null)
  const wasOutside = outsideFounder(before)
  const isOutside = outsideFounder(after)
  const pendingDelta = after.context.pending.length - before.context.pending.length
  const insideChanged = isInside(before.value) !== isInside(after.value)
  const membersBefore = isInside(before.value) ? before.context.info?.members ?? NO_MEMBERS : NO_MEMBERS
  const membersAfter = isInside(after.value) ? after.context.info?.members ?? NO_MEMBERS : NO_MEMBERS
  if (wasOutside === isOutside && pendingDelta === 0 && !insideChanged && membersBefore === membersAfter) return index
  let outsideByFounder = index.outsideByFounder
  if (wasOutside !== isOutside) {
    if (wasOutside !== null) {
      const left = (outsideByFounder.get(wasOutside) ?? 1) - 1
      outsideByFounder = left === 0 ? outsideByFounder.remove(wasOutside) : outsideByFounder.set(wasOutside, left)
    }
    if (isOutside !== null) outsideByFounder = outsideByFounder.set(isOutside, (outsideByFounder.get(isOutside) ?? 0) + 1)
  }
  return {
    ...index,
    coMembers: membersBefore === membersAfter ? index.coMembers : countMembers(index.coMembers, membersBefore, membersAfter),
    joined: !insideChanged ? index.joined : isInside(after.value) ? index.joined.set(group, true) : index.joined.remove(group),
    outside: index.outside - (wasOutside !== null ? 1 : 0) + (isOutside !== null ? 1 : 0),
    outsideByFounder,
    pendingJoins: index.pendingJoins + pendingDelta,
  }
}


/** The index as plain JSON (for stateToJson). */
export const indexToJson = (index: StateIndex) => ({
  ...index,
  unopened: { ...index.unopened, numberOf: index.unopened.numberOf.toJSON(), peerAt: index.unopened.peerAt.toJSON() },
  waiting: index.waiting.toJSON(),
  holding: index.holding.toJSON(),
  topicSenders: index.topicSenders.toJSON(),
  joined: index.joined.toJSON(),
  coMembers: index.coMembers.toJSON(),
  outsideByFounder: index.outsideByFounder.toJSON(),
})
