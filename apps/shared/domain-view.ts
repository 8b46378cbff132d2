/**
 * What a user's chat knew at one record of its log, in the chat's own words rather than the
 * machines': who is online, where each conversation stands, each group's leader and members, the
 * requests waiting, unread messages, messages held back for a gap, and the outbox. Pure: a folded
 * state in, plain data out. The replay tool prints it (`state`), diffs it (`state --diff`) and
 * shows it on the chat screen (`view`).
 *
 * "Unread" is not in the log (the chat keeps read counts in ui-state.json, for now only): here it
 * is the messages received on a conversation since my last message there — what I had not
 * answered yet, counted by `ViewFold` next to the fold.
 */
import { conversationView, evolve, groupView, initialChatState, type ChatState } from "../../domain/chat/chat-state.ts"
import type { LogRecord } from "../../domain/events.ts"
import { topics, type GroupName, type UserId } from "../../domain/ids.ts"
import type { GroupListing, UserListing } from "../../domain/service/chat-service.ts"

/** Outbox entries listed one by one; the rest are counted per topic. */
export const MAX_LISTED_OUTBOX = 10
/** Requests listed one by one. */
export const MAX_LISTED_REQUESTS = 20

/** A fold of the log that also counts what the domain view needs beyond the state: unread messages. */
export class ViewFold {
  /** Per topic: messages received since my last message there. */
  readonly unread: Map<string, number>

  constructor(
    public state: ChatState = initialChatState(),
    unread: ReadonlyMap<string, number> = new Map(),
    /** `at` of the last record folded. */
    public lastAt: number | null = null,
  ) {
    this.unread = new Map(unread)
  }

  apply(record: LogRecord): void {
    this.state = evolve(this.state, record)
    this.lastAt = record.at
    const event = record.event
    if (event._tag === "message.sent") this.unread.set(event.topic, 0)
    else if (event._tag === "message.received") this.unread.set(event.topic, (this.unread.get(event.topic) ?? 0) + 1)
  }
}

/** The users the chat lists (everyone seen, or talked to, but me): the same rows as ChatService.listUsers. */
export const userListings = (state: ChatState): ReadonlyArray<UserListing> => {
  const users = new Set<string>([...[...state.presence.keys()], ...[...state.conversations.keys()]])
  if (state.me !== null) users.delete(state.me)
  return [...users].sort().map((user): UserListing => {
    const presence = state.presence.get(user)
    const status = presence === undefined ? "unknown" : presence.value === "online" ? "online" : presence.value === "offline" ? "offline" : "unknown"
    return { user: user as UserId, status, conversation: conversationView(state, user as UserId), lastOutcome: state.conversations.get(user)?.context.lastOutcome ?? "none" }
  })
}

/** The groups the chat lists (known and not dissolved): the same rows as ChatService.listGroups. */
export const groupListings = (state: ChatState): ReadonlyArray<GroupListing> =>
  [...state.groups.values()]
    .flatMap((snapshot) => {
      const info = snapshot.context.info
      if (info === null || info.dissolved) return []
      return [{ name: info.name, leader: info.leader, members: info.members, me: groupView(state, info.name), pending: snapshot.context.pending.map((p) => p.user) }]
    })
    .sort((a, b) => a.name.localeCompare(b.name))

export interface UserView {
  readonly presence: UserListing["status"]
  readonly conversation: UserListing["conversation"]
  /** How the last attempt ended (refused, timed out, left…). */
  readonly lastOutcome: UserListing["lastOutcome"]
  readonly topic: string | null
  readonly messages: number
  readonly unread: number
}

export interface GroupView {
  readonly me: GroupListing["me"]
  readonly leader: string | null
  readonly members: ReadonlyArray<string>
  readonly version: number | null
  readonly dissolved: boolean
  /** Join requests waiting for the leader (me, if I lead). */
  readonly pending: ReadonlyArray<string>
  readonly messages: number
  readonly unread: number
  /** Versions whose group key I hold (the keys themselves are secrets and never shown). */
  readonly keyVersions: ReadonlyArray<number>
}

export interface HeldView {
  readonly topic: string
  readonly from: string
  /** The highest number shown: the held ones wait for the numbers between. */
  readonly shown: number
  readonly held: ReadonlyArray<number>
  readonly since: number
  readonly resendAskedAt: number | null
}

export interface DomainView {
  readonly me: string | null
  readonly seq: number
  readonly at: number | null
  readonly clock: number
  readonly session: number
  /** My own session: between session.started and session.ended. */
  readonly online: boolean
  readonly users: Readonly<Record<string, UserView>>
  readonly groups: Readonly<Record<string, GroupView>>
  readonly requests: {
    readonly pending: ReadonlyArray<{ readonly kind: "chat" | "group"; readonly from: string; readonly group: string | null; readonly at: number }>
    readonly answered: number
  }
  readonly acceptances: number
  readonly held: ReadonlyArray<HeldView>
  readonly outbox: {
    readonly count: number
    readonly byTopic: Readonly<Record<string, number>>
    readonly oldest: ReadonlyArray<{ readonly id: string; readonly topic: string; readonly body: string }>
  }
  readonly trust: { readonly pinned: number; readonly keyChanges: ReadonlyArray<string> }
}

const messagesOn = (state: ChatState, topic: string | null): number => (topic === null ? 0 : state.topics.get(topic)?.messages ?? 0)

const usersOf = (fold: ViewFold): Record<string, UserView> => {
  const { state } = fold
  const users: Record<string, UserView> = {}
  for (const listing of userListings(state)) {
    const topic = state.me === null ? null : topics.talk(state.me, listing.user)
    users[listing.user] = {
      presence: listing.status,
      conversation: listing.conversation,
      lastOutcome: listing.lastOutcome,
      topic: listing.conversation === "idle" ? null : topic,
      messages: messagesOn(state, topic),
      unread: topic === null ? 0 : fold.unread.get(topic) ?? 0,
    }
  }
  return users
}

const groupsOf = (fold: ViewFold): Record<string, GroupView> => {
  const { state } = fold
  const groups: Record<string, GroupView> = {}
  for (const name of [...state.groups.keys()].sort()) {
    const context = state.groups.get(name)!.context
    const me = groupView(state, name as GroupName)
    if (context.info === null && me === "absent") continue
    const topic = topics.groupTalk(name as GroupName)
    groups[name] = {
      me,
      leader: context.info?.leader ?? null,
      members: context.info?.members ?? [],
      version: context.info?.version ?? null,
      dissolved: context.info?.dissolved ?? false,
      pending: context.pending.map((p) => p.user),
      messages: messagesOn(state, topic),
      unread: fold.unread.get(topic) ?? 0,
      keyVersions: (state.trust.groupKeys[name] ?? []).map((k) => k.version),
    }
  }
  return groups
}

const outboxOf = (state: ChatState): DomainView["outbox"] => {
  const entries = state.outbox.values()
  const byTopic: Record<string, number> = {}
  for (const out of entries) byTopic[out.topic] = (byTopic[out.topic] ?? 0) + 1
  return {
    count: entries.length,
    byTopic,
    oldest: entries.slice(0, MAX_LISTED_OUTBOX).map((out) => ({ id: out.envelope.id, topic: out.topic, body: out.envelope.body._tag })),
  }
}

export const domainView = (fold: ViewFold): DomainView => {
  const { state } = fold
  const pending = state.requests.filter((r) => r.status === "pending")
  return {
    me: state.me,
    seq: state.lastSeq,
    at: fold.lastAt,
    clock: state.clock,
    session: state.session,
    online: state.online,
    users: usersOf(fold),
    groups: groupsOf(fold),
    requests: { pending: pending.map((r) => ({ kind: r.kind, from: r.from, group: r.group, at: r.at })), answered: state.requests.length - pending.length },
    acceptances: state.acceptances.length,
    held: [...state.inbound.entries()]
      .filter(([, order]) => order.held.length > 0)
      .map(([key, order]) => {
        const space = key.lastIndexOf(" ")
        return { topic: key.slice(0, space), from: key.slice(space + 1), shown: order.shown, held: order.held.map((h) => h.n), since: order.heldSince, resendAskedAt: order.resendAskedAt }
      }),
    outbox: outboxOf(state),
    trust: { pinned: Object.keys(state.trust.pins).length, keyChanges: Object.keys(state.trust.keyChanges).sort() },
  }
}
