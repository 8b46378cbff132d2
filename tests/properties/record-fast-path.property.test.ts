/**
 * The hand-written check of common log records (adapters/storage/record-fast-path.ts) against the
 * Schema decode it stands in for: whenever it says yes, the parsed JSON is exactly what the Schema
 * decode returns (same fields, same order, same values), on valid records of every kind and on
 * records mutated at a random place (a key dropped, added or moved, a value of another type or past
 * a bound); a whole line decodes to the same result, success or failure, as JSON.parse + Schema;
 * and a record the schema accepts is written as the Schema encoding's bytes, whichever path it takes.
 */
import { Result, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { crc32, decodeRecordLine, encodeRecordLine } from "../../adapters/storage/record-codec.ts"
import { isFastLogRecord } from "../../adapters/storage/record-fast-path.ts"
import { LogRecord } from "../../domain/events.ts"
import { NUM_RUNS } from "../support/properties.ts"

const schemaDecode = Schema.decodeUnknownResult(LogRecord)
const schemaEncode = Schema.encodeSync(LogRecord)

// --- valid raw records of every kind (JSON values, as the log stores them)

const idChar = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
const user = fc.integer({ min: 0, max: 999_999_999_999 }).map((n) => `user-${n}`)
const messageId = fc.string({ unit: idChar, minLength: 8, maxLength: 64 })
const group = fc.tuple(fc.constantFrom(..."abcXYZ019"), fc.string({ unit: idChar, maxLength: 31 })).map(([first, rest]) => first + rest)
const topic = fc.oneof(fc.string({ maxLength: 40 }), group.map((name) => `group_${name}_talk`))
/** Texts at and around the bounds, and of any code units. */
const textUpTo = (max: number, min = 0) =>
  fc.oneof(
    fc.string({ unit: "binary", minLength: min, maxLength: 30 }),
    fc.constantFrom(max, max - 1).map((length) => "é".repeat(Math.max(min, length))),
  )
const nonNegative = fc.oneof(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.constant(0))
const positive = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
const status = fc.constantFrom("online", "offline")
const info = fc.record({
  name: group,
  leader: user,
  members: fc.array(user, { maxLength: 4 }),
  version: nonNegative,
  foundedClock: nonNegative,
  foundedBy: user,
  dissolved: fc.boolean(),
})

const tagged = <T extends Record<string, fc.Arbitrary<unknown>>>(tag: string, fields: T) => fc.record({ _tag: fc.constant(tag), ...fields })
const received = { id: messageId, from: user, topic, text: textUpTo(4000), sentAt: nonNegative, sentClock: nonNegative, n: positive }

const event = fc.oneof(
  tagged("profile.created", { user }),
  tagged("session.started", { session: positive }),
  tagged("session.ended", { session: positive }),
  tagged("presence.observed", { user, status, session: nonNegative, connection: nonNegative }),
  tagged("conversation.request.sent", { peer: user }),
  tagged("conversation.accept.sent", { peer: user }),
  tagged("conversation.refuse.sent", { peer: user, reason: textUpTo(200) }),
  tagged("conversation.leave.sent", { peer: user }),
  tagged("conversation.timed-out", { peer: user }),
  tagged("conversation.stance.received", {
    peer: user,
    kind: fc.constantFrom("request", "accept", "refuse", "leave"),
    attempt: positive,
    refuses: fc.option(nonNegative, { nil: null }),
    requestId: messageId,
    reason: textUpTo(200),
  }),
  tagged("group.created", { group }),
  tagged("group.info.received", { from: user, info }),
  tagged("group.join.sent", { group }),
  tagged("group.join.received", { group, from: user, attempt: positive, requestId: messageId }),
  tagged("group.accept.sent", { group, member: user }),
  tagged("group.accept.received", { from: user, attempt: positive, info }),
  tagged("group.refuse.sent", { group, member: user, reason: textUpTo(200) }),
  tagged("group.refuse.received", { group, from: user, attempt: positive, reason: textUpTo(200) }),
  tagged("group.leave.sent", { group }),
  tagged("group.leave.received", { group, from: user }),
  tagged("message.sent", { id: messageId, topic, text: textUpTo(4000), n: positive }),
  tagged("message.received", received),
  tagged("message.held", received),
  tagged("message.resend.asked", { topic, from: user, missing: fc.array(positive, { maxLength: 3 }) }),
  tagged("outbox.acked", { ids: fc.array(messageId, { maxLength: 4 }) }),
)

const body = fc.oneof(
  tagged("presence", { status, session: nonNegative, connection: nonNegative }),
  tagged("chat.request", { to: user, attempt: positive, ends: nonNegative }),
  tagged("chat.accept", { to: user, attempt: positive, topic }),
  tagged("chat.refuse", { to: user, attempt: positive, refuses: nonNegative, reason: textUpTo(200) }),
  tagged("chat.leave", { to: user, attempt: positive, ends: nonNegative, topic }),
  tagged("chat.message", { text: textUpTo(4000, 1), n: positive }),
  tagged("chat.resend", { topic, missing: fc.array(positive, { minLength: 1, maxLength: 3 }) }),
  tagged("group.info", { info }),
  tagged("group.join", { group, attempt: positive }),
  tagged("group.accept", { group, to: user, attempt: positive, info }),
  tagged("group.refuse", { group, to: user, attempt: positive, reason: textUpTo(200) }),
  tagged("group.leave", { group }),
  tagged("group.message", { group, text: textUpTo(4000, 1), n: positive }),
)

const outgoing = fc.record({
  topic,
  retain: fc.boolean(),
  envelope: fc.record({ v: fc.constant(1), id: messageId, from: user, ts: nonNegative, clock: nonNegative, body }),
})

const rawRecord = fc.record({ seq: positive, at: nonNegative, clock: nonNegative, event, out: fc.array(outgoing, { maxLength: 2 }) })

// --- mutations at a random place of the JSON tree

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const HOSTILE_VALUES: ReadonlyArray<Json> = [
  -1, 0, 1, 1.5, 2 ** 53, -0, 1e308, "", "x", "user-1", "m1234567", "é".repeat(201), "é".repeat(4001), null, true, false, [], {}, [1], { _tag: "presence" },
]

type Mutation =
  | { readonly kind: "drop" | "reverse" | "extra"; readonly at: number }
  | { readonly kind: "replace"; readonly at: number; readonly value: Json }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom("drop" as const, "reverse" as const, "extra" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), value: fc.constantFrom(...HOSTILE_VALUES) }),
)

/** Every object and array in the tree (the root first), to pick a place to mutate. */
const containers = (value: Json, out: Array<Json[] | { [key: string]: Json }> = []): Array<Json[] | { [key: string]: Json }> => {
  if (value === null || typeof value !== "object") return out
  out.push(value)
  for (const child of Object.values(value)) containers(child, out)
  return out
}

const mutated = (raw: unknown, change: Mutation): Json => {
  const copy: Json = JSON.parse(JSON.stringify(raw))
  const places = containers(copy)
  const place = places[change.at % places.length]!
  const keys = Object.keys(place)
  const key = keys.length === 0 ? undefined : keys[change.at % keys.length]!
  if (Array.isArray(place)) {
    if (change.kind === "drop") place.pop()
    else if (change.kind === "reverse") place.reverse()
    else if (change.kind === "extra") place.push(place[0] ?? 0)
    else if (change.kind === "replace") {
      if (key !== undefined) place[Number(key)] = change.value
      else place.push(change.value)
    }
    return copy
  }
  if (change.kind === "drop" && key !== undefined) delete place[key]
  else if (change.kind === "reverse") {
    const entries = Object.entries(place).reverse()
    for (const k of keys) delete place[k]
    for (const [k, v] of entries) place[k] = v
  } else if (change.kind === "extra") place.extra = 1
  else if (change.kind === "replace" && key !== undefined) place[key] = change.value
  return copy
}

/** The framed line the log would hold for this JSON text. */
const framed = (json: string): Buffer => {
  const bytes = Buffer.from(json, "utf8")
  return Buffer.concat([Buffer.from(`${crc32(bytes).toString(16).padStart(8, "0")} `, "latin1"), bytes])
}

/** The fast path's answer must be the Schema decode's, exactly (key order included). */
const agrees = (input: unknown): { fast: boolean; valid: boolean } => {
  // What the decoder sees: JSON.parse's output (fast-check's records may lack a prototype).
  const value: unknown = JSON.parse(JSON.stringify(input))
  const reference = schemaDecode(value)
  const fast = isFastLogRecord(value)
  if (fast) {
    expect(Result.isSuccess(reference)).toBe(true)
    if (Result.isSuccess(reference)) {
      expect(value).toStrictEqual(reference.success)
      expect(JSON.stringify(value)).toBe(JSON.stringify(reference.success))
    }
  }
  // Encoding what the schema accepts writes the Schema encoding's bytes, whichever way it goes.
  if (Result.isSuccess(reference)) {
    const encodings = [reference.success, value as LogRecord].map((record) => {
      try {
        return encodeRecordLine(record).toString("utf8")
      } catch (error) {
        return String(error)
      }
    })
    const schemaJson = JSON.stringify(schemaEncode(reference.success))
    expect(encodings).toEqual(encodings.map(() => `${crc32(Buffer.from(schemaJson, "utf8")).toString(16).padStart(8, "0")} ${schemaJson}\n`))
  }
  // And the whole line: the same success or the same failure as JSON.parse + Schema.
  const line = decodeRecordLine(framed(JSON.stringify(value)))
  const expected = reference
  if (Result.isSuccess(expected)) {
    expect(Result.isSuccess(line) ? JSON.stringify(line.success) : line.failure).toBe(JSON.stringify(expected.success))
  } else {
    expect(Result.isFailure(line) ? line.failure : line.success).toEqual({ reason: "schema", detail: expected.failure.message.slice(0, 300) })
  }
  return { fast, valid: Result.isSuccess(reference) }
}

describe("fast path of the log record decode", () => {
  it("takes valid records of the common kinds as they are, exactly what the schema gives, and leaves the rest to it", () => {
    let fast = 0
    let valid = 0
    let runs = 0
    fc.assert(
      fc.property(rawRecord, (raw) => {
        runs++
        const outcome = agrees(raw)
        if (outcome.fast) fast++
        if (outcome.valid) valid++
      }),
      { numRuns: NUM_RUNS },
    )
    // Every generated record is valid; all but the rare kinds (4 of 25 events, 1 of 13 bodies) go the fast way.
    expect(valid).toBe(runs)
    expect(fast / runs).toBeGreaterThan(0.6)
    expect(fast).toBeLessThan(runs)
  })

  it("never says yes to a mutated record the schema refuses or decodes differently", () => {
    let fast = 0
    let refused = 0
    let runs = 0
    fc.assert(
      fc.property(rawRecord, mutation, (raw, change) => {
        runs++
        const outcome = agrees(mutated(raw, change))
        if (outcome.fast) fast++
        if (!outcome.valid) refused++
      }),
      { numRuns: NUM_RUNS * 3 },
    )
    // Both halves happen often: mutations the schema still accepts (some of them fast), and refusals.
    expect(refused / runs).toBeGreaterThan(0.3)
    expect(fast / runs).toBeGreaterThan(0.05)
    expect(runs - refused).toBeGreaterThan(fast)
  })

  it("leaves hostile JSON to the schema: prototype keys, duplicated keys, extra keys", () => {
    const valid = '{"seq":1,"at":0,"clock":0,"event":{"_tag":"session.started","session":1},"out":[]}'
    expect(isFastLogRecord(JSON.parse(valid))).toBe(true)
    const hostile = [
      '{"seq":1,"at":0,"clock":0,"event":{"_tag":"session.started","session":1},"out":[],"__proto__":{"x":1}}',
      '{"seq":1,"at":0,"clock":0,"event":{"_tag":"session.started","session":1,"__proto__":{"session":1}},"out":[]}',
      '{"seq":1,"seq":2,"at":0,"clock":0,"event":{"_tag":"session.started","session":1},"out":[]}',
      '{"seq":1,"at":0,"clock":0,"event":{"_tag":"session.started","session":1,"session":0},"out":[]}',
      '{"seq":1,"at":0,"clock":0,"event":{"_tag":"session.started","session":1,"extra":true},"out":[]}',
      '{"at":0,"seq":1,"clock":0,"event":{"_tag":"session.started","session":1},"out":[]}',
    ]
    for (const json of hostile) agrees(JSON.parse(json))
    expect(hostile.map((json) => isFastLogRecord(JSON.parse(json)))).toEqual([false, false, true, false, false, false])
  })
})
