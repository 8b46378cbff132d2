/**
 * Log entries for the event-log tests: fast-check arbitraries of valid entries and records, small
 * builders for hand-written cases, and temp profile directories. The arbitraries cover a
 * representative subset of the event tags, and every generated value is passed through the schema,
 * so a generator that falls behind a change of domain/events.ts fails loudly instead of testing less.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Schema } from "effect"
import fc from "fast-check"
import { LogEntry, LogRecord } from "../../domain/events.ts"
import { topics } from "../../domain/ids.ts"
import type { Topic, UserId } from "../../domain/ids.ts"
import { encodeRecordLine } from "../../adapters/storage/record-codec.ts"

// --- arbitraries of raw (unbranded) values; `entryArb` and `recordArb` decode them

const userIdArb = fc.integer({ min: 0, max: 999_999 }).map((n) => `user-${n}`)
const idChar = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
const messageIdArb = fc.string({ unit: idChar, minLength: 8, maxLength: 24 })
const groupNameArb = fc
  .tuple(fc.constantFrom(..."abcXYZ019"), fc.string({ unit: idChar, maxLength: 12 }))
  .map(([first, rest]) => first + rest)
const talkTopicArb = fc
  .tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 100_000, max: 999_999 }))
  .map(([a, b]) => `${a}_${b}_talk`)
const topicArb = fc.oneof(talkTopicArb, groupNameArb.map((group) => `group_${group}_talk`))
const natArb = fc.nat({ max: Number.MAX_SAFE_INTEGER })

/** Any code point (control characters, NUL, bidi overrides, astral), graphemes, and lone surrogates. */
const loneSurrogateArb = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code))
export const chatTextArb = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: "binary", maxLength }),
    fc.string({ unit: "grapheme", maxLength }),
    fc.string({ unit: fc.oneof(fc.constantFrom("\n", "\r", "\u0000", "\u202e", "\u2028", "\"", "\\"), loneSurrogateArb), maxLength }),
  ).filter((text) => text.length <= 4000)

const groupInfoArb = fc.record({
  name: groupNameArb,
  leader: userIdArb,
  members: fc.array(userIdArb, { maxLength: 4 }),
  version: natArb,
  foundedClock: natArb,
  foundedBy: userIdArb,
  dissolved: fc.boolean(),
})

const eventArb = (textLength: number) =>
  fc.oneof(
    fc.record({ _tag: fc.constant("message.sent"), id: messageIdArb, topic: topicArb, text: chatTextArb(textLength), n: fc.integer({ min: 1, max: 1_000_000 }) }),
    fc.record({
      _tag: fc.constant("message.received"),
      id: messageIdArb,
      from: userIdArb,
      topic: topicArb,
      text: chatTextArb(textLength),
      sentAt: natArb,
      sentClock: natArb,
      n: fc.integer({ min: 1, max: 1_000_000 }),
    }),
    fc.record({ _tag: fc.constant("presence.observed"), user: userIdArb, status: fc.constantFrom("online", "offline"), session: natArb, connection: natArb }),
    fc.record({ _tag: fc.constant("session.started"), session: fc.integer({ min: 1, max: 1_000_000 }) }),
    fc.record({ _tag: fc.constant("conversation.request.sent"), peer: userIdArb }),
    fc.record({ _tag: fc.constant("conversation.refuse.sent"), peer: userIdArb, reason: chatTextArb(200).map((s) => s.slice(0, 200)) }),
    fc.record({ _tag: fc.constant("group.created"), group: groupNameArb }),
    fc.record({ _tag: fc.constant("group.info.received"), from: userIdArb, info: groupInfoArb }),
    fc.record({ _tag: fc.constant("group.leave.received"), group: groupNameArb, from: userIdArb }),
    fc.record({ _tag: fc.constant("outbox.acked"), ids: fc.array(messageIdArb, { maxLength: 4 }) }),
  )

const outgoingArb = fc.record({
  topic: topicArb,
  retain: fc.boolean(),
  envelope: fc.record(
    {
      v: fc.constant(1),
      id: messageIdArb,
      from: userIdArb,
      ts: natArb,
      clock: natArb,
      body: fc.oneof(
        fc.record({ _tag: fc.constant("chat.message"), text: chatTextArb(40).filter((text) => text.length >= 1), n: fc.integer({ min: 1, max: 1_000_000 }) }),
        fc.record({ _tag: fc.constant("presence"), status: fc.constantFrom("online", "offline"), session: natArb, connection: natArb }),
        fc.record({ _tag: fc.constant("group.leave"), group: groupNameArb }),
        fc.record({ _tag: fc.constant("group.info"), info: groupInfoArb }),
      ),
      sig: fc.string({ maxLength: 20 }),
    },
    { requiredKeys: ["v", "id", "from", "ts", "clock", "body"] },
  ),
})

const decodeEntry = Schema.decodeUnknownSync(LogEntry)
const decodeRecord = Schema.decodeUnknownSync(LogRecord)

/** Valid log entries. `textLength` bounds chat texts (in units), to keep byte-level tests small. */
export const entryArb = (options: { readonly textLength?: number; readonly maxOut?: number } = {}): fc.Arbitrary<LogEntry> =>
  fc
    .record({
      at: natArb,
      clock: natArb,
      event: eventArb(options.textLength ?? 120),
      out: fc.array(outgoingArb, { maxLength: options.maxOut ?? 2 }),
    })
    .map((raw) => decodeEntry(raw))

export const recordArb = (options: { readonly textLength?: number; readonly maxOut?: number } = {}): fc.Arbitrary<LogRecord> =>
  fc.tuple(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), entryArb(options)).map(([seq, entry]) => decodeRecord({ seq, ...entry }))

// --- hand-written entries

export const ALICE = "user-32563" as UserId
export const BOB = "user-32564" as UserId
export const CAROL = "user-32565" as UserId
export const ALICE_BOB = topics.talk(ALICE, BOB)
export const ALICE_CAROL = topics.talk(ALICE, CAROL)

/** A chat message entry; `n` makes the id and text unique. */
export const messageEntry = (topic: Topic, n: number, text = `message ${n}`): LogEntry =>
  decodeEntry({ at: 1_700_000_000_000 + n, clock: n, event: { _tag: "message.sent", id: `msg-${String(n).padStart(8, "0")}`, topic, text, n: n + 1 }, out: [] })

/** A non-conversation entry. */
export const presenceEntry = (n: number): LogEntry =>
  decodeEntry({ at: 1_700_000_000_000 + n, clock: n, event: { _tag: "presence.observed", user: BOB, status: n % 2 === 0 ? "online" : "offline", session: n, connection: 1 }, out: [] })

/** Every field within its schema, yet the record is over the 1 MiB line cap (control characters are escaped ×6: 60 × 24 KB). */
export const oversizeEntry = (): LogEntry =>
  decodeEntry({
    at: 1,
    clock: 1,
    event: { _tag: "session.started", session: 1 },
    out: Array.from({ length: 60 }, (_, i) => ({
      topic: ALICE_BOB,
      retain: false,
      envelope: { v: 1, id: `big-${String(i).padStart(8, "0")}`, from: ALICE, ts: i, clock: i, body: { _tag: "chat.message", text: "\u0001".repeat(4000), n: i + 1 } },
    })),
  })

/** The bytes of a log holding `entries` numbered from 1, as the file log writes them. */
export const logBytes = (entries: ReadonlyArray<LogEntry>): { readonly bytes: Buffer; readonly lineEnds: ReadonlyArray<number> } => {
  const lines = entries.map((entry, i) => encodeRecordLine(decodeRecord({ seq: i + 1, ...entry })))
  let end = 0
  const lineEnds = lines.map((line) => (end += line.length))
  return { bytes: Buffer.concat(lines), lineEnds }
}

// --- temp profile directories

export const tempProfileDir = (label: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `mqtt-chat-${label}-`))

export const removeDir = (dir: string): void => fs.rmSync(dir, { recursive: true, force: true })
