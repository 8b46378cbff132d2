/**
 * The wire codec: valid envelopes survive encode → decode; anything else — garbage, oversize input,
 * unknown versions, `__proto__` keys, invalid UTF-8 — comes back as a typed failure, never a throw.
 */
import fc from "fast-check"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { DomainEvent, LogRecord } from "../../domain/events.ts"
import { GroupName, MessageId, UserId } from "../../domain/ids.ts"
import { decodeEnvelope, decodeEnvelopeText, encodeEnvelope, MAX_PAYLOAD_BYTES, type Body, type Envelope } from "../../domain/wire/messages.ts"
import { NUM_RUNS } from "../support/properties.ts"

const userId = fc.integer({ min: 10000, max: 99999 }).map((n) => `user-${n}` as UserId)
const groupName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/).map((s) => s as GroupName)
const messageId = fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/).map((s) => s as MessageId)
const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 })
const attempt = fc.integer({ min: 1, max: 1_000_000 })
const groupInfo = fc.record({
  name: groupName,
  leader: userId,
  members: fc.array(userId, { maxLength: 8 }),
  version: fc.nat(),
  foundedClock: fc.nat(),
  foundedBy: userId,
  dissolved: fc.boolean(),
})
const talkTopic = fc.tuple(userId, userId).map(([a, b]) => `${a.slice(5)}_${b.slice(5)}_talk` as Body extends never ? never : string)

const body: fc.Arbitrary<Body> = fc.oneof(
  fc.record({ _tag: fc.constant("presence" as const), status: fc.constantFrom("online" as const, "offline" as const), session: fc.nat(), connection: fc.nat() }),
  fc.record({ _tag: fc.constant("chat.request" as const), to: userId, attempt, ends: fc.nat() }),
  fc.record({ _tag: fc.constant("chat.accept" as const), to: userId, attempt, topic: talkTopic }),
  fc.record({ _tag: fc.constant("chat.refuse" as const), to: userId, attempt, refuses: fc.nat(), reason: fc.string({ maxLength: 200 }) }),
  fc.record({ _tag: fc.constant("chat.leave" as const), to: userId, attempt, ends: fc.nat(), topic: talkTopic }),
  fc.record({ _tag: fc.constant("chat.message" as const), text, n: attempt }),
  fc.record({ _tag: fc.constant("chat.resend" as const), topic: talkTopic, missing: fc.array(attempt, { minLength: 1, maxLength: 20 }) }),
  fc.record({ _tag: fc.constant("group.info" as const), info: groupInfo }),
  fc.record({ _tag: fc.constant("group.join" as const), group: groupName, attempt }),
  fc.record({ _tag: fc.constant("group.accept" as const), group: groupName, to: userId, attempt, info: groupInfo }),
  fc.record({ _tag: fc.constant("group.refuse" as const), group: groupName, to: userId, attempt, reason: fc.string({ maxLength: 200 }) }),
  fc.record({ _tag: fc.constant("group.leave" as const), group: groupName }),
  fc.record({ _tag: fc.constant("group.message" as const), group: groupName, text, n: attempt }),
) as fc.Arbitrary<Body>

const envelope: fc.Arbitrary<Envelope> = fc.record({
  v: fc.constant(1 as const),
  id: messageId,
  from: userId,
  ts: fc.nat(),
  clock: fc.nat(),
  body,
}) as fc.Arbitrary<Envelope>

const bytes = (s: string) => new TextEncoder().encode(s)

describe("wire codec", () => {
  it("encode then decode is the identity", () => {
    fc.assert(
      fc.property(envelope, (env) => {
        const decoded = decodeEnvelope(bytes(encodeEnvelope(env)))
        expect(Result.isSuccess(decoded) && decoded.success).toEqual(env)
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("anything JSON that is not an envelope is a typed failure, never a throw", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = decodeEnvelopeText(JSON.stringify(value) ?? "null")
        expect(Result.isFailure(result)).toBe(true)
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("arbitrary values, strings and bytes never throw", () => {
    fc.assert(
      fc.property(fc.anything(), fc.string(), fc.uint8Array({ maxLength: 512 }), (value, s, raw) => {
        let json: string | undefined
        try {
          json = JSON.stringify(value)
        } catch {
          json = undefined // BigInt and cycles: not JSON at all
        }
        if (json !== undefined) expect(() => decodeEnvelopeText(json)).not.toThrow()
        expect(Result.isFailure(decodeEnvelopeText(s))).toBe(true)
        expect(() => decodeEnvelope(raw)).not.toThrow()
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("a valid envelope with one field broken is rejected as invalid", () => {
    const breakers: ReadonlyArray<(e: Record<string, unknown>) => void> = [
      (e) => { e.from = "user-1/#" },
      (e) => { e.from = "user-1+" },
      (e) => { e.id = "short" },
      (e) => { e.clock = -1 },
      (e) => { e.ts = 1.5 },
      (e) => { e.body = { _tag: "chat.unknown" } },
      (e) => { e.body = { ...(e.body as object), _tag: 42 } },
      (e) => { delete e.body },
    ]
    fc.assert(
      fc.property(envelope, fc.nat({ max: breakers.length - 1 }), (env, which) => {
        const broken: Record<string, unknown> = JSON.parse(encodeEnvelope(env))
        breakers[which]!(broken)
        const result = decodeEnvelopeText(JSON.stringify(broken))
        expect(Result.isFailure(result) && result.failure.reason).toBe("invalid")
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("__proto__ keys neither decode nor pollute", () => {
    fc.assert(
      fc.property(envelope, (env) => {
        const json = encodeEnvelope(env).replace(/^\{/, '{"__proto__":{"polluted":true},')
        const result = decodeEnvelopeText(json)
        // Extra keys are ignored by the schema, but nothing reaches Object.prototype.
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
        if (Result.isSuccess(result)) expect(Object.getPrototypeOf(result.success)).toBe(Object.prototype)
        const nested = encodeEnvelope(env).replace('"body":{', '"body":{"__proto__":{"_tag":"presence"},')
        expect(() => decodeEnvelopeText(nested)).not.toThrow()
        expect(({} as Record<string, unknown>)._tag).toBeUndefined()
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("oversize payloads are refused before parsing, unknown versions are named", () => {
    const big = bytes(`{"v":1,"pad":"${"x".repeat(MAX_PAYLOAD_BYTES)}"}`)
    const oversize = decodeEnvelope(big)
    expect(Result.isFailure(oversize) && oversize.failure.reason).toBe("oversize")
    fc.assert(
      fc.property(envelope, fc.oneof(fc.integer({ min: 2, max: 1000 }), fc.string(), fc.constant(null)), (env, v) => {
        const json = JSON.stringify({ ...JSON.parse(encodeEnvelope(env)), v })
        const result = decodeEnvelopeText(json)
        expect(Result.isFailure(result) && result.failure.reason).toBe("unknown-version")
      }),
      { numRuns: NUM_RUNS },
    )
    const notUtf8 = decodeEnvelope(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))
    expect(Result.isFailure(notUtf8) && notUtf8.failure.reason).toBe("not-json")
  })

  it("log records and domain events decoded from garbage are failures, never throws", () => {
    const decodeRecord = Schema.decodeUnknownResult(Schema.fromJsonString(LogRecord))
    const decodeEvent = Schema.decodeUnknownResult(DomainEvent)
    fc.assert(
      fc.property(fc.anything(), fc.string(), (value, s) => {
        expect(Result.isFailure(decodeEvent(value))).toBe(true)
        expect(Result.isFailure(decodeRecord(s))).toBe(true)
      }),
      { numRuns: NUM_RUNS },
    )
  })
})
