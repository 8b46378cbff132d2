/**
 * The event log in memory, for tests and the simulator: same sequence numbers, same validation and
 * same history paging as the file log (both run tests/contracts/event-log.contract.ts), no disk.
 */
import { Effect, Layer, Option, Result, Stream } from "effect"
import { conversationOf } from "../../domain/events.ts"
import type { LogEntry, LogRecord } from "../../domain/events.ts"
import type { Topic } from "../../domain/ids.ts"
import { EventLog, EventLogError } from "../../domain/ports/event-log.port.ts"
import type { HistoryPage, RecoveryReport, StateSnapshot } from "../../domain/ports/event-log.port.ts"
import { historyWindow, numberEntries, validateEntries, validateHistoryOptions } from "./log-rules.ts"

const EMPTY_RECOVERY: RecoveryReport = { records: 0, truncatedTailBytes: 0, corruptRecords: [] }

const make = Effect.sync(() => {
  const records: Array<LogRecord> = []
  const conversations = new Map<Topic, Array<LogRecord>>()

  const append = Effect.fn("MemoryEventLog.append")(function*(entries: ReadonlyArray<LogEntry>) {
    const valid = validateEntries(entries)
    if (Result.isFailure(valid)) return yield* new EventLogError({ reason: "invalid", message: valid.failure })
    // Synchronous from here on: concurrent appends cannot interleave.
    const numbered = numberEntries(valid.success, records.length)
    for (const record of numbered) {
      records.push(record)
      const topic = conversationOf(record.event)
      if (topic === undefined) continue
      const conversation = conversations.get(topic) ?? []
      conversation.push(record)
      conversations.set(topic, conversation)
    }
    return numbered
  })

  const history = Effect.fn("MemoryEventLog.history")(function*(
    topic: Topic,
    options: { readonly beforeSeq?: number; readonly limit: number },
  ) {
    const query = validateHistoryOptions(options)
    if (Result.isFailure(query)) return yield* new EventLogError({ reason: "invalid", message: query.failure })
    const conversation = conversations.get(topic) ?? []
    const { start, end, hasMore } = historyWindow(conversation.length, (i) => conversation[i]!.seq, query.success)
    return { records: conversation.slice(start, end), hasMore } satisfies HistoryPage
  })

  const replayAfter = (seq: number): Stream.Stream<LogRecord, EventLogError> =>
    Stream.suspend(() => {
      if (!Number.isSafeInteger(seq) || seq < 0) return Stream.fail(new EventLogError({ reason: "invalid", message: `replay after ${seq}: not a sequence number` }))
      // A copy: records appended while the stream runs are not part of it, as in the file log.
      return Stream.fromIterable(records.slice(seq))
    })

  const saveSnapshot = Effect.fn("MemoryEventLog.saveSnapshot")(function*(snapshot: StateSnapshot) {
    if (!Number.isSafeInteger(snapshot.seq) || snapshot.seq < 1 || snapshot.seq > records.length) {
      return yield* new EventLogError({ reason: "invalid", message: `snapshot at record ${snapshot.seq}: the log holds 1..${records.length}` })
    }
    // Nothing outlives a memory log: a snapshot is checked, and there is nowhere to keep it.
  })

  return EventLog.of({
    append,
    replay: () => replayAfter(0),
    replayAfter,
    takeSnapshot: Effect.sync(() => Option.none()),
    snapshotStatus: { _tag: "none" },
    saveSnapshot,
    history,
    lastSeq: Effect.sync(() => records.length),
    recovery: EMPTY_RECOVERY,
  })
})

/** A fresh, empty log each time the layer is built. */
const layer: Layer.Layer<EventLog> = Layer.effect(EventLog, make)

export const MemoryEventLog = { layer } as const
