/**
 * `replay state`: fold the log up to a record (a seq, or the last record at or before a time) and
 * print what the chat knew then — the domain view — or, with --diff, what that one record changed.
 * --raw prints the whole folded state as JSON (machine snapshots included), group keys hidden.
 */
import { Result } from "effect"
import { stateToJson } from "../../domain/chat/chat-state.ts"
import type { LogRecord } from "../../domain/events.ts"
import { domainView, ViewFold, type DomainView } from "../shared/domain-view.ts"
import { EXIT_CORRUPT, EXIT_OK, EXIT_USAGE, eachRecord, lines, located, type Output } from "./commands.ts"
import { inertJson, isoTime, terminalLine, timelineLine } from "./describe.ts"
import type { Bound } from "./filter.ts"
import type { LogLocation } from "./log-reader.ts"
import { diffViews, formatDomainView } from "./state-view.ts"

export interface StateOptions {
  readonly at: Bound | undefined
  readonly diff: boolean
  readonly json: boolean
  readonly raw: boolean
}

/** Whether `record` comes after the point asked for: past its seq, or later than its time. */
const beyond = (at: Bound | undefined, record: LogRecord): boolean =>
  at !== undefined && (at.kind === "number" ? record.seq > at.value : record.at > at.ms)

export interface Folded {
  readonly fold: ViewFold
  /** The view just before the last record folded (for --diff). */
  readonly before: DomainView | undefined
  /** The last record folded. */
  readonly last: LogRecord | undefined
}

/**
 * Folds the log up to `at` (all of it without), as the chat would at start. With `keepBefore`, the
 * view before the last record is kept too: the fold runs one record behind, so it costs nothing
 * until the end.
 */
export const foldLog = (location: LogLocation, at: Bound | undefined, out: Output, keepBefore = false): Result.Result<Folded, string> => {
  const fold = new ViewFold()
  let pending: LogRecord | undefined
  let failure: string | undefined
  const apply = (record: LogRecord): boolean => {
    try {
      fold.apply(record)
      return true
    } catch (error) {
      failure = `record ${record.seq} cannot be folded: ${error instanceof Error ? error.message : String(error)}`
      return false
    }
  }
  eachRecord(location, out, ({ record }) => {
    if (beyond(at, record)) return false
    if (!keepBefore) return apply(record)
    // One behind: the record held back is folded once the next one shows it was not the last.
    if (pending !== undefined && !apply(pending)) return false
    pending = record
    return true
  })
  if (failure !== undefined) return Result.fail(failure)
  if (pending === undefined) return Result.succeed({ fold, before: undefined, last: undefined })
  const before = domainView(fold)
  if (!apply(pending)) return Result.fail(failure!)
  return Result.succeed({ fold, before, last: pending })
}

/** Group keys are secrets: the raw state shows which versions are held, never the keys. */
const withoutSecrets = (json: ReturnType<typeof stateToJson>) => ({
  ...json,
  trust: {
    ...json.trust,
    groupKeys: Object.fromEntries(Object.entries(json.trust.groupKeys).map(([group, keys]) => [group, keys.map((k) => ({ ...k, key: "(secret)" }))])),
  },
})

const describeAt = (at: Bound): string => (at.kind === "number" ? `seq ${at.value}` : isoTime(at.ms))

export const state = (target: string, options: StateOptions, out: Output): number => {
  const location = located(target, out)
  if (location === undefined) return EXIT_USAGE
  const folded = foldLog(location, options.at, out, options.diff)
  if (Result.isFailure(folded)) {
    out.note(terminalLine(folded.failure))
    return EXIT_CORRUPT
  }
  const { fold, before, last } = folded.success
  const at = options.at
  if (at?.kind === "number" && fold.state.lastSeq < at.value) out.note(`note: the log ends at seq ${fold.state.lastSeq}, before ${at.value}`)
  if (at?.kind === "time" && last === undefined && fold.state.lastSeq === 0) out.note(`note: no record at or before ${describeAt(at)}`)
  if (options.raw) {
    lines(out, inertJson(withoutSecrets(stateToJson(fold.state))))
    return EXIT_OK
  }
  const after = domainView(fold)
  if (!options.diff) {
    lines(out, options.json ? inertJson(after) : formatDomainView(after))
    return EXIT_OK
  }
  if (last === undefined || before === undefined) {
    out.note("note: the log has no record to compare")
    return EXIT_OK
  }
  const changes = diffViews(before, after)
  if (options.json) {
    lines(out, inertJson({ seq: last.seq, event: last.event._tag, changes }))
    return EXIT_OK
  }
  out.line(timelineLine(last))
  lines(out, changes.length === 0 ? ["  (the domain view did not change: a duplicate, an acknowledgement of nothing shown, or bookkeeping)"] : changes.map((change) => `  ${change}`))
  return EXIT_OK
}
