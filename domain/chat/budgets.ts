/**
 * What messages nobody asked for can make me store. Anyone can publish on my control topic and on
 * the retained directories, and can mint as many ids as it likes (signed ones too, once messages
 * are signed): so every kind of unsolicited message has a bound on the state it can grow, checked
 * here in O(1) against the counters the fold keeps (`ChatState.index`), before the event is
 * stepped. What is over a bound is dropped with one of the reasons below, which name no id, so
 * that they add up by reason (`stats.droppedByReason` in the service).
 *
 * Rates (how fast a stranger's traffic is decided and stored) are the service's business: see the
 * stranger lane in service/chat-service.ts.
 */
import type { DomainEvent } from "../events.ts"
import type { GroupName, UserId } from "../ids.ts"
import { MAX_PENDING_JOINS } from "../group/group.machine.ts"
import { isContact, type ChatState } from "./chat-state.ts"

/** Unanswered one-to-one requests kept at once; more from new senders are dropped. */
export const MAX_PENDING_INCOMING = 200
/** Join requests waiting for my decision over all the groups I lead (each group also ≤ MAX_PENDING_JOINS). */
export const MAX_PENDING_JOINS_TOTAL = 1024
/** Groups I am not in (listed or dissolved) whose information I keep. */
export const MAX_LISTED_GROUPS = 1000
/** Of those, founded by one user. */
export const MAX_GROUPS_PER_FOUNDER = 32
/** Users whose presence I follow; contacts get in beyond it. */
export const MAX_PRESENCE_USERS = 10_000

export const OVER_BUDGET = {
  stanceFromStranger: (tag: string) => `${tag} from someone I have no conversation with`,
  pendingRequests: `more than ${MAX_PENDING_INCOMING} requests are waiting for an answer`,
  presenceUsers: `presence of more than ${MAX_PRESENCE_USERS} users`,
  listedGroups: `more than ${MAX_LISTED_GROUPS} groups I am not in are listed`,
  groupsPerFounder: `more than ${MAX_GROUPS_PER_FOUNDER} listed groups founded by one user`,
  unknownGroup: (tag: string) => `${tag} for a group I do not know`,
  joinsPerGroup: `more than ${MAX_PENDING_JOINS} join requests wait for one group`,
  joinsTotal: `more than ${MAX_PENDING_JOINS_TOTAL} join requests wait for my answer`,
} as const

const STANCE_TAG = { request: "chat.request", accept: "chat.accept", refuse: "chat.refuse", leave: "chat.leave" } as const

const knownGroup = (state: ChatState, group: GroupName): boolean => state.groups.get(group)?.context.info != null

/** The bound `event` (decided from a received message) would exceed, as a drop reason, or null. */
export const overBudget = (state: ChatState, event: DomainEvent): string | null => {
  switch (event._tag) {
    case "conversation.stance.received": {
      const existing = state.conversations.get(event.peer)
      // An acceptance or a refusal answers a request of mine: without a conversation there is none
      // it could answer, and nothing worth a record. A leave can withdraw a request of theirs that
      // has not reached me yet — kept as a tombstone (chat-state.ts, bounded) — but never as their
      // first move: a leave of attempt 1 withdraws nothing.
      if (event.kind === "accept" || event.kind === "refuse") return existing === undefined ? OVER_BUDGET.stanceFromStranger(STANCE_TAG[event.kind]) : null
      if (event.kind === "leave") return existing === undefined && event.attempt < 2 ? OVER_BUDGET.stanceFromStranger(STANCE_TAG[event.kind]) : null
      return existing === undefined && state.index.incoming >= MAX_PENDING_INCOMING ? OVER_BUDGET.pendingRequests : null
    }
    case "presence.observed":
      return !state.presence.has(event.user) && state.presence.size >= MAX_PRESENCE_USERS && !isContact(state, event.user) ? OVER_BUDGET.presenceUsers : null
    case "group.info.received":
    case "group.accept.received":
      return groupInfoOverBudget(state, event.info.name, event.info.foundedBy)
    case "group.join.received": {
      const snapshot = state.groups.get(event.group)
      const info = snapshot?.context.info
      if (snapshot === undefined || info == null) return OVER_BUDGET.unknownGroup("join request")
      if (snapshot.value !== "leading" || info.members.includes(event.from) || snapshot.context.pending.some((p) => p.user === event.from)) return null
      if (snapshot.context.pending.length >= MAX_PENDING_JOINS) return OVER_BUDGET.joinsPerGroup
      return state.index.pendingJoins >= MAX_PENDING_JOINS_TOTAL ? OVER_BUDGET.joinsTotal : null
    }
    case "group.refuse.received":
      return knownGroup(state, event.group) ? null : OVER_BUDGET.unknownGroup("join refusal")
    case "group.leave.received":
      return knownGroup(state, event.group) ? null : OVER_BUDGET.unknownGroup("group leave")
    default:
      return null
  }
}

/** Information on a group I am not in: new groups count against the total, new founders against theirs. */
const groupInfoOverBudget = (state: ChatState, group: GroupName, founder: UserId): string | null => {
  if (state.index.joined.has(group)) return null
  const current = state.groups.get(group)?.context.info ?? null
  if (current === null && state.index.outside >= MAX_LISTED_GROUPS) return OVER_BUDGET.listedGroups
  if (current?.foundedBy !== founder && (state.index.outsideByFounder.get(founder) ?? 0) >= MAX_GROUPS_PER_FOUNDER) return OVER_BUDGET.groupsPerFounder
  return null
}
