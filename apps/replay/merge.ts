/**
 * Several users' logs as one stream in causal order: Lamport clock, then user id (the usual total
 * order), then each log's own order. A k-way merge with a binary heap of the logs' next records,
 * so 120 logs cost log2(120) comparisons per record rather than 120; one chunk of each log is in
 * memory at a time. `replay merge` prints the stream; `diagram` draws it.
 */
import type { LogRecord } from "../../domain/events.ts"
import { compareUserIds, USER_ID_PATTERN, type UserId } from "../../domain/ids.ts"
import type { ScannedRecord } from "../../adapters/storage/log-scan.ts"
import { EXIT_OK, EXIT_USAGE, locatedAll, ownerOf, PROGRESS_EVERY, warnIfDamaged, type Output } from "./commands.ts"
import { jsonLine, mergedLine, terminalLine, withoutSecret } from "./describe.ts"
import { describeFilter, isUnfiltered, matches, type RecordFilter } from "./filter.ts"
import { LogReader, type LogLocation } from "./log-reader.ts"

interface MergeInput {
  readonly location: LogLocation
  readonly reader: LogReader
  /** The profile's user (from its first record), or the directory when the log does not say. */
  readonly who: string
  /** Position of `who` in user order: compared instead of the ids themselves. */
  rank: number
  head: ScannedRecord | undefined
  /** Records whose clock is below the previous one of the same log: the merge cannot order them. */
  outOfOrder: number
}

const compareWho = (a: string, b: string): number =>
  USER_ID_PATTERN.test(a) && USER_ID_PATTERN.test(b) ? compareUserIds(a as UserId, b as UserId) : a < b ? -1 : a > b ? 1 : 0

/** Causal order: Lamport clock, then user id, then the log's own order. */
export const compareMerged = (a: { who: string; record: LogRecord }, b: { who: string; record: LogRecord }): number =>
  a.record.clock - b.record.clock || compareWho(a.who, b.who) || a.record.seq - b.record.seq

const before = (a: MergeInput, b: MergeInput): boolean => {
  const x = a.head!.record
  const y = b.head!.record
  return x.clock !== y.clock ? x.clock < y.clock : a.rank !== b.rank ? a.rank < b.rank : x.seq < y.seq
}

/** A binary min-heap of the inputs that still have a record, by their head. */
class HeadHeap {
  private readonly items: Array<MergeInput> = []
  get size(): number {
    return this.items.length
  }
  push(input: MergeInput): void {
    const items = this.items
    items.push(input)
    // Sift up: at most log2(size) turns.
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1
      if (!before(items[i]!, items[parent]!)) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }
  pop(): MergeInput | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    items[0] = last
    // Sift down: at most log2(size) turns.
    for (let i = 0; ;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < items.length && before(items[left]!, items[smallest]!)) smallest = left
      if (right < items.length && before(items[right]!, items[smallest]!)) smallest = right
      if (smallest === i) break
      ;[items[i], items[smallest]] = [items[smallest]!, items[i]!]
      i = smallest
    }
    return top
  }
}

/** Whose log a merged record comes from, and the record. */
export interface MergedRecord {
  readonly who: string
  readonly record: LogRecord
}

/**
 * Feeds `visit` every record of the logs in merged order until it returns false, then warns about
 * logs out of causal order and (when read to the end) damaged ones. The logs are closed after.
 */
export const eachMerged = (locations: ReadonlyArray<LogLocation>, out: Output, visit: (merged: MergedRecord) => boolean): void => {
  const inputs: Array<MergeInput> = []
  try {
    for (const location of locations) {
      const reader = new LogReader(location.file)
      const head = reader.next()
      inputs.push({ location, reader, who: ownerOf(head) ?? location.dir, rank: 0, head, outOfOrder: 0 })
    }
    const order = [...new Set(inputs.map((input) => input.who))].sort(compareWho)
    for (const input of inputs) input.rank = order.indexOf(input.who)
    const heap = new HeadHeap()
    for (const input of inputs) if (input.head !== undefined) heap.push(input)
    const totalBytes = inputs.reduce((sum, input) => sum + input.reader.size, 0)
    let stopped = false
    let count = 0
    // Each turn consumes a record: bounded by the logs.
    for (let next = heap.pop(); next !== undefined; next = heap.pop()) {
      const record = next.head!.record
      if (!visit({ who: next.who, record })) {
        stopped = true
        break
      }
      next.head = next.reader.next()
      if (next.head !== undefined) {
        if (next.head.record.clock < record.clock) next.outOfOrder += 1
        heap.push(next)
      }
      if (++count % PROGRESS_EVERY === 0) out.progress?.(`${inputs.length} logs`, inputs.reduce((sum, input) => sum + input.reader.position, 0), totalBytes)
    }
    for (const input of inputs) {
      if (input.outOfOrder > 0) out.note(terminalLine(`warning: ${input.location.file} has ${input.outOfOrder} records with a smaller clock than the one before; they are out of causal order`))
      if (!stopped) warnIfDamaged(input.reader, input.location, out)
    }
  } finally {
    for (const input of inputs) input.reader.close()
  }
}

export interface MergeOptions {
  readonly limit: number | undefined
  readonly filter: RecordFilter
  readonly json: boolean
}

export const merge = (targets: ReadonlyArray<string>, options: MergeOptions, out: Output): number => {
  const locations = locatedAll(targets, out)
  if (locations === undefined) return EXIT_USAGE
  let shown = 0
  eachMerged(locations, out, ({ who, record }) => {
    if (options.limit !== undefined && shown >= options.limit) return false
    if (options.filter.until?.kind === "number" && record.clock > options.filter.until.value) return false
    if (!matches(options.filter, record, who, record.clock)) return true
    out.line(options.json ? jsonLine({ who, ...withoutSecret(record) }) : mergedLine(who, record))
    shown += 1
    return true
  })
  if (shown === 0 && !isUnfiltered(options.filter)) out.note(terminalLine(`no record matches ${describeFilter(options.filter, "clock")}`))
  return EXIT_OK
}
