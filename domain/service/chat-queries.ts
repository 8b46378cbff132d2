/**
 * The read side of the chat service: what the UI lists and looks up. Pure functions of the state
 * (and the log, for history), so they need none of the decision loop's machinery.
 */
import { Effect } from "effect"
import { conversationView, groupView, isUnopened, type ChatState } from "../chat/chat-state.ts"
import { targetTopic, type ChatTarget } from "../chat/decide.ts"
import type { UserId } from "../ids.ts"
import type { EventLog, HistoryPage } from "../ports/event-log.port.ts"
import type { CryptoPrimitives } from "../ports/crypto.port.ts"
import { fingerprint, safetyNumber, type PublicKeys } from "../trust/identity.ts"
import { CommandRejected, messageOf, type ChatMessage, type GroupListing, type UserListing, type WhoIs } from "./chat-api.ts"

/** How far back a search looks, and the page it reads at a time. */
export const SEARCH_MAX_MESSAGES = 100_000
const SEARCH_PAGE = 1000

/** Everyone I know of: seen present, or in a conversation I have not closed; sorted by id. */
export const listUsers = (state: ChatState, me: UserId): ReadonlyArray<UserListing> => {
  // A closed conversation nobody opened (a tombstone, chat-state.ts) is no one the user knows.
  const users = new Set<string>(state.presence.keys())
  // …nor one closed out of sight (/close): listed only if seen present.
  for (const [peer, snapshot] of state.conversations) if (!isUnopened(snapshot) && !state.dismissed.has(peer)) users.add(peer)
  users.delete(me)
  return [...users].sort().map((user): UserListing => {
    const presence = state.presence.get(user)
    const status = presence === undefined ? "unknown" : presence.value === "online" ? "online" : presence.value === "offline" ? "offline" : "unknown"
    return {
      user: user as UserId,
      status,
      conversation: isUnopened(state.conversations.get(user)) || state.dismissed.has(user) ? "idle" : conversationView(state, user as UserId),
      lastOutcome: state.conversations.get(user)?.context.lastOutcome ?? "none",
    }
  })
}

/** The groups whose information I hold (not dissolved), by name. */
export const listGroups = (state: ChatState): ReadonlyArray<GroupListing> => {
  const listed: GroupListing[] = []
  for (const snapshot of state.groups.values()) {
    const info = snapshot.context.info
    if (info === null || info.dissolved) continue
    listed.push({ name: info.name, leader: info.leader, members: info.members, me: groupView(state, info.name), pending: snapshot.context.pending.map((p) => p.user) })
  }
  return listed.sort((a, b) => a.name.localeCompare(b.name))
}

/** A conversation's messages, newest page; `beforeSeq` pages back. */
export const historyPage = (log: EventLog["Service"], me: UserId, to: ChatTarget, page: { readonly beforeSeq?: number; readonly limit: number }) =>
  log.history(targetTopic(me, to), page).pipe(
    Effect.map((found: HistoryPage) => ({
      messages: found.records.map((r) => messageOf(r, me)).filter((m): m is ChatMessage => m !== null),
      hasMore: found.hasMore,
    })),
    Effect.mapError((error) => new CommandRejected({ message: `history: ${error.message}` })),
  )

/** Messages whose text contains `query` (case-insensitive), newest first, at most `limit`; bounded by SEARCH_MAX_MESSAGES. */
export const searchHistory = Effect.fn("ChatService.search")(function* (log: EventLog["Service"], me: UserId, to: ChatTarget, query: string, options: { readonly limit: number }) {
  const needle = query.trim().toLowerCase()
  if (needle.length === 0) return yield* new CommandRejected({ message: "search for what? /search TEXT" })
  const matches: ChatMessage[] = []
  let searched = 0
  let beforeSeq: number | undefined
  let complete = false
  // Bounded: SEARCH_MAX_MESSAGES / SEARCH_PAGE pages at most.
  while (searched < SEARCH_MAX_MESSAGES && matches.length < options.limit) {
    const page = yield* log.history(targetTopic(me, to), { limit: SEARCH_PAGE, ...(beforeSeq === undefined ? {} : { beforeSeq }) }).pipe(
      Effect.mapError((error) => new CommandRejected({ message: `search: ${error.message}` })),
    )
    searched += page.records.length
    for (const record of [...page.records].reverse()) {
      const message = messageOf(record, me)
      if (message !== null && message.text.toLowerCase().includes(needle) && matches.length < options.limit) matches.push(message)
    }
    if (!page.hasMore || page.records.length === 0) {
      complete = true
      break
    }
    beforeSeq = page.records[0]!.seq
  }
  return { matches, searched, complete }
})

/** A user's keys as pinned here (mine for me), their fingerprint, our safety number, a change waiting. */
export const whoIs = (crypto: CryptoPrimitives, state: ChatState, mine: { readonly user: UserId; readonly keys: PublicKeys }, user: UserId): WhoIs => {
  const keys = user === mine.user ? mine.keys : state.trust.pins[user] ?? null
  const changed = user === mine.user ? undefined : state.trust.keyChanges[user]
  return {
    user,
    keys,
    fingerprint: keys === null ? null : fingerprint(crypto, keys),
    safetyNumber: keys === null || user === mine.user ? null : safetyNumber(crypto, mine, { user, keys }),
    changed: changed === undefined ? null : { keys: changed, fingerprint: fingerprint(crypto, changed), safetyNumber: safetyNumber(crypto, mine, { user, keys: changed }) },
  }
}
