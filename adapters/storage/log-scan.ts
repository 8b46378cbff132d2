/**
 * Classifies the bytes of a log file into good records, corruption in the middle, and a bad tail.
 *
 * A bad line (see record-codec.ts) with a good record somewhere after it is corruption in the
 * middle: it is reported, and the records on both sides are kept. Bad bytes after the last good
 * record are the tail: a torn or garbage write that the opener cuts off. Contiguous bad lines are
 * merged into one region. The scanner is incremental (fed chunk by chunk, holding at most one line)
 * so a large file is never in memory; `scanLog` is the same thing over one buffer, for tests.
 */
import { Result } from "effect"
import type { LogRecord } from "../../domain/events.ts"
import { checkSequence, decodeRecordLine, MAX_LINE_BYTES, NEWLINE } from "./record-codec.ts"
import type { LineFailureReason } from "./record-codec.ts"

export interface ScannedRecord {
  readonly record: LogRecord
  /** Byte offset of the line in the file. */
  readonly offset: number
  /** Bytes of the line, newline included. */
  readonly length: number
}

export interface CorruptRegion {
  readonly offset: number
  readonly length: number
  /** The reason of the region's first bad line. */
  readonly reason: LineFailureReason
}

export interface ScanSummary {
  /** Bytes scanned. */
  readonly endOffset: number
  /** Good records seen. */
  readonly recordCount: number
  readonly lastSeq: number
  /** Bad regions with a good record after them. */
  readonly corrupt: ReadonlyArray<CorruptRegion>
  /** Where the bad tail starts: the end of the last good record (`endOffset` when the file ends cleanly). */
  readonly tailStart: number
  /** Present when there is a bad tail. */
  readonly tail: CorruptRegion | undefined
}

/** Where a scan that does not begin at the file's start begins: after the record `lastSeq`, ending at `offset`. */
export interface ScanStart {
  readonly offset: number
  readonly lastSeq: number
}

const EMPTY = Buffer.alloc(0)

export class LogScanner {
  /** File offset of the first byte of `carry`. */
  private carryOffset = 0
  /** The start of a line not yet ended by a newline; never longer than a line may be. */
  private carry: Buffer = EMPTY
  /** Set while inside a line already known to be oversize: its bytes are skipped, not buffered. */
  private oversizeStart: number | undefined
  private lastSeq = 0
  private recordCount = 0
  private lastGoodEnd = 0
  /** Bad bytes since the last good record: corruption if a good record follows, else the tail. */
  private pendingBad: CorruptRegion | undefined
  private readonly corrupt: Array<CorruptRegion> = []
  private finished = false

  /**
   * Scans from the start of a file, or from `start`: the end of a good record already known (a
   * snapshot's), with its seq. `onRecord` gets each good record as soon as its line ends.
   */
  constructor(private readonly onRecord: (scanned: ScannedRecord) => void, start?: ScanStart) {
    if (start === undefined) return
    if (!Number.isSafeInteger(start.offset) || start.offset < 0 || !Number.isSafeInteger(start.lastSeq) || start.lastSeq < 0) {
      throw new Error(`invariant: scan start ${start.offset}/${start.lastSeq}`)
    }
    this.carryOffset = start.offset
    this.lastGoodEnd = start.offset
    this.lastSeq = start.lastSeq
  }

  /** Feeds the next bytes of the file. The chunk is not retained: the caller may reuse it. */
  push(chunk: Uint8Array): void {
    if (this.finished) throw new Error("invariant: LogScanner.push after finish")
    if (chunk.length === 0) return
    const bytes = this.carry.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.concat([this.carry, chunk])
    const bytesOffset = this.carryOffset
    this.carry = EMPTY
    let position = 0
    // Each turn consumes at least one byte, so the loop ends within bytes.length turns.
    while (position < bytes.length) {
      const newline = bytes.indexOf(NEWLINE, position)
      if (this.oversizeStart !== undefined) {
        if (newline < 0) return this.keepCarry(EMPTY, bytesOffset + bytes.length)
        const end = bytesOffset + newline + 1
        this.bad(this.oversizeStart, end - this.oversizeStart, "oversize")
        this.oversizeStart = undefined
        position = newline + 1
        continue
      }
      if (newline < 0) {
        if (bytes.length - position >= MAX_LINE_BYTES) {
          // Too long to ever become a valid line: stop buffering it.
          this.oversizeStart = bytesOffset + position
          return this.keepCarry(EMPTY, bytesOffset + bytes.length)
        }
        // Copy: the caller may overwrite its chunk.
        return this.keepCarry(Buffer.from(bytes.subarray(position)), bytesOffset + position)
      }
      this.line(bytes.subarray(position, newline), bytesOffset + position)
      position = newline + 1
    }
    this.keepCarry(EMPTY, bytesOffset + bytes.length)
  }

  /** Ends the scan: a line without its newline is a torn write. */
  finish(): ScanSummary {
    if (this.finished) throw new Error("invariant: LogScanner.finish twice")
    this.finished = true
    const endOffset = this.carryOffset + this.carry.length
    if (this.oversizeStart !== undefined) this.bad(this.oversizeStart, endOffset - this.oversizeStart, "oversize")
    else if (this.carry.length > 0) this.bad(this.carryOffset, this.carry.length, "incomplete")
    const tail = this.pendingBad
    if (tail !== undefined && (tail.offset !== this.lastGoodEnd || tail.offset + tail.length !== endOffset)) {
      throw new Error(`invariant: tail ${tail.offset}+${tail.length} does not span ${this.lastGoodEnd}..${endOffset}`)
    }
    return {
      endOffset,
      recordCount: this.recordCount,
      lastSeq: this.lastSeq,
      corrupt: this.corrupt,
      tailStart: this.lastGoodEnd,
      tail,
    }
  }

  private keepCarry(carry: Buffer, offset: number): void {
    this.carry = carry
    this.carryOffset = offset
  }

  private line(bytes: Uint8Array, offset: number): void {
    const length = bytes.length + 1
    const decoded = decodeRecordLine(bytes)
    if (Result.isFailure(decoded)) return this.bad(offset, length, decoded.failure.reason)
    const record = decoded.success
    const outOfSequence = checkSequence(record, this.lastSeq, this.pendingBad !== undefined)
    if (outOfSequence !== undefined) return this.bad(offset, length, outOfSequence.reason)
    this.good({ record, offset, length })
  }

  private good(scanned: ScannedRecord): void {
    if (this.pendingBad !== undefined) {
      this.corrupt.push(this.pendingBad)
      this.pendingBad = undefined
    }
    this.lastSeq = scanned.record.seq
    this.recordCount++
    this.lastGoodEnd = scanned.offset + scanned.length
    this.onRecord(scanned)
  }

  private bad(offset: number, length: number, reason: LineFailureReason): void {
    const pending = this.pendingBad
    if (pending === undefined) {
      this.pendingBad = { offset, length, reason }
      return
    }
    if (pending.offset + pending.length !== offset) throw new Error("invariant: bad regions must be contiguous")
    this.pendingBad = { ...pending, length: pending.length + length }
  }
}

export interface ScanResult extends ScanSummary {
  readonly records: ReadonlyArray<ScannedRecord>
}

/** Scans a whole log held in memory. Pure: the same bytes give the same result. */
export const scanLog = (bytes: Uint8Array): ScanResult => {
  const records: Array<ScannedRecord> = []
  const scanner = new LogScanner((scanned) => records.push(scanned))
  scanner.push(bytes)
  return { ...scanner.finish(), records }
}
