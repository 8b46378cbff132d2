/**
 * Reads a profile's log WITHOUT its lock, so it works while the chat runs: the file is opened
 * read-only, its size is taken once (records appended later are not part of this read), and the
 * bytes go through the same scanner the log uses at open (log-scan.ts), one chunk at a time.
 * Records are pulled one by one, so several logs can be merged with one chunk of each in memory.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Result } from "effect"
import { isProcessAlive } from "../../adapters/storage/file-lock.ts"
import { LOCK_FILE, LOG_FILE } from "../../adapters/storage/file-event-log.ts"
import { LogScanner, type CorruptRegion, type ScannedRecord, type ScanSummary } from "../../adapters/storage/log-scan.ts"
import { decodeRecordLine, MAX_LINE_BYTES, NEWLINE } from "../../adapters/storage/record-codec.ts"

const READ_CHUNK_BYTES = 1024 * 1024

/** Where a log is: its file, and the profile directory around it. */
export interface LogLocation {
  readonly file: string
  readonly dir: string
}

/** A profile directory means its events.log; anything else must be a log file. */
export const locateLog = (target: string): Result.Result<LogLocation, string> => {
  let stats: fs.Stats
  try {
    stats = fs.statSync(target)
  } catch (error) {
    return Result.fail(`cannot read ${target}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
  }
  if (stats.isDirectory()) {
    const file = path.join(target, LOG_FILE)
    if (!fs.existsSync(file)) return Result.fail(`${target} holds no ${LOG_FILE}: not a profile directory`)
    return Result.succeed({ file, dir: target })
  }
  if (!stats.isFile()) return Result.fail(`${target} is neither a profile directory nor a file`)
  return Result.succeed({ file: target, dir: path.dirname(target) })
}

/** The process holding the profile's lock, if it is alive: the chat is running and may be writing. */
export const liveWriter = (location: LogLocation): number | undefined => {
  try {
    const text = fs.readFileSync(path.join(location.dir, LOCK_FILE), "utf8").slice(0, 32).trim()
    const pid = Number(text)
    return /^[0-9]{1,10}$/.test(text) && pid > 0 && isProcessAlive(pid) ? pid : undefined
  } catch {
    return undefined
  }
}

export class LogReader {
  private readonly fd: number
  /** Bytes at open: the end of this read. */
  readonly size: number
  private readOffset = 0
  private readonly buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES)
  /** Records of the last chunk not yet pulled (at most one chunk's worth). */
  private ready: Array<ScannedRecord> = []
  private head = 0
  private readonly scanner = new LogScanner((scanned) => this.ready.push(scanned))
  private summary: ScanSummary | undefined

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, "r")
    try {
      this.size = fs.fstatSync(this.fd).size
    } catch (error) {
      fs.closeSync(this.fd)
      throw error
    }
  }

  /** Bytes read so far (of `size`): for progress reports. */
  get position(): number {
    return this.readOffset
  }

  /** The next good record, or undefined at the end. */
  next(): ScannedRecord | undefined {
    // Each turn reads a chunk or finishes: at most size / chunk + 1 turns.
    while (this.head >= this.ready.length) {
      if (this.summary !== undefined) return undefined
      this.ready = []
      this.head = 0
      this.readChunk()
    }
    return this.ready[this.head++]
  }

  /** Reads to the end (dropping records not pulled yet) and says what the scan found. */
  finish(): ScanSummary {
    // Each turn consumes a record or ends the scan: bounded by the file.
    while (this.next() !== undefined);
    return this.summary!
  }

  /** Why the line at `offset` is bad, in words (e.g. "crc32 1a2b3c4d != 00000000"). */
  describeBadLine(region: CorruptRegion): string {
    const length = Math.min(region.length, MAX_LINE_BYTES)
    const bytes = Buffer.alloc(length)
    const read = fs.readSync(this.fd, bytes, 0, length, region.offset)
    const line = bytes.subarray(0, read)
    const newline = line.indexOf(NEWLINE)
    if (newline < 0) return region.reason === "incomplete" ? "the file ends inside this line" : `no line end within ${read} bytes`
    const decoded = decodeRecordLine(line.subarray(0, newline))
    if (Result.isFailure(decoded)) return decoded.failure.detail
    // A well-formed record in the wrong place.
    return region.reason === "sequence" ? `a record with seq ${decoded.success.seq} out of sequence` : "the line decodes now: the file changed while it was read"
  }

  close(): void {
    fs.closeSync(this.fd)
  }

  private readChunk(): void {
    if (this.readOffset >= this.size) {
      this.summary = this.scanner.finish()
      return
    }
    const read = fs.readSync(this.fd, this.buffer, 0, Math.min(READ_CHUNK_BYTES, this.size - this.readOffset), this.readOffset)
    if (read === 0) throw new Error(`${this.file} shrank to ${this.readOffset} bytes while it was read`)
    this.scanner.push(this.buffer.subarray(0, read))
    this.readOffset += read
  }
}

/** Opens, runs `use`, closes. */
export const withLogReader = <A>(file: string, use: (reader: LogReader) => A): A => {
  const reader = new LogReader(file)
  try {
    return use(reader)
  } finally {
    reader.close()
  }
}
