/**
 * The replay tool's commands. Each reads its log(s) read-only through LogReader, writes lines to
 * an Output, and returns the exit code; main.ts binds Output to the terminal, tests to arrays.
 */
import { Result } from "effect"
import { evolve, initialChatState, stateToJson, type ChatState } from "../../domain/chat/chat-state.ts"
import type { LogRecord } from "../../domain/events.ts"
import { compareUserIds, USER_ID_PATTERN, type UserId } from "../../domain/ids.ts"
import type { CorruptRegion, ScannedRecord } from "../../adapters/storage/log-scan.ts"
import { formatNumber, renderTable } from "../sim/text-table.ts"
import { inertJson, isoTime, mergedLine, terminalLine, timelineLine } from "./describe.ts"
import { liveWriter, locateLog, LogReader, withLogReader, type LogLocation } from "./log-reader.ts"

export interface Output {
  /** One line of the result (stdout). */
  line(text: string): void
  /** A warning or error about the input (stderr). */
  note(text: string): void
}

export const EXIT_OK = 0
export const EXIT_CORRUPT = 1
export const EXIT_USAGE = 2

/** Gaps and bad regions listed one by one; past this they are only counted. */
const MAX_LISTED = 20

const located = (target: string, out: Output): LogLocation | undefined => {
  const location = locateLog(target)
  if (Result.isFailure(location)) {
    out.note(terminalLine(location.failure))
    return undefined
  }
  return location.success
}

// --- check

interface Gap {
  readonly afterSeq: number
  readonly seq: number
  readonly offset: number
}

export const check = (target: string, out: Output): number => {
  const location = located(target, out)
  if (location === undefined) return EXIT_USAGE
  const writer = liveWriter(location)
  return withLogReader(location.file, (reader) => {
    const gaps: Array<Gap> = []
    let gapCount = 0
    let previousSeq = 0
    let firstSeq: number | undefined
    // Each turn pulls one record: bounded by the file.
    for (let scanned = reader.next(); scanned !== undefined; scanned = reader.next()) {
      const seq = scanned.record.seq
      firstSeq ??= seq
      if (seq !== previousSeq + 1) {
        gapCount += 1
        if (gaps.length < MAX_LISTED) gaps.push({ afterSeq: previousSeq, seq, offset: scanned.offset })
      }
      previousSeq = seq
    }
    const summary = reader.finish()
    // An unfinished last line while the chat runs is most likely a write in progress, not damage.
    const writeInProgress = writer !== undefined && summary.tail !== undefined && summary.tail.reason === "incomplete"
    const corrupt = summary.corrupt.length > 0 || gapCount > 0 || (summary.tail !== undefined && !writeInProgress)
    const region = (r: CorruptRegion): string =>
      `offset ${r.offset} (${formatNumber(r.length)} bytes): ${r.reason} — ${reader.describeBadLine(r)}`

    out.line(terminalLine(`log        ${location.file}`))
    out.line(`bytes      ${formatNumber(reader.size)}`)
    out.line(`writer     ${writer === undefined ? "none (the chat is not running on this profile)" : `process ${writer} holds the lock: read without it, up to the size at open`}`)
    out.line(`records    ${formatNumber(summary.recordCount)}${firstSeq === undefined ? "" : ` (seq ${firstSeq}..${summary.lastSeq})`}`)
    out.line(`seq gaps   ${gapCount === 0 ? "none" : gapCount}`)
    for (const gap of gaps) {
      out.line(`  seq ${gap.afterSeq + 1}..${gap.seq - 1} missing (the record after them is at offset ${gap.offset})`)
    }
    if (gapCount > gaps.length) out.line(`  … and ${gapCount - gaps.length} more`)
    out.line(`corrupt    ${summary.corrupt.length === 0 ? "none" : `${summary.corrupt.length} region${summary.corrupt.length === 1 ? "" : "s"} between good records (the chat keeps them in place and copies them to events.quarantine)`}`)
    for (const r of summary.corrupt.slice(0, MAX_LISTED)) out.line(terminalLine(`  ${region(r)}`))
    if (summary.corrupt.length > MAX_LISTED) out.line(`  … and ${summary.corrupt.length - MAX_LISTED} more`)
    const tail = summary.tail === undefined ? "none"
      : writeInProgress ? `${region(summary.tail)} (a write in progress, most likely)`
      : `${region(summary.tail)} (the chat cuts it off at the next start)`
    out.line(terminalLine(`torn tail  ${tail}`))
    out.line(`result     ${corrupt ? "CORRUPT" : "OK"}`)
    return corrupt ? EXIT_CORRUPT : EXIT_OK
  })
}

// --- reading records, with a word about damage

/** Pulls every good record into `use`, then warns (on the note channel) if the log is damaged. */
const eachRecord = (location: LogLocation, out: Output, use: (scanned: ScannedRecord) => boolean): void =>
  withLogReader(location.file, (reader) => {
    // Each turn pulls one record; `use` returning false stops early.
    for (let scanned = reader.next(); scanned !== undefined; scanned = reader.next()) {
      if (!use(scanned)) return
    }
    warnIfDamaged(reader, location, out)
  })

const warnIfDamaged = (reader: LogReader, location: LogLocation, out: Output): void => {
  const summary = reader.finish()
  const bad = summary.corrupt.length + (summary.tail === undefined ? 0 : 1)
  if (bad > 0) out.note(terminalLine(`warning: ${location.file} has ${bad} bad region${bad === 1 ? "" : "s"}; only good records are shown (run check)`))
}

// --- timeline

export const timeline = (target: string, fromSeq: number, limit: number | undefined, out: Output): number => {
  const location = located(target, out)
  if (location === undefined) return EXIT_USAGE
  let shown = 0
  eachRecord(location, out, ({ record }) => {
    if (record.seq < fromSeq) return true
    if (limit !== undefined && shown >= limit) return false
    out.line(timelineLine(record))
    shown += 1
    return true
  })
  return EXIT_OK
}

// --- state

/** Folds the log up to `atSeq` (all of it without), as the chat would at start. */
export const foldLog = (location: LogLocation, atSeq: number | undefined, out: Output): Result.Result<ChatState, string> => {
  let state = initialChatState()
  let failure: string | undefined
  eachRecord(location, out, ({ record }) => {
    if (atSeq !== undefined && record.seq > atSeq) return false
    try {
      state = evolve(state, record)
      return true
    } catch (error) {
      failure = `record ${record.seq} cannot be folded: ${error instanceof Error ? error.message : String(error)}`
      return false
    }
  })
  return failure === undefined ? Result.succeed(state) : Result.fail(failure)
}

export const state = (target: string, atSeq: number | undefined, out: Output): number => {
  const location = located(target, out)
  if (location === undefined) return EXIT_USAGE
  const folded = foldLog(location, atSeq, out)
  if (Result.isFailure(folded)) {
    out.note(terminalLine(folded.failure))
    return EXIT_CORRUPT
  }
  if (atSeq !== undefined && folded.success.lastSeq < atSeq) out.note(`note: the log ends at seq ${folded.success.lastSeq}, before ${atSeq}`)
  lines(out, inertJson(withoutSecrets(stateToJson(folded.success))))
  return EXIT_OK
}

/** Group keys are secrets: the state shows which versions are held, never the keys. */
const withoutSecrets = (json: ReturnType<typeof stateToJson>) => ({
  ...json,
  trust: {
    ...json.trust,
    groupKeys: Object.fromEntries(Object.entries(json.trust.groupKeys).map(([group, keys]) => [group, keys.map((k) => ({ ...k, key: "(secret)" }))])),
  },
})

// --- merge

interface MergeInput {
  readonly location: LogLocation
  readonly reader: LogReader
  /** The profile's user (from its first record), or the path when the log does not say. */
  readonly who: string
  head: ScannedRecord | undefined
  /** Records whose clock is below the previous one of the same log: the merge cannot order them. */
  outOfOrder: number
}

const ownerOf = (first: ScannedRecord | undefined, location: LogLocation): string =>
  first?.record.event._tag === "profile.created" ? first.record.event.user : location.dir

const compareWho = (a: string, b: string): number =>
  USER_ID_PATTERN.test(a) && USER_ID_PATTERN.test(b) ? compareUserIds(a as UserId, b as UserId) : a < b ? -1 : a > b ? 1 : 0

/** Causal order: Lamport clock, then user id (the usual total order), then the log's own order. */
export const compareMerged = (a: { who: string; record: LogRecord }, b: { who: string; record: LogRecord }): number =>
  a.record.clock - b.record.clock || compareWho(a.who, b.who) || a.record.seq - b.record.seq

export const merge = (targets: ReadonlyArray<string>, limit: number | undefined, out: Output): number => {
  const locations: Array<LogLocation> = []
  for (const target of targets) {
    const location = located(target, out)
    if (location === undefined) return EXIT_USAGE
    locations.push(location)
  }
  const inputs: Array<MergeInput> = []
  try {
    for (const location of locations) {
      const reader = new LogReader(location.file)
      const head = reader.next()
      inputs.push({ location, reader, who: ownerOf(head, location), head, outOfOrder: 0 })
    }
    let shown = 0
    // k-way merge: each log is in clock order, so the smallest head is next. Each turn consumes a record.
    for (;;) {
      let next: MergeInput | undefined
      for (const input of inputs) {
        if (input.head === undefined) continue
        if (next === undefined || compareMerged({ who: input.who, record: input.head.record }, { who: next.who, record: next.head!.record }) < 0) next = input
      }
      if (next === undefined || (limit !== undefined && shown >= limit)) break
      const record = next.head!.record
      out.line(mergedLine(next.who, record))
      shown += 1
      next.head = next.reader.next()
      if (next.head !== undefined && next.head.record.clock < record.clock) next.outOfOrder += 1
    }
    for (const input of inputs) {
      if (input.outOfOrder > 0) out.note(terminalLine(`warning: ${input.location.file} has ${input.outOfOrder} records with a smaller clock than the one before; they are out of causal order`))
      if (limit === undefined) warnIfDamaged(input.reader, input.location, out)
    }
    return EXIT_OK
  } finally {
    for (const input of inputs) input.reader.close()
  }
}

// --- stats

interface TopicCounts {
  sent: number
  received: number
  held: number
}

export const stats = (target: string, out: Output): number => {
  const location = located(target, out)
  if (location === undefined) return EXIT_USAGE
  const byTag = new Map<string, number>()
  const byTopic = new Map<string, TopicCounts>()
  let records = 0
  let firstAt: number | undefined
  let lastAt = 0
  let owner: string | undefined
  eachRecord(location, out, ({ record }) => {
    records += 1
    firstAt ??= record.at
    lastAt = record.at
    const event = record.event
    if (event._tag === "profile.created") owner ??= event.user
    byTag.set(event._tag, (byTag.get(event._tag) ?? 0) + 1)
    if (event._tag === "message.sent" || event._tag === "message.received" || event._tag === "message.held") {
      const counts = byTopic.get(event.topic) ?? { sent: 0, received: 0, held: 0 }
      if (event._tag === "message.sent") counts.sent += 1
      else if (event._tag === "message.received") counts.received += 1
      else counts.held += 1
      byTopic.set(event.topic, counts)
    }
    return true
  })
  const share = (count: number): string => `${formatNumber((100 * count) / Math.max(1, records), 1)}%`
  out.line(terminalLine(`log ${location.file}${owner === undefined ? "" : ` (${owner})`}: ${formatNumber(records)} records` +
    (firstAt === undefined ? "" : `, ${describeSpan(firstAt, lastAt)}`)))
  out.line("")
  const tags = [...byTag].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
  lines(out, renderTable(tags.map(([tag, count]) => [tag, count, share(count)]), { headers: ["event", "records", "share"] }))
  out.line("")
  const topics = [...byTopic].sort(([a, x], [b, y]) => y.sent + y.received - (x.sent + x.received) || (a < b ? -1 : 1))
  lines(out, topics.length === 0 ? "no messages" : renderTable(
    topics.map(([topic, c]) => [terminalLine(topic), c.sent, c.received, c.held, c.sent + c.received]),
    { headers: ["conversation", "sent", "received", "held", "messages"] },
  ))
  return EXIT_OK
}

/** Writes a multi-line block line by line: an Output line never holds a newline. */
const lines = (out: Output, block: string): void => {
  for (const line of block.split("\n")) out.line(line)
}

const describeSpan = (firstAt: number, lastAt: number): string =>
  `from ${isoTime(firstAt)} over ${formatNumber((lastAt - firstAt) / 3_600_000, 1)} h`
