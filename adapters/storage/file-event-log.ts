/**
 * The durable event log: one append-only file, `events.log`, in the profile directory.
 *
 * - Framing and checksums: record-codec.ts. Classification of what is on disk: log-scan.ts.
 * - Open: take the single-writer lock (file-lock.ts), scan the file in chunks, copy any bad bytes
 *   to `events.quarantine`, cut a bad tail (torn write) and keep corruption in the middle in place
 *   (the records around it stay; its bytes explain the sequence gap). The recovery report says
 *   what was found.
 * - Append: group commit. Appends queue up while a write+fdatasync is in flight and go out together
 *   in the next one; an append succeeds only after its fdatasync. A failed write is rolled back and
 *   reported; a failed fdatasync makes the log refuse further appends until reopened, since
 *   retrying a failed fsync can falsely succeed (PostgreSQL, 2018).
 * - History: an in-memory index of each conversation's record positions, built at open and kept on
 *   append, so a page costs a binary search and `limit` positioned reads.
 * - Snapshots (`events.snapshot`, snapshot-file.ts and log-snapshot.ts): the domain's folded state
 *   plus this log's index and bookkeeping as of one record. At open, a snapshot whose record is in
 *   the log where it says, byte for byte, spares the scan of everything before it: only the tail
 *   after it is read (and checked, quarantined, cut as above). Any other snapshot is ignored and the
 *   whole file is scanned, as without one; `snapshotStatus` says which and why.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Deferred, Effect, Fiber, Layer, Option, Queue, Result, Semaphore, Stream } from "effect"
import type { Cause } from "effect"
import { conversationOf } from "../../domain/events.ts"
import type { LogEntry, LogRecord } from "../../domain/events.ts"
import type { Topic } from "../../domain/ids.ts"
import { EventLog, EventLogError } from "../../domain/ports/event-log.port.ts"
import type { HistoryPage, RecoveryReport, SnapshotStatus, StateSnapshot } from "../../domain/ports/event-log.port.ts"
import { HistoryIndex, readRetryingRebuilt } from "./conversation-index.ts"
import type { ConversationIndex } from "./conversation-index.ts"
import { releaseLock, takeLock } from "./file-lock.ts"
import { LogScanner } from "./log-scan.ts"
import type { ScannedRecord, ScanStart, ScanSummary } from "./log-scan.ts"
import { checkLine, checkSnapshot, RecentRecords, snapshotContents } from "./log-snapshot.ts"
import type { RecordPosition, SnapshotCheck } from "./log-snapshot.ts"
import { writeSnapshot } from "./snapshot-file.ts"
import { historyWindow, numberEntries, validateEntries, validateHistoryOptions } from "./log-rules.ts"
import { quarantineRegions } from "./quarantine.ts"
import { datasync, describe, fsyncDirectory, ioError, nodeAppendIo, openLogFile, readAt, READ_CHUNK_BYTES, readRecords, syncIo, writeFully } from "./log-io.ts"
import type { AppendIo } from "./log-io.ts"

export type { AppendIo } from "./log-io.ts"
import { decodeRecordLine, encodeRecordLine, NEWLINE } from "./record-codec.ts"

export const LOG_FILE = "events.log"
/** Logs up to this size keep the records of the open scan for the first replay (about 3× in memory, once). */
const OPEN_REPLAY_CACHE_BYTES = 64 * 1024 * 1024
export const LOCK_FILE = "events.lock"
export const QUARANTINE_FILE = "events.quarantine"

/** Group commit bounds: one write+fdatasync carries at most this much. */
const MAX_BATCH_RECORDS = 1024
const MAX_BATCH_BYTES = 4 * 1024 * 1024
/** Appends waiting for the writer; more wait in `Queue.offer` (backpressure). */
const MAX_QUEUED_APPENDS = 4096

export interface FileEventLogOptions {
  /** The profile directory; created if missing. */
  readonly dir: string
  /** Fault injection for tests. */
  readonly appendIo?: Partial<AppendIo>
  /** Told when a conversation's index from the snapshot could not be used and was scanned from the log instead (the chat writes it to chat.log). */
  readonly onIndexFallback?: (reason: string) => void
}

// --- open

const acquireLock = (dir: string, lockPath: string): Effect.Effect<void, EventLogError> =>
  Effect.flatMap(syncIo(`lock ${lockPath}`, () => takeLock(lockPath)), (outcome) => {
    if (outcome.kind === "taken") return Effect.void
    const message = outcome.owner === undefined
      ? `the profile ${dir} is locked by ${lockPath}, whose owner cannot be read; remove that file if no other mqtt-chat is running`
      : `the profile ${dir} is in use by process ${outcome.owner} (lock ${lockPath}); close that mqtt-chat first`
    return Effect.fail(new EventLogError({ reason: "locked", message }))
  })

const FROM_THE_START: ScanStart = { offset: 0, lastSeq: 0 }

/** Reads the file once from `start` (its start, or a snapshot's end), in chunks, feeding the scanner. */
const scanFile = Effect.fnUntraced(function*(fd: number, start: ScanStart, onRecord: (scanned: ScannedRecord) => void) {
  const size = yield* syncIo("stat events.log", () => fs.fstatSync(fd).size)
  const scanner = new LogScanner(onRecord, start)
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES)
  let position = start.offset
  // Each turn reads at least one byte or fails: at most `size` turns.
  while (position < size) {
    const read = yield* readAt(fd, buffer, Math.min(READ_CHUNK_BYTES, size - position), position)
    if (read === 0) return yield* Effect.fail(ioError("scan events.log", `file shrank to ${position} bytes while opening`))
    scanner.push(buffer.subarray(0, read))
    position += read
  }
  return scanner.finish()
})

/** What the part of the log a snapshot covers held: its good records and its corrupt regions. */
interface ScannedBefore {
  readonly records: number
  readonly corrupt: RecoveryReport["corruptRecords"]
}

/**
 * Copies bad bytes to the quarantine, then cuts the bad tail. Order matters: copy before cut. The
 * regions found before a snapshot were quarantined when they were found; they stay in the report.
 */
const recover = (dir: string, fd: number, summary: ScanSummary, before: ScannedBefore): Effect.Effect<RecoveryReport, EventLogError> =>
  syncIo("recover events.log", () => {
    const quarantinePath = path.join(dir, QUARANTINE_FILE)
    const middle = quarantineRegions(quarantinePath, fd, summary.corrupt, "middle")
    let quarantineCreated = middle.created
    if (summary.tail !== undefined) {
      quarantineCreated = quarantineRegions(quarantinePath, fd, [summary.tail], "tail").created || quarantineCreated
      fs.ftruncateSync(fd, summary.tailStart)
      fs.fsyncSync(fd)
    }
    if (quarantineCreated) fsyncDirectory(dir)
    return {
      records: before.records + summary.recordCount,
      truncatedTailBytes: summary.tail?.length ?? 0,
      corruptRecords: [...before.corrupt, ...summary.corrupt.map(({ offset, length, reason }) => ({ offset, length, reason }))],
    }
  })

// --- the service

interface AppendRequest {
  readonly entries: ReadonlyArray<LogEntry>
  readonly done: Deferred.Deferred<ReadonlyArray<LogRecord>, EventLogError>
}

interface PreparedAppend {
  readonly request: AppendRequest
  readonly records: ReadonlyArray<LogRecord>
  readonly lines: ReadonlyArray<Buffer>
}

const make = Effect.fnUntraced(function*(options: FileEventLogOptions) {
  const dir = path.resolve(options.dir)
  const logPath = path.join(dir, LOG_FILE)
  const lockPath = path.join(dir, LOCK_FILE)
  const appendIo: AppendIo = { ...nodeAppendIo, ...options.appendIo }

  const createdDir = yield* syncIo(`create ${dir}`, () => fs.mkdirSync(dir, { recursive: true, mode: 0o700 }))
  if (createdDir !== undefined) yield* syncIo(`fsync ${path.dirname(createdDir)}`, () => fsyncDirectory(path.dirname(createdDir)))
  yield* Effect.acquireRelease(acquireLock(dir, lockPath), () => Effect.sync(() => releaseLockQuietly(lockPath)))
  const { fd, created } = yield* Effect.acquireRelease(
    syncIo(`open ${logPath}`, () => openLogFile(logPath)),
    ({ fd }) => Effect.sync(() => fs.closeSync(fd)),
  )
  if (created) yield* syncIo(`fsync ${dir}`, () => fsyncDirectory(dir))

  const check: SnapshotCheck = yield* syncIo("check events.snapshot", () => checkSnapshot(dir, fd, options.onIndexFallback))
  const usable = check._tag === "usable" ? check.snapshot : undefined
  const index = usable?.index ?? new HistoryIndex()
  const recent = new RecentRecords()
  if (usable !== undefined) recent.add(usable.last)
  let goodRecords = usable?.last.ordinal ?? 0
  const noteRecord = (record: LogRecord, offset: number, length: number): void => {
    goodRecords++
    recent.add({ seq: record.seq, offset, length, ordinal: goodRecords })
    const topic = conversationOf(record.event)
    if (topic !== undefined) index.add(topic, { seq: record.seq, offset, length })
  }
  const openedFrom = usable?.start ?? FROM_THE_START
  // The open scan decodes every record it reads anyway: keep them (for a tail of a sane size) so
  // the replay that follows at start-up does not read and decode them a second time.
  let openedRecords: Array<LogRecord> | null = fs.fstatSync(fd).size - openedFrom.offset <= OPEN_REPLAY_CACHE_BYTES ? [] : null
  const summary = yield* scanFile(fd, openedFrom, ({ record, offset, length }) => {
    noteRecord(record, offset, length)
    openedRecords?.push(record)
  })
  const recovery = yield* recover(dir, fd, summary, usable === undefined ? { records: 0, corrupt: [] } : { records: usable.last.ordinal, corrupt: usable.corrupt })
  const openedEnd = summary.tailStart
  const snapshotStatus: SnapshotStatus = check._tag === "usable" ? { _tag: "loaded", seq: check.snapshot.last.seq, tailRecords: summary.recordCount } : check
  let foundSnapshot: StateSnapshot | undefined = usable === undefined ? undefined : { seq: usable.last.seq, state: usable.state }

  const state = {
    lastSeq: summary.lastSeq,
    /** Everything before this offset is durable and indexed; the file ends here between batches. */
    committedEnd: summary.tailStart,
    closed: false,
    /** Set after a failed fdatasync: the file's state is unknown until it is reopened and scanned. */
    poisoned: undefined as string | undefined,
  }

  // --- group commit

  const requests = yield* Queue.bounded<AppendRequest, Cause.Done>(MAX_QUEUED_APPENDS)

  /** Takes requests from `from` up to the batch bounds (at least one), numbering them after lastSeq. */
  const prepareBatch = (taken: ReadonlyArray<AppendRequest>, from: number): Array<PreparedAppend> => {
    const batch: Array<PreparedAppend> = []
    let records = 0
    let bytes = 0
    for (let i = from; i < taken.length; i++) {
      const request = taken[i]!
      if (batch.length > 0 && (records + request.entries.length > MAX_BATCH_RECORDS || bytes >= MAX_BATCH_BYTES)) break
      const numbered = numberEntries(request.entries, state.lastSeq + records)
      const lines = numbered.map(encodeRecordLine)
      batch.push({ request, records: numbered, lines })
      records += numbered.length
      bytes += lines.reduce((sum, line) => sum + line.length, 0)
    }
    return batch
  }

  const failAll = (batch: ReadonlyArray<PreparedAppend>, error: EventLogError) =>
    Effect.forEach(batch, ({ request }) => Deferred.fail(request.done, error), { discard: true })

  const commit = Effect.fnUntraced(function*(batch: ReadonlyArray<PreparedAppend>) {
    if (state.poisoned !== undefined) return yield* failAll(batch, new EventLogError({ reason: "io", message: state.poisoned }))
    const bytes = Buffer.concat(batch.flatMap(({ lines }) => lines))
    const start = state.committedEnd

    const written = yield* Effect.result(writeFully(appendIo, fd, bytes, start))
    if (Result.isFailure(written)) {
      // Cut what part of the batch did reach the file, so the next batch starts on a clean line.
      yield* Effect.sync(() => rollBack(start))
      return yield* failAll(batch, written.failure)
    }
    const synced = yield* Effect.result(datasync(appendIo, fd))
    if (Result.isFailure(synced)) {
      yield* Effect.sync(() => rollBack(start))
      state.poisoned = `${synced.failure.message}; the log accepts no more appends until the profile is reopened`
      return yield* failAll(batch, synced.failure)
    }

    // Durable: publish the records to the index and to their appenders.
    let offset = start
    for (const { records, lines } of batch) {
      records.forEach((record, i) => {
        const length = lines[i]!.length
        noteRecord(record, offset, length)
        offset += length
      })
    }
    if (offset !== start + bytes.length) throw new Error("invariant: committed bytes do not add up")
    state.committedEnd = offset
    state.lastSeq += batch.reduce((sum, { records }) => sum + records.length, 0)
    yield* Effect.forEach(batch, ({ request, records }) => Deferred.succeed(request.done, records), { discard: true })
  })

  const rollBack = (start: number): void => {
    try {
      fs.ftruncateSync(fd, start)
    } catch (error) {
      state.poisoned = `could not roll back a failed append: ${describe(error)}; reopen the profile`
    }
  }

  const commitAll = Effect.fnUntraced(function*(taken: ReadonlyArray<AppendRequest>) {
    let next = 0
    // Each turn commits at least one request: at most taken.length turns.
    while (next < taken.length) {
      const batch = prepareBatch(taken, next)
      if (batch.length === 0) throw new Error("invariant: empty batch")
      next += batch.length
      yield* commit(batch).pipe(
        // A bug must not kill the writer and leave appenders waiting forever.
        Effect.catchCause((cause) => {
          state.poisoned = `internal error in the log writer: ${String(cause).slice(0, 300)}`
          return failAll(batch, new EventLogError({ reason: "io", message: state.poisoned }))
        }),
      )
    }
  })

  // Runs until the queue is ended at close, after writing what was already queued.
  const writer = yield* Effect.forkScoped(
    Effect.forever(Effect.flatMap(Queue.takeBetween(requests, 1, MAX_QUEUED_APPENDS), commitAll)).pipe(
      Effect.catchTag("Done", () => Effect.void),
    ),
  )
  // Added after the fd and lock finalizers, so it runs before them: drain, then close, then unlock.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      state.closed = true
      yield* Queue.end(requests)
      yield* Fiber.await(writer)
    })
  )

  const closedError = () => new EventLogError({ reason: "closed", message: `the event log of ${dir} is closed` })

  const append = Effect.fn("FileEventLog.append")(function*(entries: ReadonlyArray<LogEntry>) {
    const valid = validateEntries(entries)
    if (Result.isFailure(valid)) return yield* new EventLogError({ reason: "invalid", message: valid.failure })
    if (state.closed) return yield* closedError()
    if (state.poisoned !== undefined) return yield* new EventLogError({ reason: "io", message: state.poisoned })
    if (valid.success.length === 0) return []
    // The log moves on: the open scan's records no longer are the whole of it.
    openedRecords = null
    const done = yield* Deferred.make<ReadonlyArray<LogRecord>, EventLogError>()
    const queued = yield* Queue.offer(requests, { entries: valid.success, done })
    if (!queued) return yield* closedError()
    return yield* Deferred.await(done)
  })

  const readIndexed = (topic: Topic, conversation: ConversationIndex, start: number, end: number): Array<LogRecord> => {
    const records: Array<LogRecord> = []
    for (let i = start; i < end; i++) {
      const entry = conversation.entryAt(i)
      const line = Buffer.allocUnsafe(entry.length)
      const read = fs.readSync(fd, line, 0, entry.length, entry.offset)
      if (read !== entry.length || line[entry.length - 1] !== NEWLINE) throw new CorruptIndexedRecord(entry.seq, "short read")
      const decoded = decodeRecordLine(line.subarray(0, entry.length - 1))
      if (Result.isFailure(decoded)) throw new CorruptIndexedRecord(entry.seq, decoded.failure.detail)
      if (decoded.success.seq !== entry.seq) throw new CorruptIndexedRecord(entry.seq, `found seq ${decoded.success.seq}`)
      // An index restored from a snapshot is checked for order and bounds, not for what each line is.
      if (conversationOf(decoded.success.event) !== topic) throw new CorruptIndexedRecord(entry.seq, "it is not in this conversation")
      records.push(decoded.success)
    }
    return records
  }

  const history = Effect.fn("FileEventLog.history")(function*(
    topic: Topic,
    options: { readonly beforeSeq?: number; readonly limit: number },
  ) {
    const query = validateHistoryOptions(options)
    if (Result.isFailure(query)) return yield* new EventLogError({ reason: "invalid", message: query.failure })
    if (state.closed) return yield* closedError()
    const conversation = index.get(topic)
    if (conversation === undefined) return { records: [], hasMore: false } satisfies HistoryPage
    // Synchronous reads: a page is at most MAX_HISTORY_LIMIT short lines, and nothing can close
    // the fd in the middle of a synchronous block. A paged index that meets a damaged block of its
    // snapshot is rebuilt from the log, and the window is computed again.
    const page = yield* Effect.try({
      try: () => readRetryingRebuilt(() => {
        const { start, end, hasMore } = historyWindow(conversation.size, conversation.seqAt, query.success)
        return { records: readIndexed(topic, conversation, start, end), hasMore }
      }),
      catch: (cause) =>
        cause instanceof CorruptIndexedRecord
          ? new EventLogError({ reason: "corrupt", message: `${logPath}: ${cause.message}` })
          : ioError(`read history of ${topic}`, cause),
    })
    return page satisfies HistoryPage
  })

  const replayAfter = (seq: number): Stream.Stream<LogRecord, EventLogError> =>
    Stream.unwrap(Effect.gen(function*() {
      if (!Number.isSafeInteger(seq) || seq < 0) return yield* new EventLogError({ reason: "invalid", message: `replay after ${seq}: not a sequence number` })
      if (state.closed) return yield* closedError()
      const cached = openedRecords
      openedRecords = null
      // Nothing appended since the open scan: its records are the log from `openedFrom` on. Served once, then freed.
      if (cached !== null && state.committedEnd === openedEnd && seq >= openedFrom.lastSeq) {
        return Stream.fromIterable(seq === openedFrom.lastSeq ? cached : cached.filter((record) => record.seq > seq))
      }
      // Records appended after this point are not part of this replay. A recent record's end is
      // where the records after it start; any other seq reads from the start and skips.
      const end = state.committedEnd
      const known = seq === 0 ? undefined : recent.find(seq)
      const from: ScanStart = known === undefined ? FROM_THE_START : { offset: known.offset + known.length, lastSeq: seq }
      const records = readRecords(logPath, from, end, recovery.corruptRecords.filter(({ offset }) => offset >= from.offset))
      return from.lastSeq === seq ? records : Stream.filter(records, (record) => record.seq > seq)
    }))

  // One snapshot written at a time; each replaces the one before.
  const snapshotLock = yield* Semaphore.make(1)

  const saveSnapshot = Effect.fn("FileEventLog.saveSnapshot")(function*(snapshot: StateSnapshot) {
    if (state.closed) return yield* closedError()
    if (state.poisoned !== undefined) return yield* new EventLogError({ reason: "io", message: state.poisoned })
    if (!Number.isSafeInteger(snapshot.seq) || snapshot.seq < 1 || snapshot.seq > state.lastSeq) {
      return yield* new EventLogError({ reason: "invalid", message: `snapshot at record ${snapshot.seq}: the log holds 1..${state.lastSeq}` })
    }
    const last: RecordPosition | undefined = recent.find(snapshot.seq)
    if (last === undefined) return yield* new EventLogError({ reason: "invalid", message: `snapshot at record ${snapshot.seq}: not among the log's recent records` })
    // Synchronous from the check of the line to the copy of the index: nothing is appended meanwhile.
    const contents = yield* Effect.try({
      try: () => {
        const line = checkLine(fd, last)
        if (Result.isFailure(line)) throw new CorruptIndexedRecord(snapshot.seq, line.failure)
        return snapshotContents(last, line.success, recovery.corruptRecords, index, snapshot.state)
      },
      catch: (cause) => cause instanceof CorruptIndexedRecord
        ? new EventLogError({ reason: "corrupt", message: `${logPath}: ${cause.message}` })
        : ioError(`snapshot of ${logPath}`, cause),
    })
    yield* snapshotLock.withPermits(1)(Effect.tryPromise({ try: () => writeSnapshot(dir, contents), catch: (cause) => ioError(`write the snapshot of ${dir}`, cause) }))
  })

  return EventLog.of({
    append,
    replay: () => replayAfter(0),
    replayAfter,
    takeSnapshot: Effect.sync(() => {
      const found = foundSnapshot
      foundSnapshot = undefined
      return Option.fromUndefinedOr(found)
    }),
    snapshotStatus,
    saveSnapshot,
    history,
    lastSeq: Effect.sync(() => state.lastSeq),
    recovery,
  })
})

class CorruptIndexedRecord extends Error {
  constructor(seq: number, detail: string) {
    super(`record ${seq} is no longer readable (${detail})`)
  }
}

const releaseLockQuietly = (lockPath: string): void => {
  try {
    releaseLock(lockPath)
  } catch {
    // A lock we cannot remove is stale once we exit: the next open takes it over.
  }
}

export const FileEventLog = {
  /**
   * The durable log of the profile in `options.dir`. Scoped: closing the layer's scope writes what
   * was already queued, closes the file and releases the lock. Fails with reason "locked" when
   * another live process holds the profile, "io" when the files cannot be read or written.
   */
  layer: (options: FileEventLogOptions): Layer.Layer<EventLog, EventLogError> => Layer.effect(EventLog, make(options)),
} as const
