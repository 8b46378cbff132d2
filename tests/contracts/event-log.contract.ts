/**
 * What every EventLog implementation promises (in the style of MQTT.js's abstractStoreTest): call
 * `eventLogContract` from an implementation's test file with a builder of a fresh, empty log.
 */
import { Effect, Stream } from "effect"
import type { Layer } from "effect"
import { describe, expect, it } from "vitest"
import type { LogEntry, LogRecord } from "../../domain/events.ts"
import type { Topic } from "../../domain/ids.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import type { EventLogError } from "../../domain/ports/event-log.port.ts"
import { ALICE_BOB, ALICE_CAROL, messageEntry, oversizeEntry, presenceEntry } from "../support/log-fixtures.ts"

export type EventLogBuilder = () => Layer.Layer<EventLog, EventLogError>

/** Any entry typed as valid but not valid: what a cast upstream could smuggle in. */
const smuggled = (value: unknown): LogEntry => value as LogEntry

const seqs = (records: ReadonlyArray<LogRecord>): Array<number> => records.map((record) => record.seq)

const range = (from: number, to: number): Array<number> => Array.from({ length: to - from + 1 }, (_, i) => from + i)

export const eventLogContract = (name: string, build: EventLogBuilder): void => {
  const run = <A, E>(program: Effect.Effect<A, E, EventLog>): Promise<A> => Effect.runPromise(Effect.provide(program, build()))

  const replayAll = EventLog.use((log) => Stream.runCollect(log.replay()))

  const expectFailure = async <A>(program: Effect.Effect<A, EventLogError, EventLog>, reason: EventLogError["reason"]) => {
    const error = await run(Effect.flip(program))
    expect(error.reason).toBe(reason)
  }

  describe(`EventLog contract: ${name}`, () => {
    it("starts empty", async () => {
      const result = await run(Effect.gen(function*() {
        const log = yield* EventLog
        return {
          lastSeq: yield* log.lastSeq,
          replayed: yield* Stream.runCollect(log.replay()),
          history: yield* log.history(ALICE_BOB, { limit: 10 }),
          recovery: log.recovery,
        }
      }))
      expect(result).toEqual({
        lastSeq: 0,
        replayed: [],
        history: { records: [], hasMore: false },
        recovery: { records: 0, truncatedTailBytes: 0, corruptRecords: [] },
      })
    })

    it("numbers appended records 1, 2, 3… and returns them", async () => {
      const first = [messageEntry(ALICE_BOB, 1), presenceEntry(2), messageEntry(ALICE_BOB, 3)]
      const second = [presenceEntry(4), messageEntry(ALICE_CAROL, 5)]
      const result = await run(Effect.gen(function*() {
        const log = yield* EventLog
        const a = yield* log.append(first)
        const none = yield* log.append([])
        const b = yield* log.append(second)
        return { a, none, b, lastSeq: yield* log.lastSeq }
      }))
      expect(result.a).toEqual(first.map((entry, i) => ({ seq: i + 1, ...entry })))
      expect(result.none).toEqual([])
      expect(result.b).toEqual(second.map((entry, i) => ({ seq: i + 4, ...entry })))
      expect(result.lastSeq).toBe(5)
    })

    it("replays every record in order", async () => {
      const entries = range(1, 50).map((n) => (n % 3 === 0 ? presenceEntry(n) : messageEntry(ALICE_BOB, n)))
      const { appended, replayed } = await run(Effect.gen(function*() {
        const log = yield* EventLog
        const appended: Array<LogRecord> = []
        for (let i = 0; i < entries.length; i += 7) appended.push(...(yield* log.append(entries.slice(i, i + 7))))
        return { appended, replayed: yield* replayAll }
      }))
      expect(seqs(replayed)).toEqual(range(1, 50))
      expect(replayed).toEqual(appended)
    })

    it("pages a conversation's history back from the newest, only that conversation", async () => {
      // 25 messages with Bob, interleaved with Carol's messages and non-message events.
      const entries: Array<LogEntry> = []
      for (let n = 1; n <= 25; n++) entries.push(messageEntry(ALICE_BOB, n), presenceEntry(n), messageEntry(ALICE_CAROL, 100 + n))
      const pages = await run(Effect.gen(function*() {
        const log = yield* EventLog
        yield* log.append(entries)
        const newest = yield* log.history(ALICE_BOB, { limit: 10 })
        const older = yield* log.history(ALICE_BOB, { beforeSeq: newest.records[0]!.seq, limit: 10 })
        const oldest = yield* log.history(ALICE_BOB, { beforeSeq: older.records[0]!.seq, limit: 10 })
        const beyondEnd = yield* log.history(ALICE_BOB, { beforeSeq: 1_000_000, limit: 3 })
        const beforeFirst = yield* log.history(ALICE_BOB, { beforeSeq: 1, limit: 3 })
        const everything = yield* log.history(ALICE_BOB, { limit: 1000 })
        const nobody = yield* log.history("1_999999_talk" as Topic, { limit: 5 })
        return { newest, older, oldest, beyondEnd, beforeFirst, everything, nobody }
      }))
      const bobSeqs = range(0, 24).map((i) => 3 * i + 1)
      expect(seqs(pages.newest.records)).toEqual(bobSeqs.slice(15))
      expect(pages.newest.hasMore).toBe(true)
      expect(seqs(pages.older.records)).toEqual(bobSeqs.slice(5, 15))
      expect(pages.older.hasMore).toBe(true)
      expect(seqs(pages.oldest.records)).toEqual(bobSeqs.slice(0, 5))
      expect(pages.oldest.hasMore).toBe(false)
      expect(seqs(pages.beyondEnd.records)).toEqual(bobSeqs.slice(22))
      expect(pages.beforeFirst).toEqual({ records: [], hasMore: false })
      expect(seqs(pages.everything.records)).toEqual(bobSeqs)
      expect(pages.everything.hasMore).toBe(false)
      expect(pages.everything.records.every((record) => record.event._tag === "message.sent" && record.event.topic === ALICE_BOB)).toBe(true)
      expect(pages.everything.records[24]).toEqual({ seq: 73, ...messageEntry(ALICE_BOB, 25) })
      expect(pages.nobody).toEqual({ records: [], hasMore: false })
    })

    it("rejects an append with any invalid entry and writes none of it", async () => {
      const valid = messageEntry(ALICE_BOB, 1)
      const invalidBatches: Array<ReadonlyArray<LogEntry>> = [
        [valid, smuggled({ ...presenceEntry(2), event: { _tag: "session.started", session: 0 } })],
        [smuggled({ ...valid, event: { ...valid.event, text: "x".repeat(4001) } })],
        [smuggled({ ...valid, event: { _tag: "no.such.event" } })],
        [smuggled({ ...valid, at: -1 })],
        [smuggled(null)],
        [smuggled("not an entry")],
        // Each field is within its schema, but the record would not fit in one line (1 MiB).
        [oversizeEntry()],
        Array.from({ length: 1025 }, (_, n) => presenceEntry(n)),
      ]
      for (const batch of invalidBatches) {
        await expectFailure(EventLog.use((log) => log.append(batch)), "invalid")
      }
      const after = await run(Effect.gen(function*() {
        const log = yield* EventLog
        for (const batch of invalidBatches) yield* Effect.flip(log.append(batch))
        return { lastSeq: yield* log.lastSeq, replayed: yield* replayAll, next: yield* log.append([valid]) }
      }))
      expect(after.lastSeq).toBe(0)
      expect(after.replayed).toEqual([])
      expect(seqs(after.next)).toEqual([1])
    })

    it("replays the records after a seq, and a fresh log has no snapshot", async () => {
      const entries = range(1, 30).map((n) => (n % 3 === 0 ? presenceEntry(n) : messageEntry(ALICE_BOB, n)))
      const result = await run(Effect.gen(function*() {
        const log = yield* EventLog
        const appended = yield* log.append(entries)
        return {
          appended,
          after0: yield* Stream.runCollect(log.replayAfter(0)),
          after12: yield* Stream.runCollect(log.replayAfter(12)),
          after30: yield* Stream.runCollect(log.replayAfter(30)),
          after99: yield* Stream.runCollect(log.replayAfter(99)),
          snapshot: yield* log.takeSnapshot,
          status: log.snapshotStatus,
        }
      }))
      expect(result.after0).toEqual(result.appended)
      expect(result.after12).toEqual(result.appended.slice(12))
      expect(result.after30).toEqual([])
      expect(result.after99).toEqual([])
      expect(result.snapshot._tag).toBe("None")
      expect(result.status).toEqual({ _tag: "none" })
    })

    it("takes a snapshot of a stored record only", async () => {
      await expectFailure(EventLog.use((log) => Stream.runCollect(log.replayAfter(-1))), "invalid")
      await expectFailure(EventLog.use((log) => log.saveSnapshot({ seq: 1, state: "{}" })), "invalid")
      const saved = await run(Effect.gen(function*() {
        const log = yield* EventLog
        yield* log.append([messageEntry(ALICE_BOB, 1), presenceEntry(2)])
        const beyond = yield* Effect.flip(log.saveSnapshot({ seq: 3, state: "{}" }))
        const zero = yield* Effect.flip(log.saveSnapshot({ seq: 0, state: "{}" }))
        const fraction = yield* Effect.flip(log.saveSnapshot({ seq: 1.5, state: "{}" }))
        yield* log.saveSnapshot({ seq: 2, state: "{}" })
        yield* log.saveSnapshot({ seq: 1, state: "{}" })
        return { reasons: [beyond.reason, zero.reason, fraction.reason], replayed: yield* replayAll }
      }))
      expect(saved.reasons).toEqual(["invalid", "invalid", "invalid"])
      // A snapshot changes nothing in the log.
      expect(seqs(saved.replayed)).toEqual([1, 2])
    })

    it("rejects invalid history queries", async () => {
      for (const options of [{ limit: 0 }, { limit: 1.5 }, { limit: 100_000 }, { limit: 5, beforeSeq: 0 }, { limit: 5, beforeSeq: Number.NaN }]) {
        await expectFailure(EventLog.use((log) => log.history(ALICE_BOB, options)), "invalid")
      }
    })

    it("gives 2,000 concurrent appends distinct consecutive seqs and replays them in seq order", async () => {
      const count = 2000
      const entries = range(1, count).map((n) => (n % 2 === 0 ? messageEntry(ALICE_BOB, n) : presenceEntry(n)))
      const { results, replayed, lastSeq } = await run(Effect.gen(function*() {
        const log = yield* EventLog
        const results = yield* Effect.all(entries.map((entry) => log.append([entry])), { concurrency: "unbounded" })
        return { results, replayed: yield* replayAll, lastSeq: yield* log.lastSeq }
      }))
      const assigned = results.map((records) => {
        expect(records).toHaveLength(1)
        return records[0]!.seq
      })
      expect([...assigned].sort((a, b) => a - b)).toEqual(range(1, count))
      expect(lastSeq).toBe(count)
      expect(seqs(replayed)).toEqual(range(1, count))
      // Each entry is stored exactly once, under the seq its append returned.
      results.forEach(([record], i) => expect(replayed[record!.seq - 1]).toEqual({ seq: record!.seq, ...entries[i]! }))
    })
  })
}
