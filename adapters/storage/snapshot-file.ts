/**
 * `events.snapshot`: the folded state and the history index as of one record of the log, so that
 * opening a profile reads only the log's tail after that record (file-event-log.ts). A cache: the
 * log stays the source of truth, and any doubt about a snapshot means a full scan and replay.
 *
 *     mqtt-chat-snapshot <format>\n
 *     <crc32 of the header JSON, 8 hex> <header JSON>\n
 *     <state: UTF-8 text, `stateBytes`> <zero padding to a multiple of 8>
 *     per conversation, in the header's order: <seqs as float64[n]> <offsets as float64[n]>
 *       <line lengths as uint32[n]> <zero padding to a multiple of 8>   (little-endian)
 *
 * The header names the record the snapshot ends with (seq, offset, line length, CRC-32 of the
 * line) — the opener checks that exactly this line is in the log at that offset — the log's count
 * of good records and its corrupt regions up to there (for the recovery report), and the CRC-32 of
 * each section (the index per block of INDEX_BLOCK entries of a conversation, with the block's
 * first and last seq). The state is the domain's (domain/snapshot/state-codec.ts, versioned there by a
 * fingerprint of the code); this file's format version covers the framing and the index.
 *
 * Written atomically (snapshot-write.ts): temp file, fsync, rename, fsync of the directory. At
 * open only the header and the state are read (`openSnapshot`); a conversation's index is read
 * block by block as that conversation's history is paged (`readIndexBlock`, from the same file,
 * each block checked by its own CRC-32), or whole when it must be (`readIndexPart`): the newest
 * page of a million-entry conversation reads one block (320 KB), not 20 MB. The constants and
 * shapes are in snapshot-format.ts.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Result } from "effect"
import { crc32 } from "./record-codec.ts"
import { ANY_MAGIC, blocksOf, bytesOf, decodeHeader, INDEX_BLOCK, littleEndian, MAX_HEADER_BYTES, MAX_SNAPSHOT_BYTES, padded, partBytes, readFully, SNAPSHOT_FILE, SNAPSHOT_FORMAT } from "./snapshot-format.ts"
import type { IndexArrays, IndexPartRef, IndexSection, SnapshotContents } from "./snapshot-format.ts"

export { INDEX_BLOCK, MAX_SNAPSHOT_BYTES, SNAPSHOT_FILE, SNAPSHOT_FORMAT } from "./snapshot-format.ts"
export type { IndexArrays, IndexPartRef, IndexSection, SnapshotContents, SnapshotHeader } from "./snapshot-format.ts"
export { removeSnapshot, writeSnapshot } from "./snapshot-write.ts"

/** Which file an opened snapshot was: a lazy read of a part checks it is still that one. */
export interface SnapshotIdentity {
  readonly dev: number
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
}

/** A snapshot whose header and state were read and checked; its index parts are read on demand. */
export interface OpenedSnapshot {
  readonly header: SnapshotContents["header"]
  readonly state: string
  readonly parts: ReadonlyArray<IndexPartRef>
  readonly identity: SnapshotIdentity
}

/** What a lazy read needs of an opened snapshot: which file it was (not its state, which it must not keep alive). */
export type SnapshotOfFile = Pick<OpenedSnapshot, "identity">

export type SnapshotOpen =
  | { readonly _tag: "none" }
  | { readonly _tag: "damaged"; readonly reason: string }
  | { readonly _tag: "opened"; readonly snapshot: OpenedSnapshot }

export type SnapshotRead =
  | { readonly _tag: "none" }
  | { readonly _tag: "damaged"; readonly reason: string }
  | { readonly _tag: "read"; readonly contents: SnapshotContents }

const damaged = (reason: string) => ({ _tag: "damaged", reason }) as const
const strictUtf8 = new TextDecoder("utf-8", { fatal: true })


/** Room an index read from a snapshot gets for the records appended after it, without a copy. */
export const slackFor = (count: number): number => count + Math.max(16, count >>> 2)

const identityOf = (stat: fs.Stats): SnapshotIdentity => ({ dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs })
const sameFile = (a: SnapshotIdentity, b: SnapshotIdentity): boolean => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs

/**
 * Reads and checks the header and the state of the snapshot open at `fd`, and places the index
 * parts (the header's counts must add up to the file's size); the parts are not read. Never
 * throws on bad data.
 */
const openAt = (fd: number, identity: SnapshotIdentity): SnapshotOpen => {
  const { size } = identity
  const head = Buffer.alloc(Math.min(size, 64))
  if (!readFully(fd, head, 0)) return damaged("the file shrank while read")
  const magic = ANY_MAGIC.exec(head.toString("latin1"))
  if (magic === null) return damaged("not a snapshot file (no header)")
  if (magic[1] !== String(SNAPSHOT_FORMAT)) return damaged(`snapshot format ${magic[1]}, this code reads format ${SNAPSHOT_FORMAT}`)
  if (!littleEndian) return damaged("snapshots are read on little-endian machines only")
  const headStart = magic[0].length
  // The header line is short (a topic per conversation): read 64 KiB, more only if it is longer.
  let headerArea = Buffer.alloc(0)
  let newline = -1
  // Doubles each turn up to MAX_HEADER_BYTES: at most 9 turns.
  for (let want = 64 * 1024; newline < 0; want *= 2) {
    const length = Math.min(want, MAX_HEADER_BYTES, size - headStart)
    if (length <= headerArea.length) break
    headerArea = Buffer.alloc(length)
    if (!readFully(fd, headerArea, headStart)) return damaged("the file shrank while read")
    newline = headerArea.indexOf(0x0a)
  }
  if (newline < 10) return damaged("the header line is cut short")
  const headerLine = headerArea.subarray(0, newline)
  const headerJson = headerLine.subarray(9)
  const stated = headerLine.subarray(0, 8).toString("latin1")
  if (headerLine[8] !== 0x20 || !/^[0-9a-f]{8}$/.test(stated) || Number.parseInt(stated, 16) !== crc32(headerJson)) return damaged("the header's checksum does not match")
  let headerText: string
  try {
    headerText = strictUtf8.decode(headerJson)
  } catch {
    return damaged("the header is not UTF-8")
  }
  const decoded = decodeHeader(headerText)
  if (Result.isFailure(decoded)) return damaged(`the header does not decode: ${decoded.failure.message.slice(0, 200)}`)
  const { stateBytes, stateCrc, topics, ...header } = decoded.success
  const stateStart = headStart + newline + 1
  const indexStart = padded(stateStart + stateBytes)
  const parts: Array<IndexPartRef> = []
  let position = indexStart
  for (const [topic, count, blocks] of topics) {
    if (count === 0) return damaged(`an empty index part of ${topic}`)
    if (blocks.length !== blocksOf(count)) return damaged(`${count} index entries of ${topic} in ${blocks.length} blocks`)
    // Blocks in seq order, each first <= last, and every seq after the previous block's (checked again per entry when a block is read).
    for (let b = 0; b < blocks.length; b++) {
      const [, first, last] = blocks[b]!
      if (first < 1 || last < first || (b > 0 && first <= blocks[b - 1]![2])) return damaged(`the index blocks of ${topic} are out of order`)
    }
    parts.push({ topic, count, position, blocks })
    position += partBytes(count)
  }
  if (position !== size) return damaged(`the file is ${size} bytes, its header says ${position}`)
  // The state and the zero padding after it.
  const stateArea = Buffer.alloc(indexStart - stateStart)
  if (!readFully(fd, stateArea, stateStart)) return damaged("the file shrank while read")
  const stateSection = stateArea.subarray(0, stateBytes)
  if (crc32(stateSection) !== stateCrc) return damaged("the state's checksum does not match")
  if (stateArea.subarray(stateBytes).some((byte) => byte !== 0)) return damaged("the padding before the index is not zero")
  let state: string
  try {
    state = strictUtf8.decode(stateSection)
  } catch {
    return damaged("the state is not UTF-8")
  }
  return { _tag: "opened", snapshot: { header, state, parts, identity } }
}


/** Entries `from`..`to` of `part` read from `fd` into the arrays given (at their index 0). */
const readEntries = (fd: number, part: IndexPartRef, from: number, to: number, into: IndexArrays): boolean => {
  const n = to - from
  const starts = [part.position, part.position + 8 * part.count, part.position + 16 * part.count]
  const targets = [into.seqs, into.offsets, into.lengths]
  for (let k = 0; k < 3; k++) {
    const array = targets[k]!
    if (!readFully(fd, bytesOf(array).subarray(0, n * array.BYTES_PER_ELEMENT), starts[k]! + from * array.BYTES_PER_ELEMENT)) return false
  }
  return true
}

/** Why block `b` (its entries in `arrays` from index `at`) is not what the header says, or undefined. */
const blockProblem = (part: IndexPartRef, b: number, arrays: IndexArrays, at: number): string | undefined => {
  const n = Math.min(part.count, (b + 1) * INDEX_BLOCK) - b * INDEX_BLOCK
  const [crc, first, last] = part.blocks[b]!
  const views = [arrays.seqs.subarray(at, at + n), arrays.offsets.subarray(at, at + n), arrays.lengths.subarray(at, at + n)]
  if (views.reduce((sum, array) => crc32(bytesOf(array), sum), 0) !== crc) return `the index's checksum of ${part.topic} does not match (block ${b})`
  if (views[0]![0] !== first || views[0]![n - 1] !== last) return `the index block ${b} of ${part.topic} does not span ${first}..${last}`
  return undefined
}

/** Block `b` of `part` from `fd`, checked against its CRC-32 and its first and last seq. */
const readBlockAt = (fd: number, part: IndexPartRef, b: number): Result.Result<IndexArrays, string> => {
  if (!Number.isInteger(b) || b < 0 || b >= part.blocks.length) throw new Error(`invariant: index block ${b} of ${part.blocks.length}`)
  const from = b * INDEX_BLOCK
  const n = Math.min(part.count, from + INDEX_BLOCK) - from
  const arrays: IndexArrays = { seqs: new Float64Array(n), offsets: new Float64Array(n), lengths: new Uint32Array(n) }
  if (!readEntries(fd, part, from, from + n, arrays)) return Result.fail("the file shrank while read")
  const problem = blockProblem(part, b, arrays, 0)
  return problem === undefined ? Result.succeed(arrays) : Result.fail(problem)
}

/**
 * A whole index part from `fd`, straight into arrays with room to grow (`slackFor`; views of their
 * first `count` entries are returned), every block and the zero padding checked. A million entries
 * cost their 20 MB once, no file buffer and no copy. Never throws on bad data.
 */
const readPartAt = (fd: number, part: IndexPartRef): Result.Result<IndexArrays, string> => {
  const { count } = part
  const arrays: IndexArrays = { seqs: new Float64Array(slackFor(count)), offsets: new Float64Array(slackFor(count)), lengths: new Uint32Array(slackFor(count)) }
  if (!readEntries(fd, part, 0, count, arrays)) return Result.fail("the file shrank while read")
  for (let b = 0; b < part.blocks.length; b++) {
    const problem = blockProblem(part, b, arrays, b * INDEX_BLOCK)
    if (problem !== undefined) return Result.fail(problem)
  }
  const used = count * 20
  const padding = Buffer.alloc(partBytes(count) - used)
  if (!readFully(fd, padding, part.position + used)) return Result.fail("the file shrank while read")
  if (padding.some((byte) => byte !== 0)) return Result.fail(`the padding after the index of ${part.topic} is not zero`)
  return Result.succeed({ seqs: arrays.seqs.subarray(0, count), offsets: arrays.offsets.subarray(0, count), lengths: arrays.lengths.subarray(0, count) })
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Runs `f` on the snapshot file open for reading; none if there is none, I/O errors as damage. */
const withSnapshotFile = <A>(dir: string, f: (fd: number, identity: SnapshotIdentity) => A | { readonly _tag: "damaged"; readonly reason: string }) => {
  const file = path.join(dir, SNAPSHOT_FILE)
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { _tag: "none" } as const
    return damaged(`cannot open ${SNAPSHOT_FILE}: ${errorText(error)}`)
  }
  try {
    const identity = identityOf(fs.fstatSync(fd))
    if (identity.size > MAX_SNAPSHOT_BYTES) return damaged(`${identity.size} bytes, more than the ${MAX_SNAPSHOT_BYTES} a snapshot may have`)
    return f(fd, identity)
  } catch (error) {
    return damaged(`cannot read ${SNAPSHOT_FILE}: ${errorText(error)}`)
  } finally {
    fs.closeSync(fd)
  }
}

/** The snapshot in `dir`, its header and state checked; its index parts stay on disk (`readIndexPart`). */
export const openSnapshot = (dir: string): SnapshotOpen => withSnapshotFile(dir, openAt)

/**
 * One index part of the snapshot `opened` from `dir`, read now: refused (with why) if the file is
 * no longer the one opened, or the part is damaged. Never throws.
 */
export const readIndexPart = (dir: string, opened: SnapshotOfFile, part: IndexPartRef): Result.Result<IndexArrays, string> =>
  fromOpened(dir, opened, (fd) => readPartAt(fd, part))

/** Block `b` of one index part of the snapshot `opened` from `dir`, read now and checked. Never throws on bad data. */
export const readIndexBlock = (dir: string, opened: SnapshotOfFile, part: IndexPartRef, b: number): Result.Result<IndexArrays, string> =>
  fromOpened(dir, opened, (fd) => readBlockAt(fd, part, b))

const fromOpened = (dir: string, opened: SnapshotOfFile, f: (fd: number) => Result.Result<IndexArrays, string>): Result.Result<IndexArrays, string> => {
  const read = withSnapshotFile(dir, (fd, identity) => {
    if (!sameFile(identity, opened.identity)) return damaged(`${SNAPSHOT_FILE} was replaced since it was opened`)
    return f(fd)
  })
  if (read._tag === "none") return Result.fail(`${SNAPSHOT_FILE} was removed since it was opened`)
  if (read._tag === "damaged") return Result.fail(read.reason)
  return read
}

/** The snapshot in `dir` whole, every index part read and checked (tools and tests; the log opens lazily). */
export const readSnapshot = (dir: string): SnapshotRead =>
  withSnapshotFile(dir, (fd, identity): SnapshotRead => {
    const opened = openAt(fd, identity)
    if (opened._tag !== "opened") return opened
    const { header, state, parts } = opened.snapshot
    const arrays: Array<IndexArrays> = []
    for (const part of parts) {
      const read = readPartAt(fd, part)
      if (Result.isFailure(read)) return damaged(read.failure)
      arrays.push(read.success)
    }
    const index: IndexSection = {
      topics: parts.map(({ topic, count }) => [topic, count] as const),
      seqs: arrays.map((a) => a.seqs),
      offsets: arrays.map((a) => a.offsets),
      lengths: arrays.map((a) => a.lengths),
    }
    return { _tag: "read", contents: { header, state, index } }
  })
