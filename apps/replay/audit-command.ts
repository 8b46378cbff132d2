/**
 * `replay audit LOG...`: the delivery audit (apps/shared/delivery-audit.ts — the simulator's
 * delivery invariant is the same code) over several users' logs, read one after the other.
 * Exit 1 when a delivery that was due is missing.
 */
import type { LogRecord } from "../../domain/events.ts"
import { parseTopic } from "../../domain/ids.ts"
import { auditLogs, type AuditReport, type LogNote, type MessageFilter, type SentMessage } from "../shared/delivery-audit.ts"
import { formatNumber } from "../sim/text-table.ts"
import { EXIT_CORRUPT, EXIT_OK, EXIT_USAGE, locatedAll, PROGRESS_EVERY, warnIfDamaged, type Output } from "./commands.ts"
import { isoTime, jsonLine, preview, terminalLine } from "./describe.ts"
import { describeFilter, isUnfiltered, type Bound, type RecordFilter } from "./filter.ts"
import { LogReader, type LogLocation } from "./log-reader.ts"

/** Examples of deliveries that were not due, listed. */
const MAX_LISTED_NOT_DUE = 10

/** The records of one log, read lazily (one chunk in memory), with damage noted at the end. */
function* recordsOf(location: LogLocation, out: Output, index: number, count: number): Generator<LogRecord> {
  const reader = new LogReader(location.file)
  try {
    let read = 0
    // Each turn yields one record: bounded by the file.
    for (let scanned = reader.next(); scanned !== undefined; scanned = reader.next()) {
      yield scanned.record
      if (++read % PROGRESS_EVERY === 0) out.progress?.(`log ${index + 1} of ${count}`, reader.position, reader.size)
    }
    warnIfDamaged(reader, location, out)
  } finally {
    reader.close()
  }
}

const inBound = (bound: Bound, message: SentMessage, side: "since" | "until"): boolean => {
  const value = bound.kind === "number" ? message.clock : message.at
  const limit = bound.kind === "number" ? bound.value : bound.ms
  return side === "since" ? value >= limit : value <= limit
}

/** Which sent messages the filters keep: by topic, sender or receiver, group, and clock or time. */
export const messageFilter = (filter: RecordFilter): MessageFilter => (message) => {
  if (filter.topics.length > 0 && !filter.topics.includes(message.topic)) return false
  if (filter.peers.length > 0 && !filter.peers.includes(message.from) && !message.receivers.some((r) => filter.peers.includes(r))) return false
  if (filter.groups.length > 0) {
    const kind = parseTopic(message.topic)
    if (kind.kind !== "groupTalk" || !filter.groups.includes(kind.group)) return false
  }
  if (filter.since !== undefined && !inBound(filter.since, message, "since")) return false
  if (filter.until !== undefined && !inBound(filter.until, message, "until")) return false
  return true
}

const messageWords = (m: SentMessage): string => `${m.from} #${m.n} on ${m.topic} ${preview(m.text, 40)}`

const noteLine = (note: LogNote): string => `seq ${String(note.seq).padEnd(6)} ${isoTime(note.at)}  ${note.event}${note.detail === "" ? "" : `  ${note.detail}`}`

const delay = (sentAt: number, at: number): string => {
  const seconds = (at - sentAt) / 1000
  return Math.abs(seconds) < 0.05 ? "" : ` (${seconds > 0 ? "+" : ""}${formatNumber(seconds, 1)} s)`
}

const keyOf = (message: SentMessage): string => `${message.from}/${message.id}`

/** Items per message, for listing them with it. */
const byMessage = <A extends { readonly message: SentMessage }>(items: ReadonlyArray<A>): ReadonlyMap<string, ReadonlyArray<A>> => {
  const map = new Map<string, Array<A>>()
  for (const item of items) {
    const key = keyOf(item.message)
    const list = map.get(key)
    if (list === undefined) map.set(key, [item])
    else list.push(item)
  }
  return map
}

const printText = (report: AuditReport, all: ReadonlyArray<SentMessage>, limit: number, out: Output): void => {
  out.line(terminalLine(`audit of ${report.users.length} logs: ${report.users.join(", ")}`))
  out.line(`messages sent ${formatNumber(report.sent)} · deliveries due ${formatNumber(report.audited - report.notExpected.length)} · received ${formatNumber(report.received)} · MISSING ${formatNumber(report.missing.length)} · not due ${formatNumber(report.notExpected.length)} · to users without a log here ${formatNumber(report.notAudited)}`)
  out.line("")
  out.line(report.missing.length === 0 ? "Missing deliveries: none" : `Missing deliveries (${report.missing.length}):`)
  for (const missing of report.missing.slice(0, limit)) {
    out.line(terminalLine(`  ${messageWords(missing.message)} → ${missing.to}: sent at seq ${missing.message.seq}, ${isoTime(missing.message.at)} (clock ${missing.message.clock})`))
    out.line(terminalLine(`    why       ${missing.reason}`))
    missing.sender.forEach((note, i) => out.line(terminalLine(`    ${i === 0 ? `${missing.message.from} says` : ""}`.padEnd(24) + noteLine(note))))
    missing.receiver.forEach((note, i) => out.line(terminalLine(`    ${i === 0 ? `${missing.to} says` : ""}`.padEnd(24) + noteLine(note))))
    if (missing.receiver.length === 0) out.line(terminalLine(`    ${missing.to} says`.padEnd(24) + "nothing about it"))
  }
  if (report.missing.length > limit) out.line(`  … and ${report.missing.length - limit} more (--limit N, or --json for all)`)
  out.line("")
  out.line(`Messages (${all.length}): who received each, and when`)
  const missingOf = byMessage(report.missing)
  for (const message of all.slice(0, limit)) {
    const got = report.deliveries.get(keyOf(message)) ?? []
    const missingTo = (missingOf.get(keyOf(message)) ?? []).map((m) => m.to)
    const received = got.map((d) => `${d.to} ${isoTime(d.at).slice(11, 23)}${delay(message.at, d.at)}`)
    const words = [...received, ...missingTo.map((to) => `${to} MISSING`)]
    out.line(terminalLine(`  ${isoTime(message.at).slice(11, 23)} ${messageWords(message)} → ${words.length === 0 ? "nobody due" : words.join(", ")}`))
  }
  if (all.length > limit) out.line(`  … and ${all.length - limit} more (--limit N, or --json for all)`)
  if (report.notExpected.length > 0) {
    out.line("")
    out.line(`Not due (${report.notExpected.length}): the receiver was not taking these messages then — not in the conversation or group, or joined later`)
    for (const item of report.notExpected.slice(0, MAX_LISTED_NOT_DUE)) out.line(terminalLine(`  ${messageWords(item.message)} → ${item.to}: ${item.reason}`))
    if (report.notExpected.length > MAX_LISTED_NOT_DUE) out.line(`  … and ${report.notExpected.length - MAX_LISTED_NOT_DUE} more (--json lists all)`)
  }
}

const printJson = (report: AuditReport, all: ReadonlyArray<SentMessage>, out: Output): void => {
  out.line(jsonLine({ summary: { users: report.users, sent: report.sent, due: report.audited - report.notExpected.length, received: report.received, missing: report.missing.length, notDue: report.notExpected.length, notAudited: report.notAudited } }))
  const missingOf = byMessage(report.missing)
  const notDueOf = byMessage(report.notExpected)
  for (const message of all) {
    const key = keyOf(message)
    out.line(jsonLine({
      message,
      received: report.deliveries.get(key) ?? [],
      missing: (missingOf.get(key) ?? []).map(({ to, reason, sender, receiver }) => ({ to, reason, sender, receiver })),
      notDue: (notDueOf.get(key) ?? []).map(({ to, reason }) => ({ to, reason })),
    }))
  }
}

export interface AuditOptions {
  readonly filter: RecordFilter
  readonly json: boolean
  readonly limit: number
}

export const audit = (targets: ReadonlyArray<string>, options: AuditOptions, out: Output): number => {
  const locations = locatedAll(targets, out)
  if (locations === undefined) return EXIT_USAGE
  const keep = messageFilter(options.filter)
  const all: Array<SentMessage> = []
  const report = auditLogs(locations.map((location, index) => recordsOf(location, out, index, locations.length)), (message) => {
    const kept = keep(message)
    if (kept) all.push(message)
    return kept
  })
  all.sort((a, b) => a.clock - b.clock || a.at - b.at)
  if (!isUnfiltered(options.filter)) out.note(terminalLine(`audit of the messages matching ${describeFilter(options.filter, "clock")}`))
  if (options.json) printJson(report, all, out)
  else printText(report, all, options.limit, out)
  return report.missing.length > 0 ? EXIT_CORRUPT : EXIT_OK
}
