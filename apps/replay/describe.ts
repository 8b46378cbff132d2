/**
 * One record as one terminal line. Everything that came from the log is untrusted: chat text,
 * reasons and topics could carry escape sequences (set the title, write the clipboard, move the
 * cursor) or bidi overrides that reorder the line; the finished line goes through the project's
 * sanitiser, so it can only print.
 */
import { sanitizeText } from "../../adapters/tui/sanitize.ts"
import type { DomainEvent, LogRecord } from "../../domain/events.ts"
import type { GroupInfo } from "../../domain/wire/messages.ts"

/** Chat text is cut to this many characters in a line. */
export const TEXT_PREVIEW_CHARS = 80
/** Message numbers listed in a resend line; the rest are counted. */
const MAX_LISTED_NUMBERS = 10
/** The largest time a Date can hold (ms): beyond it the record's `at` is printed as a number. */
const MAX_DATE_MS = 8.64e15

/** One line, safe for a terminal: no escape sequence, control character or bidi override survives. */
export const terminalLine = (text: string): string => sanitizeText(text, { keepNewlines: false })

/** Untrusted text as a quoted, inert, shortened preview. */
export const preview = (text: string, maxChars = TEXT_PREVIEW_CHARS): string =>
  `"${sanitizeText(text, { keepNewlines: false, maxLength: maxChars })}"`

export const isoTime = (ms: number): string => (ms <= MAX_DATE_MS ? new Date(ms).toISOString() : `@${ms}`)

const describeInfo = (info: GroupInfo): string =>
  info.dissolved
    ? `${info.name} v${info.version} dissolved`
    : `${info.name} v${info.version}, leader ${info.leader}, ${info.members.length} member${info.members.length === 1 ? "" : "s"}`

/** A short summary of the event: who, what, and a preview of any text. */
export const describeEvent = (event: DomainEvent): string => {
  switch (event._tag) {
    case "profile.created":
      return `I am ${event.user}`
    case "session.started":
    case "session.ended":
      return `session ${event.session}`
    case "presence.observed":
      return `${event.user} ${event.status} (session ${event.session}, connection ${event.connection})`
    case "conversation.request.sent":
    case "conversation.accept.sent":
    case "conversation.leave.sent":
      return `to ${event.peer}`
    case "conversation.refuse.sent":
      return `to ${event.peer} ${preview(event.reason)}`
    case "conversation.timed-out":
      return `with ${event.peer}`
    case "conversation.stance.received": {
      const refuses = event.refuses === null ? "" : `, ends attempt ${event.refuses}`
      const reason = event.reason === "" ? "" : ` ${preview(event.reason)}`
      return `${event.kind} from ${event.peer}, attempt ${event.attempt}${refuses}${reason}`
    }
    case "group.created":
    case "group.join.sent":
    case "group.leave.sent":
      return event.group
    case "group.info.received":
      return `${describeInfo(event.info)}, from ${event.from}`
    case "group.join.received":
      return `${event.group} from ${event.from}, attempt ${event.attempt}`
    case "group.accept.sent":
      return `${event.group} admits ${event.member}`
    case "group.accept.received":
      return `${describeInfo(event.info)}, from ${event.from}`
    case "group.refuse.sent":
      return `${event.group} refuses ${event.member} ${preview(event.reason)}`
    case "group.refuse.received":
      return `${event.group} from ${event.from}, attempt ${event.attempt} ${preview(event.reason)}`
    case "group.leave.received":
      return `${event.group} from ${event.from}`
    case "message.sent":
      return `on ${event.topic} #${event.n} ${preview(event.text)}`
    case "message.received":
    case "message.held":
      return `from ${event.from} on ${event.topic} #${event.n} ${preview(event.text)}`
    case "message.resend.asked": {
      const shown = event.missing.slice(0, MAX_LISTED_NUMBERS).map((n) => `#${n}`).join(" ")
      const more = event.missing.length > MAX_LISTED_NUMBERS ? ` (+${event.missing.length - MAX_LISTED_NUMBERS} more)` : ""
      return `asked ${event.from} to resend on ${event.topic}: ${shown}${more}`
    }
    case "outbox.acked":
      return `${event.ids.length} send${event.ids.length === 1 ? "" : "s"} acknowledged`
    case "peer.key.pinned":
    case "peer.key.changed":
    case "peer.key.trusted":
      return `${event.user} keys ${event.keys.slice(0, 12)}…`
    case "group.key.received":
      // The key itself is a secret: a debugging tool must not print it.
      return `${event.group} v${event.version} key from ${event.from} (not shown)`
    default:
      // An event this tool does not know yet (a newer log): its fields, so nothing is hidden.
      return describeFields(event)
  }
}

/** `key value` for each field but the tag, each value as short JSON. */
export const describeFields = (event: unknown): string =>
  Object.entries(event as Record<string, unknown>)
    .filter(([key]) => key !== "_tag")
    .map(([key, value]) => `${key} ${sanitizeText(JSON.stringify(value) ?? "undefined", { keepNewlines: false, maxLength: TEXT_PREVIEW_CHARS })}`)
    .join(", ")

const outCount = (record: LogRecord): string => (record.out.length === 0 ? "" : ` (+${record.out.length} out)`)

/** A timeline line: seq, time, clock, event tag, summary. */
export const timelineLine = (record: LogRecord): string =>
  terminalLine(`${String(record.seq).padStart(7)}  ${isoTime(record.at)}  clock ${String(record.clock).padEnd(6)} ${record.event._tag.padEnd(28)} ${describeEvent(record.event)}${outCount(record)}`)

/** A merged-timeline line: clock first (the order), then whose log and which record. */
export const mergedLine = (who: string, record: LogRecord): string =>
  terminalLine(`clock ${String(record.clock).padEnd(6)} ${who.padEnd(12)} #${String(record.seq).padEnd(6)} ${isoTime(record.at)}  ${record.event._tag.padEnd(28)} ${describeEvent(record.event)}${outCount(record)}`)

/**
 * JSON for the terminal: C1 controls, bidi controls and line separators are written as \u escapes
 * (JSON.stringify escapes C0 itself), so the output stays valid JSON and says the same thing.
 */
export const inertJson = (value: unknown, indent: number = 2): string =>
  JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** One JSON line (for --json output), inert like `inertJson`. */
export const jsonLine = (value: unknown): string => inertJson(value, 0)

/** A record as it may be shown: a group key is a secret, so its value is replaced. */
export const withoutSecret = (record: LogRecord): LogRecord =>
  record.event._tag === "group.key.received" ? { ...record, event: { ...record.event, key: "(secret)" } } : record
