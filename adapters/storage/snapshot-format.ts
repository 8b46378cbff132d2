/**
 * The format of `events.snapshot` (snapshot-file.ts describes it and reads it, snapshot-write.ts
 * writes it): its constants, its header's schema, the shapes of its parts, and the arithmetic of
 * where each part lies.
 */
import * as fs from "node:fs"
import { Schema } from "effect"
import { Topic } from "../../domain/ids.ts"

export const SNAPSHOT_FILE = "events.snapshot"
export const TEMP_FILE = "events.snapshot.tmp"
export const SNAPSHOT_FORMAT = 2
export const MAGIC = `mqtt-chat-snapshot ${SNAPSHOT_FORMAT}\n`
export const ANY_MAGIC = /^mqtt-chat-snapshot (\S{1,16})\n/
/** Bounds: a snapshot larger than this is not read (the log is replayed instead). */
export const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024
export const MAX_HEADER_BYTES = 16 * 1024 * 1024
const ALIGN = 8
export const WRITE_CHUNK_BYTES = 4 * 1024 * 1024
/** Entries per checked block of a conversation's index: 320 KB, what the newest history page reads. */
export const INDEX_BLOCK = 16_384

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Crc = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(0xffffffff))

const Header = Schema.Struct({
  seq: Count.check(Schema.isGreaterThanOrEqualTo(1)),
  offset: Count,
  length: Count.check(Schema.isGreaterThanOrEqualTo(2)),
  lineCrc: Crc,
  records: Count,
  corrupt: Schema.Array(Schema.Struct({ offset: Count, length: Count, reason: Schema.String.check(Schema.isMaxLength(32)) })).check(Schema.isMaxLength(1_000_000)),
  stateBytes: Count,
  stateCrc: Crc,
  /**
   * Per conversation, in file order: its topic, its number of entries, and per block of
   * INDEX_BLOCK entries the CRC-32 of its seqs, offsets and lengths, its first seq and its last.
   */
  topics: Schema.Array(Schema.Tuple([
    Topic.check(Schema.isMaxLength(512)),
    Count,
    Schema.Array(Schema.Tuple([Crc, Count, Count])).check(Schema.isMaxLength(1_000_000)),
  ])),
})
export type SnapshotHeader = typeof Header.Type
export const decodeHeader = Schema.decodeUnknownResult(Schema.fromJsonString(Header))

/**
 * The history index as of the snapshot, one part per conversation (in `topics` order); the file
 * holds every seq, then every offset, then every length. A writer passes views of the live index
 * (no copy); a reader gets views of arrays with room to grow after them (`slackFor`).
 */
export interface IndexSection {
  readonly topics: ReadonlyArray<readonly [Topic, number]>
  readonly seqs: ReadonlyArray<Float64Array>
  readonly offsets: ReadonlyArray<Float64Array>
  readonly lengths: ReadonlyArray<Uint32Array>
}

export interface SnapshotContents {
  readonly header: Omit<SnapshotHeader, "stateBytes" | "stateCrc" | "topics">
  readonly state: string
  readonly index: IndexSection
}

export const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
export const padded = (n: number): number => Math.ceil(n / ALIGN) * ALIGN
export const hex8 = (value: number): string => value.toString(16).padStart(8, "0")
export const bytesOf = (array: Float64Array | Uint32Array): Uint8Array => new Uint8Array(array.buffer, array.byteOffset, array.byteLength)

/** Bytes of one conversation's index part in the file, its padding included. */
export const partBytes = (count: number): number => padded(count * (8 + 8 + 4))

export const blocksOf = (count: number): number => Math.ceil(count / INDEX_BLOCK)

export interface IndexArrays {
  readonly seqs: Float64Array
  readonly offsets: Float64Array
  readonly lengths: Uint32Array
}

/** Where one conversation's index part is in the file, and what it must hash to. */
export interface IndexPartRef {
  readonly topic: Topic
  readonly count: number
  readonly position: number
  /** Per block: the CRC-32 of its entries, its first seq and its last. */
  readonly blocks: ReadonlyArray<readonly [number, number, number]>
}

export const readFully = (fd: number, into: Uint8Array, position: number): boolean => {
  // Each turn reads at least one byte or stops: at most into.length turns.
  for (let done = 0; done < into.length; ) {
    const read = fs.readSync(fd, into, done, into.length - done, position + done)
    if (read === 0) return false
    done += read
  }
  return true
}
