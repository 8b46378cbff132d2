/**
 * Where each conversation's records are in the log file, for history paging without a scan.
 * Typed arrays keep 100,000 entries in about 2 MB instead of 100,000 small objects. A conversation
 * restored from a snapshot is paged: its entries up to the snapshot stay in the snapshot file and
 * are read a block at a time as its history is read (log-snapshot.ts), or all at once when a new
 * snapshot needs them.
 */
import { Result } from "effect"
import type { Topic } from "../../domain/ids.ts"

export interface IndexEntry {
  readonly seq: number
  readonly offset: number
  readonly length: number
}

const INITIAL_CAPACITY = 16
/** Blocks of a paged index kept in memory (8 × 16,384 entries: 2.6 MB), the oldest read dropped first. */
const MAX_CACHED_BLOCKS = 8

export interface IndexArrays {
  readonly seqs: Float64Array
  readonly offsets: Float64Array
  readonly lengths: Uint32Array
}

/** A conversation's entries as of a snapshot, still on disk (log-snapshot.ts reads them). */
export interface IndexPages {
  readonly count: number
  readonly lastSeq: number
  readonly blockSize: number
  /** Block `b`'s entries (`blockSize` of them, fewer in the last), read and checked, or why not. */
  block(b: number): Result.Result<IndexArrays, string>
  /** Every entry, in arrays with room to grow after them, checked, or why not. */
  all(): Result.Result<IndexArrays, string>
  /** The entries found by scanning the log: what replaces pages that cannot be used, and why. */
  scan(reason: string): ConversationIndex
}

/**
 * Thrown by a read of a paged index that met a block it could not use: the index has been rebuilt
 * from the log meanwhile, and what was computed from it before (a history window) must be again.
 */
export class IndexRebuilt extends Error {
  constructor() {
    super("the index was rebuilt from the log")
  }
}

/** Runs `read` (which reads one index), once more if the index was rebuilt under it: a rebuilt index is in memory and cannot throw that again. */
export const readRetryingRebuilt = <A>(read: () => A): A => {
  try {
    return read()
  } catch (error) {
    if (error instanceof IndexRebuilt) return read()
    throw error
  }
}

/** Why these entries cannot be a conversation's index up to `end` (seqs ascending, lines inside the log), or undefined. */
export const entriesProblem = (seqs: Float64Array, offsets: Float64Array, lengths: Uint32Array, end: number, after = 0): string | undefined => {
  if (seqs.length !== offsets.length || seqs.length !== lengths.length) return "index arrays of different lengths"
  let previous = after
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!
    if (!Number.isSafeInteger(seq) || seq < 1 || seq <= previous) return `index seq ${seq} out of order`
    previous = seq
    const offset = offsets[i]!
    if (!Number.isSafeInteger(offset) || offset < 0 || lengths[i]! < 2 || offset + lengths[i]! > end) return `index entry ${seq} outside the log`
  }
  return undefined
}

/** One conversation's entries, seq ascending. */
export class ConversationIndex {
  private seqs: Float64Array<ArrayBufferLike> = new Float64Array(INITIAL_CAPACITY)
  private offsets: Float64Array<ArrayBufferLike> = new Float64Array(INITIAL_CAPACITY)
  private lengths: Uint32Array<ArrayBufferLike> = new Uint32Array(INITIAL_CAPACITY)
  private count = 0
  /** Paged: the entries up to the snapshot on disk, the blocks of them read lately, and the entries added since (after them). */
  private pages: IndexPages | undefined
  private readonly blocks = new Map<number, IndexArrays>()
  private added: ConversationIndex | undefined

  /** An index whose entries up to a snapshot are `pages`, read a block at a time when asked for. */
  static paged(pages: IndexPages): ConversationIndex {
    if (!Number.isSafeInteger(pages.count) || pages.count < 1 || !(pages.blockSize >= 1)) throw new Error(`invariant: paged index of ${pages.count} entries in blocks of ${pages.blockSize}`)
    const index = new ConversationIndex()
    index.pages = pages
    return index
  }

  /** Whether every entry is in memory (false: paged). */
  get loaded(): boolean {
    return this.pages === undefined
  }

  get size(): number {
    return this.pages === undefined ? this.count : this.pages.count + (this.added?.count ?? 0)
  }

  add(entry: IndexEntry): void {
    if (this.pages !== undefined) {
      const last = this.added === undefined || this.added.count === 0 ? this.pages.lastSeq : this.added.seqAt(this.added.count - 1)
      if (entry.seq <= last) throw new Error(`invariant: index seq ${entry.seq} after ${last}`)
      this.added ??= new ConversationIndex()
      this.added.add(entry)
      return
    }
    if (this.count > 0 && entry.seq <= this.seqs[this.count - 1]!) {
      throw new Error(`invariant: index seq ${entry.seq} after ${this.seqs[this.count - 1]}`)
    }
    if (this.count === this.seqs.length) this.grow()
    this.seqs[this.count] = entry.seq
    this.offsets[this.count] = entry.offset
    this.lengths[this.count] = entry.length
    this.count++
  }

  seqAt = (index: number): number => (this.pages === undefined ? this.seqs[this.checked(index)]! : this.pagedEntry(index).seq)

  entryAt(index: number): IndexEntry {
    if (this.pages !== undefined) return this.pagedEntry(index)
    const i = this.checked(index)
    return { seq: this.seqs[i]!, offset: this.offsets[i]!, length: this.lengths[i]! }
  }

  /** How many entries have a seq up to `seq` (binary search): a snapshot keeps those. */
  countUpTo(seq: number): number {
    this.materialize()
    let low = 0
    let high = this.count
    // Halves the range each turn: at most 53 turns.
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.seqs[middle]! <= seq) low = middle + 1
      else high = middle
    }
    return low
  }

  /** The entries with a seq up to `seq`, as views of this index's arrays (a snapshot writes them). */
  viewsUpTo(seq: number): { readonly seqs: Float64Array; readonly offsets: Float64Array; readonly lengths: Uint32Array } {
    const count = this.countUpTo(seq)
    return { seqs: this.seqs.subarray(0, count), offsets: this.offsets.subarray(0, count), lengths: this.lengths.subarray(0, count) }
  }

  /**
   * An index of the given entries, checked: seqs ascending, every line within `end`. The arrays are
   * adopted, not copied (a snapshot's sections: 20 MB for a million entries), with the room their
   * buffers have after them: views at the start of larger arrays grow into those first.
   */
  static fromArrays(seqs: Float64Array, offsets: Float64Array, lengths: Uint32Array, end: number): ConversationIndex {
    const problem = entriesProblem(seqs, offsets, lengths, end)
    if (problem !== undefined) throw new Error(problem)
    return ConversationIndex.adopting({ seqs, offsets, lengths })
  }

  /** An index of entries already checked, their arrays adopted (see `fromArrays`). */
  private static adopting({ seqs, offsets, lengths }: IndexArrays): ConversationIndex {
    const index = new ConversationIndex()
    if (seqs.length === 0) return index
    const capacity = seqs.byteOffset === 0 && offsets.byteOffset === 0 && lengths.byteOffset === 0
      ? Math.min(seqs.buffer.byteLength / 8, offsets.buffer.byteLength / 8, lengths.buffer.byteLength / 4)
      : seqs.length
    index.seqs = capacity > seqs.length ? new Float64Array(seqs.buffer, 0, capacity) : seqs
    index.offsets = capacity > seqs.length ? new Float64Array(offsets.buffer, 0, capacity) : offsets
    index.lengths = capacity > seqs.length ? new Uint32Array(lengths.buffer, 0, capacity) : lengths
    index.count = seqs.length
    return index
  }

  /** Entry `index` of a paged index: from its block (read if need be) or from those added since. */
  private pagedEntry(index: number): IndexEntry {
    const pages = this.pages!
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new Error(`invariant: index ${index} out of 0..${this.size}`)
    if (index >= pages.count) return this.added!.entryAt(index - pages.count)
    const b = Math.floor(index / pages.blockSize)
    let block = this.blocks.get(b)
    if (block === undefined) {
      const read = pages.block(b)
      if (Result.isFailure(read)) {
        this.replaceWith(pages.scan(read.failure))
        throw new IndexRebuilt()
      }
      block = read.success
      if (this.blocks.size >= MAX_CACHED_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!)
      this.blocks.set(b, block)
    }
    const i = index - b * pages.blockSize
    return { seq: block.seqs[i]!, offset: block.offsets[i]!, length: block.lengths[i]! }
  }

  /** Reads every entry of a paged index into memory (once): the snapshot's, then those added since. */
  private materialize(): void {
    const pages = this.pages
    if (pages === undefined) return
    const all = pages.all()
    this.replaceWith(Result.isSuccess(all) ? ConversationIndex.adopting(all.success) : pages.scan(all.failure))
  }

  /** Takes `base`'s entries (in memory) as this index's own, then appends those added since the snapshot. */
  private replaceWith(base: ConversationIndex): void {
    if (base.pages !== undefined) throw new Error("invariant: a paged index replaced by another paged one")
    this.pages = undefined
    this.blocks.clear()
    this.seqs = base.seqs
    this.offsets = base.offsets
    this.lengths = base.lengths
    this.count = base.count
    const added = this.added
    this.added = undefined
    // Bounded by the entries added since the snapshot.
    for (let i = 0; i < (added?.count ?? 0); i++) this.add(added!.entryAt(i))
  }

  private checked(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new Error(`invariant: index ${index} out of 0..${this.count}`)
    return index
  }

  private grow(): void {
    // A quarter more, not double: an index of a million entries restored from a snapshot grows by
    // 5 MB at its next append, not by 20 (the chat's memory goal is 150 MB).
    const capacity = this.seqs.length + Math.max(INITIAL_CAPACITY, this.seqs.length >>> 2)
    const seqs = new Float64Array(capacity)
    const offsets = new Float64Array(capacity)
    const lengths = new Uint32Array(capacity)
    seqs.set(this.seqs)
    offsets.set(this.offsets)
    lengths.set(this.lengths)
    this.seqs = seqs
    this.offsets = offsets
    this.lengths = lengths
  }
}

/** All conversations of one log. */
export class HistoryIndex {
  private readonly conversations = new Map<Topic, ConversationIndex>()

  add(topic: Topic, entry: IndexEntry): void {
    let conversation = this.conversations.get(topic)
    if (conversation === undefined) {
      conversation = new ConversationIndex()
      this.conversations.set(topic, conversation)
    }
    conversation.add(entry)
  }

  get(topic: Topic): ConversationIndex | undefined {
    return this.conversations.get(topic)
  }

  /** Every conversation, for a snapshot. */
  entries(): IterableIterator<[Topic, ConversationIndex]> {
    return this.conversations.entries()
  }

  /** Puts a restored conversation in place (at open, before any `add`). */
  restore(topic: Topic, conversation: ConversationIndex): void {
    if (this.conversations.has(topic)) throw new Error(`index of ${topic} restored twice`)
    this.conversations.set(topic, conversation)
  }
}
