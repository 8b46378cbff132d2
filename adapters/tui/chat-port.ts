/**
 * What the terminal UI needs from the chat, as plain promises and callbacks: widget code stays free
 * of Effect, and a test can drive the UI with any implementation. `bridgeChatService` adapts the
 * real ChatService.
 */
import { Cause, Effect, Exit, Fiber, Stream } from "effect"
import type { AcceptanceEntry, ChatState, RequestEntry, TopicSummary } from "../../domain/chat/chat-state.ts"
import type { ChatTarget } from "../../domain/chat/decide.ts"
import type { GroupName, UserId } from "../../domain/ids.ts"
import type { ConnectionState } from "../../domain/ports/transport.port.ts"
import type { ChatMessage, ChatNotice, ChatService, GroupListing, UserListing, WhoIs } from "../../domain/service/chat-service.ts"

export type { ChatMessage, ChatNotice, ConnectionState, GroupListing, UserListing, WhoIs }

/** How a conversation last ended, for the UI's notes ("refused", "left", …). */
export type ConversationOutcome = "none" | "refused" | "refused-by-me" | "timed-out" | "left" | "peer-left"

/** Everything the side list, the title and the popups show, read at once. */
export interface ChatSnapshot {
  readonly users: ReadonlyArray<UserListing>
  readonly groups: ReadonlyArray<GroupListing>
  readonly requests: ReadonlyArray<RequestEntry>
  readonly acceptances: ReadonlyArray<AcceptanceEntry>
  /** Message count and last sequence number per conversation topic. */
  readonly topics: ReadonlyMap<string, TopicSummary>
  readonly outcomes: Readonly<Record<string, ConversationOutcome>>
  readonly lastSeq: number
  /** Users whose keys changed: their messages are refused until trusted (/whois, /trust). */
  readonly keyChanges: ReadonlyArray<string>
  /** Peers whose ended conversation was closed (/close): no buffer, even with a history. */
  readonly closed: ReadonlySet<string>
  /** Ids of my chat messages the broker has not acknowledged yet (the outbox): shown pending. */
  readonly unsent: ReadonlySet<string>
}

export type ChatAction =
  | { readonly _tag: "createGroup"; readonly group: string }
  | { readonly _tag: "joinGroup"; readonly group: string }
  | { readonly _tag: "leaveGroup"; readonly group: string }
  | { readonly _tag: "acceptJoin"; readonly group: string; readonly user: string }
  | { readonly _tag: "refuseJoin"; readonly group: string; readonly user: string; readonly reason: string | null }
  | { readonly _tag: "startConversation"; readonly user: string }
  | { readonly _tag: "acceptConversation"; readonly user: string }
  | { readonly _tag: "refuseConversation"; readonly user: string; readonly reason: string | null }
  | { readonly _tag: "leaveConversation"; readonly user: string }
  | { readonly _tag: "closeConversation"; readonly user: string }
  | { readonly _tag: "send"; readonly target: ChatTarget; readonly text: string }
  | { readonly _tag: "trustKeys"; readonly user: string }

export type ActionOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string }

export interface HistoryResult {
  readonly messages: ReadonlyArray<ChatMessage>
  readonly hasMore: boolean
}

export interface SearchResult {
  /** Newest first. */
  readonly matches: ReadonlyArray<ChatMessage>
  readonly searched: number
  readonly complete: boolean
}

export interface ChatPort {
  readonly me: string
  snapshot(): ChatSnapshot
  connection(): ConnectionState
  perform(action: ChatAction): Promise<ActionOutcome>
  history(target: ChatTarget, page: { readonly beforeSeq?: number; readonly limit: number }): Promise<HistoryResult | { readonly error: string }>
  search(target: ChatTarget, query: string, limit: number): Promise<SearchResult | { readonly error: string }>
  whois(user: string): Promise<WhoIs | { readonly error: string }>
  /** Calls `listener` for every notice until the returned function is called. */
  subscribe(listener: (notice: ChatNotice) => void): () => void
  /** Publishes offline and disconnects. */
  shutdown(): Promise<void>
}

const unsentMessages = (state: ChatState): ReadonlySet<string> => {
  const ids = new Set<string>()
  for (const out of state.outbox.values()) if (out.envelope.body._tag === "chat.message" || out.envelope.body._tag === "group.message") ids.add(out.envelope.id)
  return ids
}

const outcomesOf = (state: ChatState): Record<string, ConversationOutcome> => {
  const outcomes: Record<string, ConversationOutcome> = {}
  for (const [peer, snapshot] of state.conversations) outcomes[peer] = snapshot.context.lastOutcome
  return outcomes
}

/** A rejected command's message; anything else (a defect) is reported, not thrown at the UI. */
const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") return error.message
  return String(error)
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): ActionOutcome =>
  Exit.isSuccess(exit) ? { ok: true } : { ok: false, error: describeFailure(exit.cause) }

export const bridgeChatService = (service: ChatService["Service"]): ChatPort => {
  const act = (action: ChatAction): Effect.Effect<unknown, unknown> => {
    switch (action._tag) {
      case "createGroup":
        return service.createGroup(action.group)
      case "joinGroup":
        return service.joinGroup(action.group)
      case "leaveGroup":
        return service.leaveGroup(action.group)
      case "acceptJoin":
        return service.acceptJoin(action.group, action.user)
      case "refuseJoin":
        return action.reason === null ? service.refuseJoin(action.group, action.user) : service.refuseJoin(action.group, action.user, action.reason)
      case "startConversation":
        return service.startConversation(action.user)
      case "acceptConversation":
        return service.acceptConversation(action.user)
      case "refuseConversation":
        return action.reason === null ? service.refuseConversation(action.user) : service.refuseConversation(action.user, action.reason)
      case "leaveConversation":
        return service.leaveConversation(action.user)
      case "closeConversation":
        return service.closeConversation(action.user)
      case "send":
        return service.send(action.target, action.text)
      case "trustKeys":
        return service.trustKeys(action.user)
    }
  }
  return {
    me: service.me,
    snapshot: () =>
      Effect.runSync(
        Effect.gen(function* () {
          const state = yield* service.state
          return {
            users: yield* service.listUsers(),
            groups: yield* service.listGroups(),
            requests: yield* service.requests(),
            acceptances: yield* service.acceptances(),
            topics: state.topics,
            outcomes: outcomesOf(state),
            lastSeq: state.lastSeq,
            keyChanges: Object.keys(state.trust.keyChanges),
            closed: new Set(state.dismissed.keys()),
            unsent: unsentMessages(state),
          }
        }),
      ),
    connection: () => Effect.runSync(service.connection),
    perform: (action) => Effect.runPromiseExit(act(action)).then(outcomeOf),
    history: (target, page) =>
      Effect.runPromiseExit(service.history(target, page)).then((exit) =>
        Exit.isSuccess(exit) ? exit.value : { error: describeFailure(exit.cause) },
      ),
    search: (target, query, limit) =>
      Effect.runPromiseExit(service.search(target, query, { limit })).then((exit) =>
        Exit.isSuccess(exit) ? exit.value : { error: describeFailure(exit.cause) },
      ),
    whois: (user) =>
      Effect.runPromiseExit(service.whois(user)).then((exit) => (Exit.isSuccess(exit) ? exit.value : { error: describeFailure(exit.cause) })),
    subscribe: (listener) => {
      const fiber = Effect.runFork(service.notices.pipe(Stream.runForEach((notice) => Effect.sync(() => listener(notice)))))
      return () => {
        Effect.runFork(Fiber.interrupt(fiber))
      }
    },
    shutdown: () => Effect.runPromise(service.shutdown()),
  }
}

/** The service's target for a buffer target (names were validated by the command parser and are re-validated by the service). */
export const chatTargetOf = (target: { readonly kind: "peer"; readonly user: string } | { readonly kind: "group"; readonly group: string }): ChatTarget =>
  target.kind === "peer" ? { _tag: "peer", peer: target.user as UserId } : { _tag: "group", group: target.group as GroupName }
