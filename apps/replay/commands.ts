/**
 * The replay tool's commands. Each reads its log(s) read-only through LogReader, writes lines to
 * an Output, and returns the exit code; main.ts binds Output to the terminal, tests to arrays.
 * This file holds what they share and the one-log listings (check, timeline, stats); state, merge,
 * diagram, audit and view have their own files.
 */
import { Result } from "effect"
import type { LogRecord } from "../../domain/events.ts"
import type { CorruptRegion, ScannedRecord } from "../../adapters/storage/log-scan.ts"
import { formatNumber, renderTable } from "../sim/text-table.ts"
import { isoTime, jsonLine, terminalLine, timelineLine, withoutSecret } from "./describe.ts"
import { describeFilter, isUnfiltered, matches, pastUntil, type RecordFilter } from "./filter.ts"
import { liveWriter, locateLog, LogReader, withLogReader, type LogLocation } from "./log-reader.ts"

export interface Output {
  /** One line of the result (stdout). */
  line(text: string): void
  /** A warning or error about the input (stderr). */
  note(text: string): void
  /** How far a long read is: `done` of `total` bytes of `what`. The terminal shows it after a second. */
  progress?(what: string, done: number, total: number): void
}

export const EXIT_OK = 0
export const EXIT_CORRUPT = 1
export const EXIT_USAGE = 2

/** Gaps and bad regions listed one by one; past this they are only counted. */
const MAX_LISTED = 20

export const located = (target: string, out: Output): LogLocation | undefined => {
  const location = locateLog(target)
  if (Result.isFailure(location)) {
    out.note(terminalLine(location.failure))
    return undefined
  }
  return location.success
}

/** All targets located, or undefined after saying which one is not a log. */
export const locatedAll = (targets: ReadonlyArray<string>, out: Output): ReadonlyArray<LogLocation> | undefined => {
  const locations: Array<LogLocation> = []
  for (const target of targets) {
    const location = located(target, out)
    if (location === undefined) return undefined
    locations.push(location)
  }
  return locations
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
      if (seq % PROGRESS_EVERY === 0) out.progress?.(location.file, reader.position, reader.size)
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

/** Progress is reported every this many records (a cheap test per record). */
export const PROGRESS_EVERY = 4096

/** The owner of a log: its first record, if that is the profile's. */
export const ownerOf = (first: ScannedRecord | undefined): string | undefined =>
  first?.record.event._tag === "profile.created" ? first.record.event.user : undefined

/**
 * Pulls every good record into `use` (with the log's owner, once known), then warns (on the note
 * channel) if the log is damaged. `use` returning false stops early, and the warning is skipped.
 */
export const eachRecord = (location: LogLocation, out: Output, use: (scanned: ScannedRecord, owner: string | undefined) => boolean): void =>
  withLogReader(location.file, (reader) => {
    let owner: string | undefined
    let count = 0
    // Each turn pulls one record; `use` returning false stops early.
    for (let scanned = reader.next(); scanned !== undefined; scanned = reader.next()) {
      if (count++ === 0) owner = ownerOf(scanned)
      if (!use(scanned, owner)) return
      if (count % PROGRESS_EVERY === 0) out.progress?.(location.file, reader.position, reader.size)
    }
    warnIfDamaged(reader, location, out)
  })

export const warnIfDamaged = (reader: LogReader, location: LogLocation, out: Output): void => {
  const summary = reader.finish()
  const bad = summary.corrupt.length + (summary.tail === undefined ? 0 : 1)
  if (bad > 0) out.note(terminalLine(`warning: ${location.file} has ${bad} bad region${bad === 1 ? "" : "s"}; only good records are shown (run check)`))
}

// --- timeline

export interface TimelineOptions {
  readonly fromSeq: number
  readonly limit: number | undefined
  readonly filter: RecordFilter
  readonly json: boolean
}

export const timeline = (target: string, options: TimelineOptions, out: Output): number => {
  const location = located(target, out)
  if (location === undefined) return EXIT_USAGE
  let shown = 0
  eachRecord(location, out, ({ record }, owner) => {
    if (record.seq < options.fromSeq) return true
    if (options.limit !== undefined && shown >= options.limit) return false
    if (pastUntil(options.filter, record.seq)) return false
    if (!matches(options.filter, record, owner)) return true
    out.line(options.json ? jsonLine(withoutSecret(record)) : timelineLine(record))
    shown += 1
    return true
  })
  if (shown === 0 && !isUnfiltered(options.filter)) out.note(terminalLine(`no record matches ${describeFilter(options.filter)}`))
  return EXIT_OK
}

// --- stats

interface TopicCounts {
  sent: number
  received: number
  held: number
}

export const stats = (target: string, filter: RecordFilter, json: boolean, out: Output): number => {
  const location = located(target, out)
  if (location === undefined) return EXIT_USAGE
  const byTag = new Map<string, number>()
  const byTopic = new Map<string, TopicCounts>()
  let records = 0
  let firstAt: number | undefined
  let lastAt = 0
  let logOwner: string | undefined
  eachRecord(location, out, ({ record }, owner) => {
    logOwner = owner
    if (pastUntil(filter, record.seq)) return false
    if (!matches(filter, record, owner)) return true
    countRecord(record, byTag, byTopic)
    records += 1
    firstAt ??= record.at
    lastAt = record.at
    return true
  })
  const tags = [...byTag].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
  const topics = [...byTopic].sort(([a, x], [b, y]) => y.sent + y.received - (x.sent + x.received) || (a < b ? -1 : 1))
  if (json) {
    out.line(jsonLine({ log: location.file, owner: logOwner ?? null, filter: describeFilter(filter), records, firstAt: firstAt ?? null, lastAt: firstAt === undefined ? null : lastAt, events: Object.fromEntries(tags), conversations: Object.fromEntries(topics) }))
    return EXIT_OK
  }
  const share = (count: number): string => `${formatNumber((100 * count) / Math.max(1, records), 1)}%`
  const narrowed = isUnfiltered(filter) ? "" : ` matching ${describeFilter(filter)}`
  out.line(terminalLine(`log ${location.file}${logOwner === undefined ? "" : ` (${logOwner})`}: ${formatNumber(records)} records${narrowed}` +
    (firstAt === undefined ? "" : `, ${describeSpan(firstAt, lastAt)}`)))
  out.line("")
  lines(out, renderTable(tags.map(([tag, count]) => [tag, count, share(count)]), { headers: ["event", "records", "share"] }))
  out.line("")
  lines(out, topics.length === 0 ? "no messages" : renderTable(
    topics.map(([topic, c]) => [terminalLine(topic), c.sent, c.received, c.held, c.sent + c.received]),
    { headers: ["conversation", "sent", "received", "held", "messages"] },
  ))
  return EXIT_OK
}

const countRecord = (record: LogRecord, byTag: Map<string, number>, byTopic: Map<string, TopicCounts>): void => {
  const event = record.event
  byTag.set(event._tag, (byTag.get(event._tag) ?? 0) + 1)
  if (event._tag === "message.sent" || event._tag === "message.received" || event._tag === "message.held") {
    const counts = byTopic.get(event.topic) ?? { sent: 0, received: 0, held: 0 }
    if (event._tag === "message.sent") counts.sent += 1
    else if (event._tag === "message.received") counts.received += 1
    else counts.held += 1
    byTopic.set(event.topic, counts)
  }
}

/** Writes a multi-line block line by line: an Output line never holds a newline. */
export const lines = (out: Output, block: string | ReadonlyArray<string>): void => {
  for (const line of typeof block === "string" ? block.split("\n") : block) out.line(line)
}

const describeSpan = (firstAt: number, lastAt: number): string =>
  `from ${isoTime(firstAt)} over ${formatNumber((lastAt - firstAt) / 3_600_000, 1)} h`
