/**
 * Every JSON message on the wire: one envelope, one body per message type. docs/protocol.md is the
 * prose of this file; keep them in step.
 */
import { Result, Schema } from "effect"
import { GroupName, MessageId, Topic, UserId } from "../ids.ts"
import { isBoundedInt, MAX_COUNTER, MAX_TIMESTAMP_MS, MAX_WIRE_CLOCK, StoredNonNegativeInt, StoredPositiveInt } from "./limits.ts"

export const PROTOCOL_VERSION = 1
/** Bytes, checked BEFORE JSON.parse: a megabyte payload must not cost a megabyte parse. */
export const MAX_PAYLOAD_BYTES = 16 * 1024
/** Characters of chat text. The encoded envelope is checked against MAX_PAYLOAD_BYTES too (escapes grow). */
export const MAX_TEXT_CHARS = 4000
export const MAX_GROUP_MEMBERS = 256
/** Message numbers one resend request may ask for. */
export const MAX_RESEND_NUMBERS = 256
/**
 * Bytes of a signed frame on the wire (wire/frame.ts), checked before JSON.parse. Larger than the
 * plaintext cap: base64 ciphertext grows text by a third, and group information carries one
 * wrapped key per member.
 */
export const MAX_FRAME_BYTES = 64 * 1024
/** Characters of one base64url ciphertext box: 4,000 characters of 3-byte UTF-8, nonce and tag. */
export const MAX_BOX_CHARS = 16_100

const Text = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(MAX_TEXT_CHARS))
const Reason = Schema.String.check(Schema.isMaxLength(200))
/** Structure only (the log stores envelopes); the wire's bounds are `wireLimitViolation`, below. */
const NonNegativeInt = StoredNonNegativeInt
const Box = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]+$/), Schema.isMaxLength(MAX_BOX_CHARS))

export const PresenceStatus = Schema.Literals(["online", "offline"])
export type PresenceStatus = typeof PresenceStatus.Type

/** Who leads a group, who is in it, and the leader's version counter (higher wins). */
export const GroupInfo = Schema.Struct({
  name: GroupName,
  leader: UserId,
  /** Join order, leader first; order decides who leads after the leader leaves. */
  members: Schema.Array(UserId).check(Schema.isMaxLength(MAX_GROUP_MEMBERS)),
  version: NonNegativeInt,
  /** Lamport clock of the creation and the creator: a later founding wins a name clash (group.machine.ts). */
  foundedClock: NonNegativeInt,
  foundedBy: UserId,
  /** Set when the last member left: the name is free again. */
  dissolved: Schema.Boolean,
  /**
   * Wire only: this version's group key, wrapped by the leader for each member (wire/frame.ts).
   * The receiver takes its own and strips the list before anything is decided or stored.
   */
  keys: Schema.optionalKey(Schema.Array(Schema.Struct({ member: UserId, box: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,100}$/)) })).check(Schema.isMaxLength(MAX_GROUP_MEMBERS))),
})
export type GroupInfo = typeof GroupInfo.Type

/** A side's attempt number in a one-to-one negotiation (see conversation.machine.ts). */
const Attempt = StoredPositiveInt

export const Body = Schema.Union([
  /** `session`: the sender's process start count; `connection`: its connect count within that session. */
  Schema.TaggedStruct("presence", { status: PresenceStatus, session: NonNegativeInt, connection: NonNegativeInt }),
  /** `ends`: the peer's attempt this request still counts as ended (asking again after I left), 0: none. */
  Schema.TaggedStruct("chat.request", { to: UserId, attempt: Attempt, ends: NonNegativeInt }),
  Schema.TaggedStruct("chat.accept", { to: UserId, attempt: Attempt, topic: Topic }),
  Schema.TaggedStruct("chat.refuse", { to: UserId, attempt: Attempt, refuses: NonNegativeInt, reason: Reason }),
  /** `ends`: the peer's attempt this leave ends (0: none). */
  Schema.TaggedStruct("chat.leave", { to: UserId, attempt: Attempt, ends: NonNegativeInt, topic: Topic }),
  /** `n`: the sender's count of its messages on this topic, 1, 2, 3…: receivers restore the sender's order. */
  Schema.TaggedStruct("chat.message", { text: Text, n: Attempt }),
  /**
   * To a sender's control topic: "your messages number `missing` on `topic` never reached me" —
   * the broker lost them (an overflowing queue, a crash between saves). The sender publishes them
   * again, same ids, from its log.
   */
  Schema.TaggedStruct("chat.resend", { topic: Topic, missing: Schema.Array(Attempt).check(Schema.isMinLength(1), Schema.isMaxLength(MAX_RESEND_NUMBERS)) }),
  Schema.TaggedStruct("group.info", { info: GroupInfo }),
  Schema.TaggedStruct("group.join", { group: GroupName, attempt: Attempt }),
  Schema.TaggedStruct("group.accept", { group: GroupName, to: UserId, attempt: Attempt, info: GroupInfo }),
  Schema.TaggedStruct("group.refuse", { group: GroupName, to: UserId, attempt: Attempt, reason: Reason }),
  Schema.TaggedStruct("group.leave", { group: GroupName }),
  Schema.TaggedStruct("group.message", { group: GroupName, text: Text, n: Attempt }),
  /**
   * Wire only: chat text as it travels, encrypted end to end (wire/frame.ts). The receiver opens it
   * into chat.message / group.message; the plain forms are refused from the wire.
   */
  Schema.TaggedStruct("chat.sealed", { n: Attempt, box: Box }),
  /** `epoch`: the version of the group information whose key sealed it. */
  Schema.TaggedStruct("group.sealed", { group: GroupName, n: Attempt, epoch: NonNegativeInt, box: Box }),
])
export type Body = typeof Body.Type
export type BodyTag = Body["_tag"]

export const Envelope = Schema.Struct({
  v: Schema.Literal(PROTOCOL_VERSION),
  id: MessageId,
  from: UserId,
  /** Sender's wall clock, ms since epoch: for display only, never for ordering. */
  ts: NonNegativeInt,
  /** Lamport clock: merges the logs of different users in causal order. */
  clock: NonNegativeInt,
  body: Body,
})
export type Envelope = typeof Envelope.Type

/**
 * The wire's numeric bounds (limits.ts), checked on every decoded envelope. The structural schema
 * above takes any safe integer because the log stores envelopes too and must still read what an
 * older version wrote; only what arrives from the wire is held to the bounds. Returns the first
 * field out of bounds, or undefined.
 */
export const wireLimitViolation = (env: Envelope): { readonly path: ReadonlyArray<string>; readonly issue: string } | undefined => {
  const checks: Array<readonly [ReadonlyArray<string>, number, number, number]> = [
    [["ts"], env.ts, 0, MAX_TIMESTAMP_MS],
    [["clock"], env.clock, 0, MAX_WIRE_CLOCK],
  ]
  const counter = (path: ReadonlyArray<string>, n: number, min = 0) => checks.push([path, n, min, MAX_COUNTER])
  const info = (path: ReadonlyArray<string>, i: GroupInfo) => {
    counter([...path, "version"], i.version)
    checks.push([[...path, "foundedClock"], i.foundedClock, 0, MAX_WIRE_CLOCK])
  }
  const body = env.body
  switch (body._tag) {
    case "presence":
      counter(["body", "session"], body.session)
      counter(["body", "connection"], body.connection)
      break
    case "chat.request":
    case "chat.leave":
      counter(["body", "attempt"], body.attempt, 1)
      counter(["body", "ends"], body.ends)
      break
    case "chat.accept":
    case "group.join":
    case "group.refuse":
      counter(["body", "attempt"], body.attempt, 1)
      break
    case "chat.refuse":
      counter(["body", "attempt"], body.attempt, 1)
      counter(["body", "refuses"], body.refuses)
      break
    case "chat.message":
    case "group.message":
    case "chat.sealed":
      counter(["body", "n"], body.n, 1)
      break
    case "group.sealed":
      counter(["body", "n"], body.n, 1)
      counter(["body", "epoch"], body.epoch)
      break
    case "chat.resend":
      body.missing.forEach((n, i) => counter(["body", "missing", String(i)], n, 1))
      break
    case "group.info":
      info(["body", "info"], body.info)
      break
    case "group.accept":
      counter(["body", "attempt"], body.attempt, 1)
      info(["body", "info"], body.info)
      break
    case "group.leave":
      break
  }
  for (const [path, n, min, max] of checks) {
    if (!isBoundedInt(n, min, max)) return { path, issue: `Expected an integer in [${min}, ${max}], got ${Object.is(n, -0) ? "-0" : String(n)}` }
  }
  return undefined
}

/** An envelope as the wire may carry it: the structure, and every number within limits.ts. */
export const WireEnvelope = Envelope.check(Schema.makeFilter((env: Envelope) => wireLimitViolation(env) ?? true))

export type DecodeFailure =
  | { readonly reason: "oversize"; readonly bytes: number }
  | { readonly reason: "not-json"; readonly detail: string }
  | { readonly reason: "unknown-version"; readonly detail: string }
  | { readonly reason: "invalid"; readonly detail: string }

const EnvelopeFromJson = Schema.fromJsonString(Envelope)
const decodeEnvelopeJson = Schema.decodeUnknownResult(Schema.fromJsonString(WireEnvelope))
const encodeEnvelopeJson = Schema.encodeSync(EnvelopeFromJson)
const VersionProbe = Schema.fromJsonString(Schema.Struct({ v: Schema.Unknown }))
const probeVersion = Schema.decodeUnknownResult(VersionProbe)

/** The detail of an empty payload's drop: a cleared retained message, which changes nothing (the last good copy is kept). */
export const EMPTY_PAYLOAD = "empty payload (a cleared retained message): ignored, the last good copy is kept"

const utf8 = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

/** Bytes → envelope. Never throws: every failure is a value the caller logs and drops. */
export const decodeEnvelope = (bytes: Uint8Array): Result.Result<Envelope, DecodeFailure> => {
  if (bytes.byteLength > MAX_PAYLOAD_BYTES) return Result.fail({ reason: "oversize", bytes: bytes.byteLength })
  // What clearing a retained message looks like to a subscriber: it erases nothing here.
  if (bytes.byteLength === 0) return Result.fail({ reason: "not-json", detail: EMPTY_PAYLOAD })
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return Result.fail({ reason: "not-json", detail: "payload is not UTF-8" })
  }
  return decodeEnvelopeText(text)
}

/** `maxChars`: the plaintext cap by default; a frame's inner envelope may be as large as the frame. */
export const decodeEnvelopeText = (text: string, maxChars: number = MAX_PAYLOAD_BYTES): Result.Result<Envelope, DecodeFailure> => {
  if (text.length > maxChars) return Result.fail({ reason: "oversize", bytes: text.length })
  if (text.length === 0) return Result.fail({ reason: "not-json", detail: EMPTY_PAYLOAD })
  const decoded = decodeEnvelopeJson(text)
  if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
  const probe = probeVersion(text)
  if (Result.isFailure(probe)) {
    return Result.fail(looksLikeJsonObject(text) ? { reason: "invalid", detail: "no protocol version" } : { reason: "not-json", detail: "payload is not a JSON object" })
  }
  if (probe.success.v !== PROTOCOL_VERSION) {
    return Result.fail({ reason: "unknown-version", detail: `protocol version ${String(probe.success.v).slice(0, 20)}` })
  }
  return Result.fail({ reason: "invalid", detail: decoded.failure.message.slice(0, 300) })
}

const looksLikeJsonObject = (text: string): boolean => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value)
  } catch {
    return false
  }
}

export const encodeEnvelope = (envelope: Envelope): string => encodeEnvelopeJson(envelope)
export const envelopeBytes = (envelope: Envelope): Uint8Array => utf8Encoder.encode(encodeEnvelope(envelope))
