/**
 * Rules both event-log implementations share, so the memory log behaves exactly like the file log:
 * what an append may contain, what a history query may ask, and how a history page is cut.
 */
import { Result, Schema } from "effect"
import { LogEntry } from "../../domain/events.ts"
import type { LogRecord } from "../../domain/events.ts"
import { encodeRecordLine } from "./record-codec.ts"

/** One append is one group-commit batch at most; callers append one decision at a time anyway. */
export const MAX_ENTRIES_PER_APPEND = 1024
export const MAX_HISTORY_LIMIT = 1000

const decodeEntry = Schema.decodeUnknownResult(LogEntry)

/**
 * Checks every entry against the schema (the static type can be lied to with a cast) and that its
 * record fits in one line whatever seq it gets. Returns the decoded entries: fresh objects holding
 * only the schema's fields, so no caller-owned object (or `__proto__` key) reaches storage.
 */
export const validateEntries = (entries: ReadonlyArray<LogEntry>): Result.Result<ReadonlyArray<LogEntry>, string> => {
  if (!Array.isArray(entries)) return Result.fail("entries must be an array")
  if (entries.length > MAX_ENTRIES_PER_APPEND) {
    return Result.fail(`${entries.length} entries in one append; at most ${MAX_ENTRIES_PER_APPEND}`)
  }
  const valid: Array<LogEntry> = []
  for (const [index, entry] of entries.entries()) {
    const decoded = decodeEntry(entry)
    if (Result.isFailure(decoded)) return Result.fail(`entry ${index}: ${decoded.failure.message.slice(0, 300)}`)
    try {
      // The widest seq there can be: if this fits, the real line fits.
      encodeRecordLine({ seq: Number.MAX_SAFE_INTEGER, ...decoded.success })
    } catch (error) {
      return Result.fail(`entry ${index}: ${error instanceof Error ? error.message : String(error)}`)
    }
    valid.push(decoded.success)
  }
  return Result.succeed(valid)
}

/** Gives entries their sequence numbers, `lastSeq + 1` onwards. */
export const numberEntries = (entries: ReadonlyArray<LogEntry>, lastSeq: number): Array<LogRecord> =>
  entries.map((entry, index) => ({ seq: lastSeq + 1 + index, ...entry }))

export interface HistoryQuery {
  readonly beforeSeq: number | undefined
  readonly limit: number
}

export const validateHistoryOptions = (
  options: { readonly beforeSeq?: number; readonly limit: number },
): Result.Result<HistoryQuery, string> => {
  const { beforeSeq, limit } = options
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    return Result.fail(`history limit must be an integer in 1..${MAX_HISTORY_LIMIT}, got ${String(limit)}`)
  }
  if (beforeSeq !== undefined && (!Number.isSafeInteger(beforeSeq) || beforeSeq < 1)) {
    return Result.fail(`history beforeSeq must be a positive integer, got ${String(beforeSeq)}`)
  }
  return Result.succeed({ beforeSeq, limit })
}

/** How many of `size` seq-ascending items have a seq below `bound` (binary search). */
export const countBelow = (size: number, seqAt: (index: number) => number, bound: number): number => {
  let low = 0
  let high = size
  while (low < high) {
    const middle = (low + high) >>> 1
    if (seqAt(middle) < bound) low = middle + 1
    else high = middle
  }
  return low
}

/** The slice [start, end) of a conversation's seq-ascending items that a history query returns. */
export const historyWindow = (
  size: number,
  seqAt: (index: number) => number,
  query: HistoryQuery,
): { readonly start: number; readonly end: number; readonly hasMore: boolean } => {
  const end = query.beforeSeq === undefined ? size : countBelow(size, seqAt, query.beforeSeq)
  const start = Math.max(0, end - query.limit)
  return { start, end, hasMore: start > 0 }
}
