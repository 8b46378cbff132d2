/**
 * The event log port: append-only, the source of truth of one profile. Implementations:
 * adapters/storage/file-event-log.ts (durable) and adapters/storage/memory-event-log.ts.
 * Both run tests/contracts/event-log.contract.ts.
 */
import { Context, Schema } from "effect"
import type { Effect, Option, Stream } from "effect"
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

/**
 * The folded state as of record `seq`, kept beside the log so that a start folds only what follows
 * it. A cache: the log is the source of truth, and a snapshot in doubt is ignored.
 */
export interface StateSnapshot {
  /** The last record the state covers. */
  readonly seq: number
  /** The domain's encoding of the state (domain/snapshot/state-codec.ts): opaque to the log. */
  readonly state: string
}

/** What became of the snapshot at open: said in the diagnostics, never on screen. */
export type SnapshotStatus =
  | { readonly _tag: "none" }
  /** Checked against the log (the record at its seq is where it says, byte for byte); only the tail was read. */
  | { readonly _tag: "loaded"; readonly seq: number; readonly tailRecords: number }
  /** Damaged, of another format, or disagreeing with the log: the whole log was scanned instead. */
  | { readonly _tag: "ignored"; readonly reason: string }

export class EventLog extends Context.Service<EventLog, {
  /**
   * Appends entries in order and assigns consecutive sequence numbers. Succeeds only once the
   * records are durable (fsync for the file log). Concurrent appends are batched into one fsync.
   */
  append(entries: ReadonlyArray<LogEntry>): Effect.Effect<ReadonlyArray<LogRecord>, EventLogError>
  /** Every record from the first, oldest first. */
  replay(): Stream.Stream<LogRecord, EventLogError>
  /** The records after `seq`, oldest first: after the snapshot's seq, only the tail is read. */
  replayAfter(seq: number): Stream.Stream<LogRecord, EventLogError>
  /** The snapshot found at open and checked against the log; handed over once, then forgotten. */
  readonly takeSnapshot: Effect.Effect<Option.Option<StateSnapshot>>
  readonly snapshotStatus: SnapshotStatus
  /**
   * Keeps `snapshot` (the fold of records 1..seq) for the next open, replacing the one before; with
   * the file log, written atomically beside the log, with what the log itself needs to open from
   * there. Fails "invalid" for a seq the log cannot place (not stored, or no longer recent).
   */
  saveSnapshot(snapshot: StateSnapshot): Effect.Effect<void, EventLogError>
  /** A conversation's messages (see `conversationOf`), newest page first: `beforeSeq` pages back. */
  history(topic: Topic, options: { readonly beforeSeq?: number; readonly limit: number }): Effect.Effect<HistoryPage, EventLogError>
  /** The sequence number of the last record, 0 when empty. */
  readonly lastSeq: Effect.Effect<number>
  readonly recovery: RecoveryReport
}>()("mqtt-chat/domain/ports/EventLog") {}
