/**
 * Where each conversation's records are in the log file, for history paging without a scan.
 * Typed arrays keep 100,000 entries in about 2 MB instead of 100,000 small objects. A conversation
 * restored from a snapshot may be deferred: its entries are loaded at its first use (log-snapshot.ts).
 */
import type { Topic } from "../../domain/ids.ts"

export interface IndexEntry {
  readonly seq: number
  readonly offset: number
  readonly length: number
}

const INITIAL_CAPACITY = 16

/** One conversation's entries, seq ascending. */
export class ConversationIndex {
  private seqs: Float64Array<ArrayBufferLike> = new Float64Array(INITIAL_CAPACITY)
  private offsets: Float64Array<ArrayBufferLike> = new Float64Array(INITIAL_CAPACITY)
  private lengths: Uint32Array<ArrayBufferLike> = new Uint32Array(INITIAL_CAPACITY)
  private count = 0
  /** Deferred: what gives the entries up to the snapshot, and the entries added since (after them). */
  private load: (() => ConversationIndex) | undefined
  private added: ConversationIndex | undefined

  /**
   * An index whose entries up to a snapshot come from `load`, called once, at the first read: an
   * entry added before that waits in a small index of its own and follows the loaded ones.
   */
  static deferred(load: () => ConversationIndex): ConversationIndex {
    const index = new ConversationIndex()
    index.load = load
    return index
  }

  /** Whether the entries are in memory (false: deferred and not used yet). */
  get loaded(): boolean {
    return this.load === undefined
  }

  get size(): number {
    this.materialize()
    return this.count
  }

  add(entry: IndexEntry): void {
    if (this.load !== undefined) {
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

  seqAt = (index: number): number => {
    this.materialize()
    return this.seqs[this.checked(index)]!
  }

  entryAt(index: number): IndexEntry {
    this.materialize()
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
    if (seqs.length !== offsets.length || seqs.length !== lengths.length) throw new Error("index arrays of different lengths")
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!
      if (!Number.isSafeInteger(seq) || seq < 1 || (i > 0 && seq <= seqs[i - 1]!)) throw new Error(`index seq ${seq} out of order`)
      const offset = offsets[i]!
      if (!Number.isSafeInteger(offset) || offset < 0 || lengths[i]! < 2 || offset + lengths[i]! > end) throw new Error(`index entry ${seq} outside the log`)
    }
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

  /** Loads a deferred index (once): the loaded entries, then those added meanwhile. */
  private materialize(): void {
    const load = this.load
    if (load === undefined) return
    const base = load()
    if (!base.loaded) throw new Error("invariant: a deferred index loaded another deferred one")
    this.load = undefined
    this.seqs = base.seqs
    this.offsets = base.offsets
    this.lengths = base.lengths
    this.count = base.count
    const added = this.added
    this.added = undefined
    // Bounded by the entries added before the first read.
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
