/**
 * What the ChatService offers its callers, apart from the service itself: the listings, messages and
 * notices it hands out, its options and the parsing of user input. chat-service.ts re-exports it.
 */
import { Effect, Result, Schema } from "effect"
import type { ConversationContext } from "../conversation/conversation.machine.ts"
import type { LogRecord } from "../events.ts"
import { GroupName, UserId, type Topic } from "../ids.ts"
import type { ConnectionState } from "../ports/transport.port.ts"
import type { PublicKeys } from "../trust/identity.ts"
import type { StrangerLimits } from "./lanes.ts"

export class CommandRejected extends Schema.TaggedError<CommandRejected>()("CommandRejected", {
  message: Schema.String,
}) {}

export interface UserListing {
  readonly user: UserId
  readonly status: "online" | "offline" | "unknown"
  readonly conversation: "idle" | "outgoing" | "incoming" | "active" | "closed"
  /** How the last attempt with this user ended (refused, timed out, left…), for the UI. */
  readonly lastOutcome: ConversationContext["lastOutcome"]
}

export interface GroupListing {
  readonly name: GroupName
  readonly leader: UserId
  readonly members: ReadonlyArray<UserId>
  readonly me: "absent" | "listed" | "joining" | "member" | "leading"
  readonly pending: ReadonlyArray<UserId>
}

export interface ChatMessage {
  readonly seq: number
  readonly id: string
  readonly topic: Topic
  readonly from: UserId
  readonly text: string
  /** Sender's clock for received messages, my clock for sent ones (ms). */
  readonly at: number
  readonly mine: boolean
}

export interface WhoIs {
  readonly user: UserId
  /** Pinned on first contact; null when nothing signed from them was stored yet. */
  readonly keys: PublicKeys | null
  readonly fingerprint: string | null
  /** The same 60 digits on both screens when nobody sits between. */
  readonly safetyNumber: string | null
  /** Other keys they signed with since: refused until trusted. */
  readonly changed: { readonly keys: PublicKeys; readonly fingerprint: string; readonly safetyNumber: string } | null
}

/** What the UI listens to. */
export type ChatNotice =
  | { readonly _tag: "changed" }
  | { readonly _tag: "message"; readonly message: ChatMessage }
  | { readonly _tag: "dropped"; readonly topic: string; readonly reason: string }
  | { readonly _tag: "connection"; readonly state: ConnectionState }
  | { readonly _tag: "error"; readonly message: string }
  /** A chat message of mine (ChatMessage.id) reached the broker: its QoS 1 publish was acknowledged (PUBACK). */
  | { readonly _tag: "published"; readonly id: string }

export interface ChatServiceOptions {
  /** How long a one-to-one request waits for an answer. Long by default: the peer may be offline. */
  readonly requestTimeoutMs: number
  /** How often the timeout sweep runs. */
  readonly sweepIntervalMs: number
  /**
   * How long a message that arrived ahead of an earlier one waits for it before it is shown anyway,
   * counted while connected (the missing one cannot arrive while we are not).
   */
  readonly gapWaitMs: number
  /** Bounds on strangers' traffic (lanes.ts); defaults: `defaultStrangerLimits`. */
  readonly strangers?: Partial<StrangerLimits>
}

export const defaultChatServiceOptions: ChatServiceOptions = {
  requestTimeoutMs: 24 * 60 * 60 * 1000,
  sweepIntervalMs: 1000,
  gapWaitMs: 5000,
}


export const messageOf = (record: LogRecord, me: UserId): ChatMessage | null => {
  const event = record.event
  if (event._tag === "message.sent") return { seq: record.seq, id: event.id, topic: event.topic, from: me, text: event.text, at: record.at, mine: true }
  if (event._tag === "message.received") {
    return { seq: record.seq, id: event.id, topic: event.topic, from: event.from, text: event.text, at: event.sentAt, mine: false }
  }
  return null
}

const decodeUserId = Schema.decodeUnknownResult(UserId)
const decodeGroupName = Schema.decodeUnknownResult(GroupName)

export const parseUser = (input: string): Effect.Effect<UserId, CommandRejected> => {
  const decoded = decodeUserId(input.trim())
  return Result.isSuccess(decoded)
    ? Effect.succeed(decoded.success)
    : Effect.fail(new CommandRejected({ message: `not a user id: ${JSON.stringify(input.slice(0, 40))} (expected user-NNNNN)` }))
}

export const parseGroup = (input: string): Effect.Effect<GroupName, CommandRejected> => {
  const decoded = decodeGroupName(input.trim())
  return Result.isSuccess(decoded)
    ? Effect.succeed(decoded.success)
    : Effect.fail(new CommandRejected({ message: `not a group name: ${JSON.stringify(input.slice(0, 40))} (letters, digits, _ and -, at most 32)` }))
}
