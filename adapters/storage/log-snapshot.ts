/**
 * The file log's side of snapshots (snapshot-file.ts is the file format): checking a snapshot
 * against the log at open, and gathering what a new one needs — where its last record is, the
 * history index up to there, the log's bookkeeping up to there.
 *
 * A snapshot is used only when the record it says it ends with is in the log at the offset it
 * says, byte for byte (its line's CRC-32), and decodes with that seq; then the log is read from
 * the end of that line on, as if the scan had just reached it. Otherwise it is ignored, with the
 * reason, and the log is scanned whole: the snapshot never decides what the log holds.
 */
import * as fs from "node:fs"
import { Result } from "effect"
import { conversationOf } from "../../domain/events.ts"
import type { Topic } from "../../domain/ids.ts"
import type { RecoveryReport } from "../../domain/ports/event-log.port.ts"
import { ConversationIndex, entriesProblem, HistoryIndex } from "./conversation-index.ts"
import type { IndexArrays } from "./conversation-index.ts"
import { READ_CHUNK_BYTES } from "./log-io.ts"
import { LogScanner } from "./log-scan.ts"
import type { ScanStart } from "./log-scan.ts"
import { crc32, decodeRecordLine, MAX_LINE_BYTES, NEWLINE } from "./record-codec.ts"
import { INDEX_BLOCK, openSnapshot, readIndexBlock, readIndexPart } from "./snapshot-file.ts"
import type { IndexPartRef, OpenedSnapshot, SnapshotContents, SnapshotOfFile } from "./snapshot-file.ts"

/** Records whose position the log remembers for a later snapshot: the service folds a batch behind the log by at most a few thousand. */
export const RECENT_RECORDS = 16_384

export interface RecordPosition {
  readonly seq: number
  readonly offset: number
  readonly length: number
  /** Good records in the log up to and including this one. */
  readonly ordinal: number
}

/** The last RECENT_RECORDS records' positions, seq ascending: a ring. */
export class RecentRecords {
  private readonly seqs = new Float64Array(RECENT_RECORDS)
  private readonly offsets = new Float64Array(RECENT_RECORDS)
  private readonly lengths = new Uint32Array(RECENT_RECORDS)
  private readonly ordinals = new Float64Array(RECENT_RECORDS)
  /** Physical slot of the oldest entry, and how many entries there are. */
  private first = 0
  private count = 0

  add(position: RecordPosition): void {
    if (this.count > 0 && position.seq <= this.seqs[this.slot(this.count - 1)]!) throw new Error(`invariant: recent record ${position.seq} out of order`)
    let slot: number
    if (this.count < RECENT_RECORDS) {
      slot = this.slot(this.count)
      this.count++
    } else {
      slot = this.first
      this.first = (this.first + 1) % RECENT_RECORDS
    }
    this.seqs[slot] = position.seq
    this.offsets[slot] = position.offset
    this.lengths[slot] = position.length
    this.ordinals[slot] = position.ordinal
  }

  /** The position of record `seq`, if it is among the recent ones. */
  find(seq: number): RecordPosition | undefined {
    let low = 0
    let high = this.count
    // Halves the range each turn: at most 15 turns.
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.seqs[this.slot(middle)]! < seq) low = middle + 1
      else high = middle
    }
    if (low >= this.count) return undefined
    const slot = this.slot(low)
    if (this.seqs[slot] !== seq) return undefined
    return { seq, offset: this.offsets[slot]!, length: this.lengths[slot]!, ordinal: this.ordinals[slot]! }
  }

  private slot(logical: number): number {
    return (this.first + logical) % RECENT_RECORDS
  }
}

/** A snapshot that agrees with the log: the log opens from its end. */
export interface UsableSnapshot {
  readonly last: RecordPosition
  readonly start: ScanStart
  readonly corrupt: RecoveryReport["corruptRecords"]
  readonly index: HistoryIndex
  /** The domain's state, for the profile. */
  readonly state: string
}

export type SnapshotCheck =
  | { readonly _tag: "none" }
  | { readonly _tag: "ignored"; readonly reason: string }
  | { readonly _tag: "usable"; readonly snapshot: UsableSnapshot }

const readExactly = (fd: number, offset: number, length: number): Buffer | undefined => {
  const buffer = Buffer.alloc(length)
  // Each turn reads at least one byte or stops: at most `length` turns.
  for (let done = 0; done < length; ) {
    const read = fs.readSync(fd, buffer, done, length - done, offset + done)
    if (read === 0) return undefined
    done += read
  }
  return buffer
}

/** The CRC-32 of the line at `position` if it is record `position.seq`, or why it is not. */
export const checkLine = (fd: number, position: { readonly seq: number; readonly offset: number; readonly length: number }): Result.Result<number, string> => {
  if (position.length > MAX_LINE_BYTES) return Result.fail(`a record line of ${position.length} bytes`)
  const line = readExactly(fd, position.offset, position.length)
  if (line === undefined) return Result.fail(`the log ends before record ${position.seq} at ${position.offset}`)
  if (line[line.length - 1] !== NEWLINE) return Result.fail(`no record ends at ${position.offset + position.length}`)
  const decoded = decodeRecordLine(line.subarray(0, line.length - 1))
  if (Result.isFailure(decoded)) return Result.fail(`the line at ${position.offset} is not a record (${decoded.failure.reason})`)
  if (decoded.success.seq !== position.seq) return Result.fail(`the record at ${position.offset} is ${decoded.success.seq}, not ${position.seq}`)
  return Result.succeed(crc32(line))
}

/**
 * The entries of `topic` in the log open at `fd` up to `end`, found by scanning it from the start
 * (what the open does without a snapshot): the fallback when the snapshot's part cannot be used.
 */
export const scanConversation = (fd: number, topic: Topic, end: number): ConversationIndex => {
  const index = new ConversationIndex()
  const scanner = new LogScanner(({ record, offset, length }) => {
    if (conversationOf(record.event) === topic) index.add({ seq: record.seq, offset, length })
  })
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES)
  // Each turn reads at least one byte or stops: at most `end` turns, in practice end / READ_CHUNK_BYTES.
  for (let position = 0; position < end; ) {
    const read = fs.readSync(fd, buffer, 0, Math.min(READ_CHUNK_BYTES, end - position), position)
    if (read === 0) break
    scanner.push(buffer.subarray(0, read))
    position += read
  }
  scanner.finish()
  return index
}

/**
 * One conversation's index as of the snapshot, paged: its blocks are read from the snapshot as its
 * history is read, each checked then (CRC-32 and span, then every entry: seqs ascending, lines
 * inside the part of the log the snapshot covers). A block that fails is not used: the log is
 * scanned for that conversation instead, and `onFallback` hears why.
 */
export const pagedConversation = (
  dir: string,
  opened: SnapshotOfFile,
  part: IndexPartRef,
  logFd: number,
  end: number,
  onFallback: (reason: string) => void,
): ConversationIndex => {
  const checked = (read: Result.Result<IndexArrays, string>, after: number): Result.Result<IndexArrays, string> => {
    if (Result.isFailure(read)) return read
    const problem = entriesProblem(read.success.seqs, read.success.offsets, read.success.lengths, end, after)
    return problem === undefined ? read : Result.fail(problem)
  }
  return ConversationIndex.paged({
    count: part.count,
    lastSeq: part.blocks[part.blocks.length - 1]![2],
    blockSize: INDEX_BLOCK,
    // The seq before a block is the previous block's last (the header's, whose order the open checked).
    block: (b) => checked(readIndexBlock(dir, opened, part, b), b === 0 ? 0 : part.blocks[b - 1]![2]),
    all: () => checked(readIndexPart(dir, opened, part), 0),
    scan: (reason) => {
      onFallback(`the snapshot's index of ${part.topic} is not used (${reason}): scanned from the log`)
      return scanConversation(logFd, part.topic, end)
    },
  })
}

const restoreIndex = (dir: string, opened: OpenedSnapshot, logFd: number, end: number, onFallback: (reason: string) => void): HistoryIndex => {
  const index = new HistoryIndex()
  // The paged indexes keep only which file it was: the state's text is not kept alive by them.
  const file: SnapshotOfFile = { identity: opened.identity }
  for (const part of opened.parts) index.restore(part.topic, pagedConversation(dir, file, part, logFd, end, onFallback))
  return index
}

/**
 * The snapshot in `dir`, checked against the log open at `fd`. Never throws. Its index parts are
 * read later, each at its conversation's first use; `onIndexFallback` hears of a part that could
 * not be used (its conversation was scanned from the log instead).
 */
export const checkSnapshot = (dir: string, fd: number, onIndexFallback: (reason: string) => void = () => {}): SnapshotCheck => {
  const read = openSnapshot(dir)
  if (read._tag === "none") return read
  if (read._tag === "damaged") return { _tag: "ignored", reason: read.reason }
  const { header, state } = read.snapshot
  try {
    const last: RecordPosition = { seq: header.seq, offset: header.offset, length: header.length, ordinal: header.records }
    const end = header.offset + header.length
    const size = fs.fstatSync(fd).size
    if (size < end) return { _tag: "ignored", reason: `the log ends at ${size}, before the snapshot's record ${header.seq} (${header.offset}..${end})` }
    const line = checkLine(fd, last)
    if (Result.isFailure(line)) return { _tag: "ignored", reason: `the snapshot does not match the log: ${line.failure}` }
    if (line.success !== header.lineCrc) return { _tag: "ignored", reason: `the snapshot does not match the log: the bytes at ${header.offset} are not its record ${header.seq}'s` }
    if (header.records > header.seq) return { _tag: "ignored", reason: `${header.records} records up to seq ${header.seq}` }
    if (header.corrupt.some((region) => region.offset + region.length > header.offset)) return { _tag: "ignored", reason: "a corrupt region past the snapshot's record" }
    return { _tag: "usable", snapshot: { last, start: { offset: end, lastSeq: header.seq }, corrupt: header.corrupt, index: restoreIndex(dir, read.snapshot, fd, end, onIndexFallback), state } }
  } catch (error) {
    return { _tag: "ignored", reason: `the snapshot cannot be used: ${error instanceof Error ? error.message : String(error)}` }
  }
}

/** What a snapshot after record `last` holds, from the log's live index (entries up to its seq). */
export const snapshotContents = (
  last: RecordPosition,
  lineCrc: number,
  corrupt: RecoveryReport["corruptRecords"],
  index: HistoryIndex,
  state: string,
): SnapshotContents => {
  // Views of the live index, not copies: entries up to `count` never change, and an append that
  // grows an index moves it to new arrays and leaves these as they are.
  const kept: Array<{ readonly topic: Topic; readonly parts: ReturnType<ConversationIndex["viewsUpTo"]> }> = []
  for (const [topic, conversation] of index.entries()) {
    const parts = conversation.viewsUpTo(last.seq)
    if (parts.seqs.length > 0) kept.push({ topic, parts })
  }
  return {
    header: {
      seq: last.seq,
      offset: last.offset,
      length: last.length,
      lineCrc,
      records: last.ordinal,
      corrupt: corrupt.filter((region) => region.offset < last.offset),
    },
    state,
    index: {
      topics: kept.map(({ topic, parts }) => [topic, parts.seqs.length] as const),
      seqs: kept.map(({ parts }) => parts.seqs),
      offsets: kept.map(({ parts }) => parts.offsets),
      lengths: kept.map(({ parts }) => parts.lengths),
    },
  }
}
