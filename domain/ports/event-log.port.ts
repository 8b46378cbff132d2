/**
 * The event log port: append-only, the source of truth of one profile. Implementations:
 * adapters/storage/file-event-log.ts (durable) and adapters/storage/memory-event-log.ts.
 * Both run tests/contracts/event-log.contract.ts.
 */
import { Context, Schema } from "effect"
import type { Effect, Stream } from "effect"
import type { Topic } from "../ids.ts"
import type { LogEntry, LogRecord } from "../events.ts"

export class EventLogError extends Schema.TaggedError<EventLogError>()("EventLogError", {
  reason: Schema.Literals(["locked", "io", "corrupt", "closed", "invalid"]),
  message: Schema.String,
}) {}

/** What opening the log found and did; shown to the user and written to the diagnostics log. */
export interface RecoveryReport {
  /** Complete records read. */
  readonly records: number
  /** Bytes of a torn or corrupt tail that were cut off (0 when the file ended cleanly). */
  readonly truncatedTailBytes: number
  /** Corrupt records found before the last good one: kept in the quarantine file, never dropped silently. */
  readonly corruptRecords: ReadonlyArray<{ readonly offset: number; readonly length: number; readonly reason: string }>
}

export interface HistoryPage {
  /** Oldest first. */
  readonly records: ReadonlyArray<LogRecord>
  /** True when older records exist before the first one returned. */
  readonly hasMore: boolean
}

export class EventLog extends Context.Service<EventLog, {
  /**
   * Appends entries in order and assigns consecutive sequence numbers. Succeeds only once the
   * records are durable (fsync for the file log). Concurrent appends are batched into one fsync.
   */
  append(entries: ReadonlyArray<LogEntry>): Effect.Effect<ReadonlyArray<LogRecord>, EventLogError>
  /** Every record from the first, oldest first. */
  replay(): Stream.Stream<LogRecord, EventLogError>
  /** A conversation's messages (see `conversationOf`), newest page first: `beforeSeq` pages back. */
  history(topic: Topic, options: { readonly beforeSeq?: number; readonly limit: number }): Effect.Effect<HistoryPage, EventLogError>
  /** The sequence number of the last record, 0 when empty. */
  readonly lastSeq: Effect.Effect<number>
  readonly recovery: RecoveryReport
}>()("mqtt-chat/domain/ports/EventLog") {}
