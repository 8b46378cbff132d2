/**
 * The file log's I/O, each failure an EventLogError: positioned reads, full writes, fdatasync,
 * directory fsync, and a fresh read of a stretch of the log as a stream of records
 * (file-event-log.ts uses them; the write and fdatasync calls are replaceable, for fault tests).
 */
import * as fs from "node:fs"
import { Effect, Option, Stream } from "effect"
import type { LogRecord } from "../../domain/events.ts"
import { EventLogError } from "../../domain/ports/event-log.port.ts"
import type { RecoveryReport } from "../../domain/ports/event-log.port.ts"
import { LogScanner } from "./log-scan.ts"
import type { ScanStart } from "./log-scan.ts"

export const READ_CHUNK_BYTES = 1024 * 1024

type WriteCallback = (error: NodeJS.ErrnoException | null, written: number) => void
type SyncCallback = (error: NodeJS.ErrnoException | null) => void

/** The two calls an append makes; replaceable so tests can inject EIO and ENOSPC. */
export interface AppendIo {
  write(fd: number, buffer: Buffer, offset: number, length: number, position: number, callback: WriteCallback): void
  fdatasync(fd: number, callback: SyncCallback): void
}

export const nodeAppendIo: AppendIo = {
  write: (fd, buffer, offset, length, position, callback) => fs.write(fd, buffer, offset, length, position, callback),
  fdatasync: (fd, callback) => fs.fdatasync(fd, callback),
}

// --- small I/O helpers: every failure becomes an EventLogError

export const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

export const ioError = (what: string, cause: unknown): EventLogError =>
  new EventLogError({ reason: "io", message: `${what}: ${describe(cause)}` })

export const syncIo = <A>(what: string, thunk: () => A): Effect.Effect<A, EventLogError> =>
  Effect.try({ try: thunk, catch: (cause) => ioError(what, cause) })

export const readAt = (fd: number, buffer: Buffer, length: number, position: number): Effect.Effect<number, EventLogError> =>
  Effect.callback<number, EventLogError>((resume) => {
    fs.read(fd, buffer, 0, length, position, (error, read) =>
      resume(error ? Effect.fail(ioError(`read at ${position}`, error)) : Effect.succeed(read)))
  })

export const writeFully = (io: AppendIo, fd: number, bytes: Buffer, position: number): Effect.Effect<void, EventLogError> =>
  Effect.callback<void, EventLogError>((resume) => {
    // Each callback either finishes, fails, or writes at least one more byte: bounded by bytes.length.
    const writeFrom = (done: number): void =>
      io.write(fd, bytes, done, bytes.length - done, position + done, (error, written) => {
        if (error) return resume(Effect.fail(ioError(`write at ${position + done}`, error)))
        if (written <= 0) return resume(Effect.fail(ioError(`write at ${position + done}`, "no progress")))
        if (done + written >= bytes.length) return resume(Effect.void)
        writeFrom(done + written)
      })
    writeFrom(0)
  })

export const datasync = (io: AppendIo, fd: number): Effect.Effect<void, EventLogError> =>
  Effect.callback<void, EventLogError>((resume) => {
    io.fdatasync(fd, (error) => resume(error ? Effect.fail(ioError("fdatasync", error)) : Effect.void))
  })

/** Makes the creation (or removal) of a file in `dir` durable. */
export const fsyncDirectory = (dir: string): void => {
  const fd = fs.openSync(dir, "r")
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

export const openLogFile = (logPath: string): { readonly fd: number; readonly created: boolean } => {
  try {
    return { fd: fs.openSync(logPath, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600), created: true }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    return { fd: fs.openSync(logPath, "r+"), created: false }
  }
}

/**
 * The records of the log from `from` to `end`, read afresh through a second descriptor and checked
 * again: bytes that changed since the open (another writer, a disk) fail the stream.
 */
export const readRecords = (
  logPath: string,
  from: ScanStart,
  end: number,
  expectedCorrupt: RecoveryReport["corruptRecords"],
): Stream.Stream<LogRecord, EventLogError> =>
  Stream.unwrap(Effect.gen(function*() {
    const readFd = yield* Effect.acquireRelease(
      syncIo(`open ${logPath}`, () => fs.openSync(logPath, "r")),
      (readFd) => Effect.sync(() => fs.closeSync(readFd)),
    )
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES)
    let ready: Array<LogRecord> = []
    const scanner = new LogScanner(({ record }) => ready.push(record), from)
    const changedOnDisk = (detail: string) =>
      new EventLogError({ reason: "corrupt", message: `${logPath} changed on disk since it was opened: ${detail}` })

    return Stream.paginate(from.offset, (position: number) =>
      Effect.gen(function*() {
        if (position >= end) {
          const summary = scanner.finish()
          if (summary.tail !== undefined) return yield* changedOnDisk(`bad bytes at ${summary.tail.offset}`)
          const expected = expectedCorrupt.map(({ offset, length }) => `${offset}+${length}`).join(",")
          const found = summary.corrupt.map(({ offset, length }) => `${offset}+${length}`).join(",")
          if (found !== expected) return yield* changedOnDisk(`corrupt regions ${found || "none"}`)
          return [[], Option.none()] as const
        }
        const read = yield* readAt(readFd, buffer, Math.min(READ_CHUNK_BYTES, end - position), position)
        if (read === 0) return yield* changedOnDisk(`it ends at ${position}`)
        scanner.push(buffer.subarray(0, read))
        const records = ready
        ready = []
        return [records, Option.some(position + read)] as const
      }))
  }))

