/**
 * A buffer as lines of blessed-tagged text: messages and notes in log order, day separators,
 * timestamps, the "earlier" divider after what was restored from the log, and a first line that
 * says whether older messages can be paged in. Every piece of untrusted text goes through `inert`.
 */
import type { ChatBuffer, Note, NoteLevel } from "./chat-buffer.ts"
import type { ChatMessage } from "./chat-port.ts"
import { inert, inertLine } from "./sanitize.ts"

const NICK_COLOURS = ["cyan", "green", "yellow", "magenta", "blue"] as const

/** A colour per user that stays the same across runs and machines. */
export const nickColour = (user: string): string => {
  let hash = 0
  for (let i = 0; i < user.length; i++) hash = (hash * 31 + user.charCodeAt(i)) >>> 0
  return NICK_COLOURS[hash % NICK_COLOURS.length] ?? "cyan"
}

const pad2 = (n: number): string => String(n).padStart(2, "0")

/**
 * A stored time as a Date, or null when no Date can hold it. The wire refuses such times now
 * (domain/wire/limits.ts), but a log written before may hold one: every time shown goes through here.
 */
const dateOf = (ms: number): Date | null => {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? null : date
}

/** Local "HH:MM". */
export const timeOfDay = (ms: number): string => {
  const date = dateOf(ms)
  return date === null ? "--:--" : `${pad2(date.getHours())}:${pad2(date.getMinutes())}`
}

/** Local calendar day, for grouping. */
export const dayKey = (ms: number): string => {
  const date = dateOf(ms)
  return date === null ? "unknown" : `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}`
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" })

export const dayLabel = (ms: number): string => {
  const date = dateOf(ms)
  return date === null ? "unknown date" : dayFormat.format(date)
}

const shortDayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" })

/** A moment in lists (requests, acceptances, search results): the day as the dividers say it, short, and the timeline's "HH:MM". */
export const momentLabel = (ms: number): string => {
  const date = dateOf(ms)
  return date === null ? "unknown date --:--" : `${shortDayFormat.format(date)} ${timeOfDay(ms)}`
}

export const EARLIER_DIVIDER = "── ↑ earlier: restored from the log ──"

const NOTE_COLOURS: Record<NoteLevel, string> = { info: "cyan", event: "yellow", error: "red" }

type Item = { readonly kind: "message"; readonly message: ChatMessage } | { readonly kind: "note"; readonly note: Note }

const itemTime = (item: Item): number => (item.kind === "message" ? item.message.at : item.note.at)

/** Messages by sequence number; each note after the messages that existed when it was written. */
export const mergeItems = (messages: ReadonlyArray<ChatMessage>, notes: ReadonlyArray<Note>): ReadonlyArray<Item> => {
  const items: Item[] = []
  let n = 0
  for (const message of messages) {
    while (n < notes.length && (notes[n]?.anchorSeq ?? 0) < message.seq) items.push({ kind: "note", note: notes[n++]! })
    items.push({ kind: "message", message })
  }
  while (n < notes.length) items.push({ kind: "note", note: notes[n++]! })
  return items
}

const coloured = (text: string, colour: string): string => `{${colour}-fg}${text}{/${colour}-fg}`

export const pagingLine = (buffer: ChatBuffer): string | null => {
  if (buffer.target === null) return null
  if (!buffer.loaded) return coloured("── loading… ──", "grey")
  if (buffer.loading) return coloured("── loading older messages… ──", "grey")
  if (buffer.hasOlder && buffer.roomForOlder === 0) return coloured("── older messages stay in the log (display limit reached) ──", "grey")
  if (buffer.hasOlder) return coloured("── PgUp or mouse wheel: older messages ──", "grey")
  if (buffer.messages.length > 0) return coloured("── start of the conversation ──", "grey")
  return coloured("── no messages yet ──", "grey")
}

/** Whether the broker has my message: ○ not yet (typed offline, or on its way), ✓ acknowledged (QoS 1 PUBACK). */
export const PENDING_MARK = "○"
export const SENT_MARK = "✓"

/** Is my message with this id still waiting for the broker's acknowledgement? */
export type PendingCheck = (id: string) => boolean

export const messageLines = (message: ChatMessage, me: string, pending: PendingCheck = () => false): ReadonlyArray<string> => {
  const nick = inertLine(message.mine ? me : message.from, 40)
  const colour = message.mine ? "white" : nickColour(message.from)
  const stamp = timeOfDay(message.at)
  const lines = inert(message.text).split("\n")
  // My messages end with their delivery mark, after the last line.
  if (message.mine) lines[lines.length - 1] += ` {grey-fg}${pending(message.id) ? PENDING_MARK : SENT_MARK}{/grey-fg}`
  const [first = "", ...rest] = lines
  // Continuation lines start under the text, past "HH:MM <nick> ".
  const indent = " ".repeat(stamp.length + 1 + nick.length + 3)
  return [`{grey-fg}${stamp}{/grey-fg} {${colour}-fg}{bold}<${nick}>{/bold}{/${colour}-fg} ${first}`, ...rest.map((line) => indent + line)]
}

export const noteLine = (note: Note): string => {
  const colour = NOTE_COLOURS[note.level]
  return `{grey-fg}${timeOfDay(note.at)}{/grey-fg} {${colour}-fg}-!- ${inertLine(note.text)}{/${colour}-fg}`
}

export interface TimelineOptions {
  readonly pending?: PendingCheck
  /** A message to show highlighted (a /search hit jumped to). */
  readonly highlightSeq?: number | null
}

/** A buffer's lines, and the line each message starts at (for jumping to one). */
export interface Timeline {
  readonly lines: ReadonlyArray<string>
  readonly lineOfSeq: ReadonlyMap<number, number>
}

const highlighted = (line: string): string => `{inverse}${line}{/inverse}`

/** All lines of a buffer, oldest first. */
export const renderTimeline = (buffer: ChatBuffer, me: string, pending: PendingCheck = () => false): ReadonlyArray<string> =>
  buildTimeline(buffer, me, { pending }).lines

export const buildTimeline = (buffer: ChatBuffer, me: string, options: TimelineOptions = {}): Timeline => {
  const pending = options.pending ?? (() => false)
  const lineOfSeq = new Map<number, number>()
  const lines: string[] = []
  const paging = pagingLine(buffer)
  if (paging !== null) lines.push(paging)
  const items = mergeItems(buffer.messages, buffer.notes)
  const restored = buffer.messages.some((m) => m.seq <= buffer.restoredUpToSeq)
  let dividerDone = !restored
  let previousDay = ""
  for (const item of items) {
    const isRestored = item.kind === "message" && item.message.seq <= buffer.restoredUpToSeq
    if (!dividerDone && !isRestored) {
      lines.push(coloured(EARLIER_DIVIDER, "grey"))
      dividerDone = true
    }
    const day = dayKey(itemTime(item))
    if (day !== previousDay) {
      lines.push(coloured(`── ${dayLabel(itemTime(item))} ──`, "grey"))
      previousDay = day
    }
    if (item.kind === "message") {
      lineOfSeq.set(item.message.seq, lines.length)
      const own = messageLines(item.message, me, pending)
      lines.push(...(item.message.seq === options.highlightSeq ? own.map(highlighted) : own))
    } else lines.push(noteLine(item.note))
  }
  if (!dividerDone) lines.push(coloured(EARLIER_DIVIDER, "grey"))
  return { lines, lineOfSeq }
}
