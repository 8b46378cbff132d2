/**
 * Domain events: the records of the append-only log. The chat state is the fold of these records
 * (see chat/chat-state.ts); a record also carries the wire messages its decision published, so the
 * log doubles as the outbox (unacknowledged sends are resent after a restart).
 */
import { Schema } from "effect"
import { GroupName, MessageId, Topic, UserId } from "./ids.ts"
import { StoredNonNegativeInt, StoredPositiveInt } from "./wire/limits.ts"
import { Envelope, GroupInfo, PresenceStatus } from "./wire/messages.ts"
import { PublicKeys } from "./trust/identity.ts"

// Any safe integer: a record an older version stored, with numbers the wire now refuses, must still
// open (domain/wire/limits.ts). The fold clamps the clock; the UI shows any time.
const NonNegativeInt = StoredNonNegativeInt
const PositiveInt = StoredPositiveInt
const Reason = Schema.String.check(Schema.isMaxLength(200))
const Text = Schema.String.check(Schema.isMaxLength(4000))

const ReceivedFields = {
  id: MessageId,
  from: UserId,
  topic: Topic,
  text: Text,
  sentAt: NonNegativeInt,
  sentClock: NonNegativeInt,
  n: PositiveInt,
}

export const MAX_OUT_PER_RECORD = 300

export const DomainEvent = Schema.Union([
  // --- profile and my own sessions
  /** `keys`: the identity's public keys (absent in logs from before signing): checked against the identity file at start. */
  Schema.TaggedStruct("profile.created", { user: UserId, keys: Schema.optionalKey(PublicKeys) }),
  Schema.TaggedStruct("session.started", { session: PositiveInt }),
  Schema.TaggedStruct("session.ended", { session: PositiveInt }),
  // --- trust: peers' keys, pinned on first contact (see trust/trust-state.ts)
  Schema.TaggedStruct("peer.key.pinned", { user: UserId, keys: PublicKeys }),
  /** A signed message came with other keys than the pinned ones: refused until the user trusts them. */
  Schema.TaggedStruct("peer.key.changed", { user: UserId, keys: PublicKeys }),
  Schema.TaggedStruct("peer.key.trusted", { user: UserId, keys: PublicKeys }),
  /** A group's key for one version of its information, unwrapped from the leader's signed copy. */
  Schema.TaggedStruct("group.key.received", { group: GroupName, version: NonNegativeInt, from: UserId, key: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{43}$/)) }),
  // --- presence of others
  Schema.TaggedStruct("presence.observed", { user: UserId, status: PresenceStatus, session: NonNegativeInt, connection: NonNegativeInt }),
  // --- one-to-one negotiation: my decisions (sent) and the peer's stances (received)
  Schema.TaggedStruct("conversation.request.sent", { peer: UserId }),
  Schema.TaggedStruct("conversation.accept.sent", { peer: UserId }),
  Schema.TaggedStruct("conversation.refuse.sent", { peer: UserId, reason: Reason }),
  Schema.TaggedStruct("conversation.leave.sent", { peer: UserId }),
  Schema.TaggedStruct("conversation.timed-out", { peer: UserId }),
  /** I closed a conversation that had ended (/close): it is out of sight until either of us moves again. Local only. */
  Schema.TaggedStruct("conversation.dismissed", { peer: UserId }),
  Schema.TaggedStruct("conversation.stance.received", {
    peer: UserId,
    kind: Schema.Literals(["request", "accept", "refuse", "leave"]),
    attempt: PositiveInt,
    refuses: Schema.NullOr(NonNegativeInt),
    requestId: MessageId,
    reason: Reason,
  }),
  // --- groups
  Schema.TaggedStruct("group.created", { group: GroupName }),
  Schema.TaggedStruct("group.info.received", { from: UserId, info: GroupInfo }),
  Schema.TaggedStruct("group.join.sent", { group: GroupName }),
  Schema.TaggedStruct("group.join.received", { group: GroupName, from: UserId, attempt: PositiveInt, requestId: MessageId }),
  Schema.TaggedStruct("group.accept.sent", { group: GroupName, member: UserId }),
  Schema.TaggedStruct("group.accept.received", { from: UserId, attempt: PositiveInt, info: GroupInfo }),
  Schema.TaggedStruct("group.refuse.sent", { group: GroupName, member: UserId, reason: Reason }),
  Schema.TaggedStruct("group.refuse.received", { group: GroupName, from: UserId, attempt: PositiveInt, reason: Reason }),
  Schema.TaggedStruct("group.leave.sent", { group: GroupName }),
  Schema.TaggedStruct("group.leave.received", { group: GroupName, from: UserId }),
  // --- chat messages (high volume: projected by a plain reducer, never by a statechart)
  /** `n`: my count of messages on this topic (see the wire's chat.message). */
  Schema.TaggedStruct("message.sent", { id: MessageId, topic: Topic, text: Text, n: PositiveInt }),
  Schema.TaggedStruct("message.received", ReceivedFields),
  /**
   * Arrived ahead of an earlier message of the same sender (the broker reordered across a
   * reconnect): stored durably, shown once the gap fills or the wait runs out, as message.received.
   */
  Schema.TaggedStruct("message.held", ReceivedFields),
  /** I asked `from` to publish again the messages numbered `missing` on `topic`. */
  Schema.TaggedStruct("message.resend.asked", {
    topic: Topic,
    from: UserId,
    missing: Schema.Array(PositiveInt).check(Schema.isMaxLength(256)),
  }),
  // --- outbox: the broker acknowledged these publishes (QoS 1 PUBACK)
  Schema.TaggedStruct("outbox.acked", { ids: Schema.Array(MessageId).check(Schema.isMaxLength(1024)) }),
])
export type DomainEvent = typeof DomainEvent.Type
export type DomainEventTag = DomainEvent["_tag"]

/** A wire message to publish. `retain` for presence and group information only. */
export const Outgoing = Schema.Struct({ topic: Topic, retain: Schema.Boolean, envelope: Envelope })
export type Outgoing = typeof Outgoing.Type

/** What the shell appends: the decision, when it was made, and what it sent. */
export const LogEntry = Schema.Struct({
  /** Wall clock, ms since epoch, from the injected Clock. Display only. */
  at: NonNegativeInt,
  /** Lamport clock after this event: orders records across users' logs. */
  clock: NonNegativeInt,
  event: DomainEvent,
  /** One decision's messages: a leader leaving refuses every pending join (at most 256) at once. */
  out: Schema.Array(Outgoing).check(Schema.isMaxLength(MAX_OUT_PER_RECORD)),
})
export type LogEntry = typeof LogEntry.Type

/** A stored entry: the log assigns `seq`, 1, 2, 3… without gaps. */
export const LogRecord = Schema.Struct({ seq: PositiveInt, ...LogEntry.fields })
export type LogRecord = typeof LogRecord.Type

/** The conversation a record belongs to, for the history index: a talk topic, or undefined. */
export const conversationOf = (event: DomainEvent): Topic | undefined =>
  event._tag === "message.sent" || event._tag === "message.received" ? event.topic : undefined
