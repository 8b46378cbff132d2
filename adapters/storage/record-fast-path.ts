/**
 * A hand-written check for the most common kinds of log record, tried before the Schema decode of
 * a LogRecord (record-codec.ts), which costs as much as the JSON.parse before it (docs/architecture.md,
 * "Where replay time goes").
 *
 * Sound by construction, not a second definition of the format: `isFastLogRecord` says yes
 * only when the parsed JSON is exactly what the Schema decode would give — the schema's fields in
 * the schema's order, no other key, every value passing the same checks — and then the parsed
 * object IS that value. Anything else (another kind of record, an extra or missing key, keys in
 * another order, any doubt) says no and the full Schema decode decides, so hostile lines
 * are rejected exactly as before. tests/properties/record-fast-path.property.test.ts checks both
 * halves on generated and mutated records.
 */
import { MAX_OUT_PER_RECORD, type LogRecord } from "../../domain/events.ts"
import { GROUP_NAME_PATTERN, MESSAGE_ID_PATTERN, USER_ID_PATTERN } from "../../domain/ids.ts"
import { MAX_GROUP_MEMBERS, MAX_TEXT_CHARS, PROTOCOL_VERSION } from "../../domain/wire/messages.ts"

type Json = Record<string, unknown>

/**
 * The schema's limits these checks repeat (domain/events.ts keeps them private): a change there
 * must change them here — the property test generates values at these bounds, so it fails first.
 */
const EVENT_TEXT_MAX = 4000
const MAX_REASON_CHARS = 200
const MAX_ACKED_IDS = 1024

/** Exactly these own keys, in this order: what the Schema decode's output has. */
const hasKeys = (value: Json, keys: ReadonlyArray<string>): boolean => {
  let i = 0
  for (const key in value) {
    if (key !== keys[i]) return false
    i++
  }
  return i === keys.length
}

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)
/** Schema.Int with isGreaterThanOrEqualTo(min): a safe integer. */
const isInt = (value: unknown, min: number): boolean => typeof value === "number" && Number.isSafeInteger(value) && value >= min
const isString = (value: unknown): boolean => typeof value === "string"
const isUser = (value: unknown): boolean => typeof value === "string" && USER_ID_PATTERN.test(value)
const isMessageId = (value: unknown): boolean => typeof value === "string" && MESSAGE_ID_PATTERN.test(value)
const isGroup = (value: unknown): boolean => typeof value === "string" && GROUP_NAME_PATTERN.test(value)
const isText = (value: unknown, min: number, max: number): boolean => typeof value === "string" && value.length >= min && value.length <= max

type Check = (value: unknown) => boolean

const allOf = (value: unknown, max: number, each: Check): boolean => {
  if (!Array.isArray(value) || value.length > max) return false
  // Bounded by max.
  for (let i = 0; i < value.length; i++) if (!each(value[i])) return false
  return true
}

/** A struct: exactly these fields, in this order, each passing its check. */
const struct = (fields: Readonly<Record<string, Check>>): Check => {
  const keys = Object.keys(fields)
  const checks = Object.values(fields)
  return (value) => {
    if (!isObject(value) || !hasKeys(value, keys)) return false
    for (let i = 0; i < keys.length; i++) if (!checks[i]!(value[keys[i]!])) return false
    return true
  }
}

/** A union of tagged structs: the `_tag` picks the member (`_tag` first, then its fields). */
const taggedUnion = (members: Readonly<Record<string, Readonly<Record<string, Check>>>>): Check => {
  const byTag = new Map(Object.entries(members).map(([tag, fields]) => [tag, struct({ _tag: (value) => value === tag, ...fields })]))
  return (value) => {
    if (!isObject(value) || typeof value._tag !== "string") return false
    const member = byTag.get(value._tag)
    return member !== undefined && member(value)
  }
}

const nonNegative: Check = (value) => isInt(value, 0)
const positive: Check = (value) => isInt(value, 1)
const boolean: Check = (value) => typeof value === "boolean"
const eventText: Check = (value) => isText(value, 0, EVENT_TEXT_MAX)
const wireText: Check = (value) => isText(value, 1, MAX_TEXT_CHARS)
const reason: Check = (value) => isText(value, 0, MAX_REASON_CHARS)
const status: Check = (value) => value === "online" || value === "offline"
const stanceKind: Check = (value) => value === "request" || value === "accept" || value === "refuse" || value === "leave"

/** GroupInfo without its wire-only `keys` (a stored record never has them; with them the schema decides). */
const groupInfo = struct({
  name: isGroup,
  leader: isUser,
  members: (value) => allOf(value, MAX_GROUP_MEMBERS, isUser),
  version: nonNegative,
  foundedClock: nonNegative,
  foundedBy: isUser,
  dissolved: boolean,
})

const received = { id: isMessageId, from: isUser, topic: isString, text: eventText, sentAt: nonNegative, sentClock: nonNegative, n: positive }

/**
 * Every event of domain/events.ts but the rare ones with optional keys or secrets (profile.created,
 * the trust events, message.resend.asked): those go to the schema.
 */
const isFastEvent = taggedUnion({
  "session.started": { session: positive },
  "session.ended": { session: positive },
  "presence.observed": { user: isUser, status, session: nonNegative, connection: nonNegative },
  "conversation.request.sent": { peer: isUser },
  "conversation.accept.sent": { peer: isUser },
  "conversation.refuse.sent": { peer: isUser, reason },
  "conversation.leave.sent": { peer: isUser },
  "conversation.timed-out": { peer: isUser },
  "conversation.stance.received": {
    peer: isUser,
    kind: stanceKind,
    attempt: positive,
    refuses: (value) => value === null || isInt(value, 0),
    requestId: isMessageId,
    reason,
  },
  "group.created": { group: isGroup },
  "group.info.received": { from: isUser, info: groupInfo },
  "group.join.sent": { group: isGroup },
  "group.join.received": { group: isGroup, from: isUser, attempt: positive, requestId: isMessageId },
  "group.accept.sent": { group: isGroup, member: isUser },
  "group.accept.received": { from: isUser, attempt: positive, info: groupInfo },
  "group.refuse.sent": { group: isGroup, member: isUser, reason },
  "group.refuse.received": { group: isGroup, from: isUser, attempt: positive, reason },
  "group.leave.sent": { group: isGroup },
  "group.leave.received": { group: isGroup, from: isUser },
  "message.sent": { id: isMessageId, topic: isString, text: eventText, n: positive },
  "message.received": received,
  "message.held": received,
  "outbox.acked": { ids: (value) => allOf(value, MAX_ACKED_IDS, isMessageId) },
})

/** The wire bodies a stored record carries (domain/wire/messages.ts), but the sealed ones and resend requests. */
const isFastBody = taggedUnion({
  presence: { status, session: nonNegative, connection: nonNegative },
  "chat.request": { to: isUser, attempt: positive, ends: nonNegative },
  "chat.accept": { to: isUser, attempt: positive, topic: isString },
  "chat.refuse": { to: isUser, attempt: positive, refuses: nonNegative, reason },
  "chat.leave": { to: isUser, attempt: positive, ends: nonNegative, topic: isString },
  "chat.message": { text: wireText, n: positive },
  "group.info": { info: groupInfo },
  "group.join": { group: isGroup, attempt: positive },
  "group.accept": { group: isGroup, to: isUser, attempt: positive, info: groupInfo },
  "group.refuse": { group: isGroup, to: isUser, attempt: positive, reason },
  "group.leave": { group: isGroup },
  "group.message": { group: isGroup, text: wireText, n: positive },
})

const isFastOutgoing = struct({
  topic: isString,
  retain: boolean,
  envelope: struct({ v: (value) => value === PROTOCOL_VERSION, id: isMessageId, from: isUser, ts: nonNegative, clock: nonNegative, body: isFastBody }),
})

const RECORD_KEYS = ["seq", "at", "clock", "event", "out"]

/**
 * True when the parsed JSON is one of the common kinds of record and exactly what the Schema decode
 * would return: it can be used as it stands. False says nothing: the caller runs the Schema decode.
 */
export const isFastLogRecord = (parsed: unknown): parsed is LogRecord =>
  isObject(parsed) && hasKeys(parsed, RECORD_KEYS) && isInt(parsed.seq, 1) && isInt(parsed.at, 0) && isInt(parsed.clock, 0) &&
  isFastEvent(parsed.event) && allOf(parsed.out, MAX_OUT_PER_RECORD, isFastOutgoing)
