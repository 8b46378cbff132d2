/**
 * Which records to show: `--topic`, `--peer`, `--group`, `--event`, `--since`, `--until`. Every
 * given option must match (AND); an option given a comma list matches any of its values (OR).
 *
 * A record is "about" a topic, peer or group when its event names it or touches its topic, or when
 * one of the messages it published went there: `--peer user-2` shows the request to user-2, the
 * answer, the messages on the pair's topic, user-2's presence and group business with user-2 — in
 * user-2's own log, only what involves user-2 as the other party (nothing: use the peer it talks to).
 * `--since`/`--until` take a sequence number (in `merge`: a Lamport clock, the merged order) or a
 * time (ISO 8601, UTC unless it says otherwise: `2026-11-25`, `2026-11-25T17:51`, `…Z`).
 */
import type { DomainEvent, LogRecord } from "../../domain/events.ts"
import { parseTopic, topics, type GroupName, type UserId } from "../../domain/ids.ts"

export type Bound = { readonly kind: "number"; readonly value: number } | { readonly kind: "time"; readonly ms: number }

export interface RecordFilter {
  readonly topics: ReadonlyArray<string>
  readonly peers: ReadonlyArray<string>
  readonly groups: ReadonlyArray<string>
  /** Exact tags, or prefixes ending in `.` (`message.` — also written `message.*`). */
  readonly events: ReadonlyArray<string>
  readonly since: Bound | undefined
  readonly until: Bound | undefined
}

export const NO_FILTER: RecordFilter = { topics: [], peers: [], groups: [], events: [], since: undefined, until: undefined }

export const isUnfiltered = (filter: RecordFilter): boolean =>
  filter.topics.length === 0 && filter.peers.length === 0 && filter.groups.length === 0 && filter.events.length === 0 && filter.since === undefined && filter.until === undefined

/** Values in a list option: at most this many (each costs a comparison per record). */
export const MAX_FILTER_VALUES = 64
const INTEGER = /^[0-9]{1,16}$/
/** A date, optionally with a time (minutes, seconds, fraction) and a zone: what Date.parse reads the same everywhere. */
const ISO_TIME = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,3})?)?(?:Z|[+-]\d\d:\d\d)?)?$/

/** `--since`/`--until`/`--at` values: a number, or an ISO time (without a zone: UTC). */
export const parseBound = (name: string, text: string): Bound | string => {
  if (INTEGER.test(text)) {
    const value = Number(text)
    return Number.isSafeInteger(value) ? { kind: "number", value } : `${name} is too large: ${text.slice(0, 20)}`
  }
  if (ISO_TIME.test(text)) {
    const zoned = /(?:Z|[+-]\d\d:\d\d)$/.test(text) || !text.includes(":") ? text : `${text}Z`
    const ms = Date.parse(zoned.replace(" ", "T"))
    if (Number.isFinite(ms)) return { kind: "time", ms }
  }
  return `${name} takes a sequence number or an ISO time (2026-11-25T17:51:00Z), not ${JSON.stringify(text.slice(0, 40))}`
}

/** The comma-separated values of a list option, checked: a bad one is a message. */
export const parseList = (name: string, text: string, valid: (value: string) => boolean, what: string): ReadonlyArray<string> | string => {
  const values = text.split(",").map((value) => value.trim()).filter((value) => value.length > 0)
  if (values.length === 0) return `${name} needs a value`
  if (values.length > MAX_FILTER_VALUES) return `${name} takes at most ${MAX_FILTER_VALUES} values`
  const bad = values.find((value) => !valid(value))
  return bad === undefined ? values : `${name}: ${JSON.stringify(bad.slice(0, 40))} is not ${what}`
}

/** `message.*` means every tag that starts with `message.`. */
export const normaliseEventPattern = (pattern: string): string => (pattern.endsWith(".*") ? pattern.slice(0, -1) : pattern)

const eventMatches = (tag: string, patterns: ReadonlyArray<string>): boolean =>
  patterns.some((pattern) => (pattern.endsWith(".") ? tag.startsWith(pattern) : tag === pattern))

/** The users an event names, besides the log's owner. */
export const usersOf = (event: DomainEvent): ReadonlyArray<string> => {
  const named: Array<string> = []
  const e = event as Partial<Record<"peer" | "from" | "user" | "member", string>> & { info?: { leader: string; members: ReadonlyArray<string> } }
  if (e.peer !== undefined) named.push(e.peer)
  if (e.from !== undefined) named.push(e.from)
  if (e.user !== undefined) named.push(e.user)
  if (e.member !== undefined) named.push(e.member)
  return named
}

/** The group an event is about, if any. */
export const groupOf = (event: DomainEvent): string | undefined => {
  const e = event as { group?: string; info?: { name: string } }
  return e.group ?? e.info?.name
}

/** The topics a record touches: its event's topic, the conversation's or group's topic, where its messages went. */
export const topicsOf = (record: LogRecord, me: string | undefined): ReadonlyArray<string> => {
  const found: Array<string> = []
  const event = record.event
  if ("topic" in event && typeof event.topic === "string") found.push(event.topic)
  if ("peer" in event && me !== undefined && me !== event.peer) found.push(topics.talk(me as UserId, event.peer))
  const group = groupOf(event)
  if (group !== undefined) found.push(topics.groupTalk(group as GroupName))
  for (const out of record.out) found.push(out.topic)
  return found
}

/**
 * Whether the record involves one of `peers` as the other party: the log's owner takes part in
 * everything of its log, so in the owner's own log `--peer OWNER` is not "everything".
 */
const aboutPeer = (record: LogRecord, me: string | undefined, peers: ReadonlyArray<string>): boolean => {
  const other = (user: string): boolean => user !== me && peers.includes(user)
  if (usersOf(record.event).some(other)) return true
  for (const topic of topicsOf(record, me)) {
    const kind = parseTopic(topic)
    if ((kind.kind === "talk" && kind.users.some(other)) || ((kind.kind === "control" || kind.kind === "presence") && other(kind.user))) return true
  }
  const info = (record.event as { info?: { members: ReadonlyArray<string> } }).info
  return info !== undefined && info.members.some(other)
}

const aboutGroup = (record: LogRecord, groups: ReadonlyArray<string>): boolean => {
  const group = groupOf(record.event)
  if (group !== undefined && groups.includes(group)) return true
  for (const out of record.out) {
    const kind = parseTopic(out.topic)
    if ((kind.kind === "groupTalk" || kind.kind === "groupInfo") && groups.includes(kind.group)) return true
    const body = out.envelope.body as { group?: string }
    if (body.group !== undefined && groups.includes(body.group)) return true
  }
  const topic = (record.event as { topic?: string }).topic
  if (topic === undefined) return false
  const kind = parseTopic(topic)
  return kind.kind === "groupTalk" && groups.includes(kind.group)
}

const within = (bound: Bound, record: LogRecord, position: number, side: "since" | "until"): boolean => {
  const value = bound.kind === "time" ? record.at : position
  const limit = bound.kind === "time" ? bound.ms : bound.value
  return side === "since" ? value >= limit : value <= limit
}

/**
 * Whether `record` (of the log whose owner is `me`) passes. `position` is what a number in
 * `--since`/`--until` means: the record's seq, or in a merge its clock.
 */
export const matches = (filter: RecordFilter, record: LogRecord, me: string | undefined, position: number = record.seq): boolean => {
  if (filter.since !== undefined && !within(filter.since, record, position, "since")) return false
  if (filter.until !== undefined && !within(filter.until, record, position, "until")) return false
  if (filter.events.length > 0 && !eventMatches(record.event._tag, filter.events)) return false
  if (filter.topics.length > 0 && !topicsOf(record, me).some((topic) => filter.topics.includes(topic))) return false
  if (filter.peers.length > 0 && !aboutPeer(record, me, filter.peers)) return false
  if (filter.groups.length > 0 && !aboutGroup(record, filter.groups)) return false
  return true
}

/** True once nothing later can match `--until` (records come in seq order, and roughly in time order). */
export const pastUntil = (filter: RecordFilter, position: number): boolean =>
  filter.until !== undefined && filter.until.kind === "number" && position > filter.until.value

/** The filter in words, for headers and notes: `topic 1_2_talk, since seq 40`. */
export const describeFilter = (filter: RecordFilter, numberMeans: "seq" | "clock" = "seq"): string => {
  const bound = (b: Bound) => (b.kind === "number" ? `${numberMeans} ${b.value}` : new Date(b.ms).toISOString())
  const parts: Array<string> = []
  if (filter.topics.length > 0) parts.push(`topic ${filter.topics.join(",")}`)
  if (filter.peers.length > 0) parts.push(`peer ${filter.peers.join(",")}`)
  if (filter.groups.length > 0) parts.push(`group ${filter.groups.join(",")}`)
  if (filter.events.length > 0) parts.push(`event ${filter.events.join(",")}`)
  if (filter.since !== undefined) parts.push(`since ${bound(filter.since)}`)
  if (filter.until !== undefined) parts.push(`until ${bound(filter.until)}`)
  return parts.join(", ")
}
