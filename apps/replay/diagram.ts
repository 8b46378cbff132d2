/**
 * `replay diagram LOG...`: one or several users' logs, merged in causal order, as a Mermaid
 * `sequenceDiagram`. Users (and groups, as `#name`) are the participants; what a record published —
 * requests, answers, group information, joins, messages, resend requests — is an arrow from its
 * author; a message that a given receiver's log never received is a cross (`-x`). Holds, time-outs
 * and sessions are notes. A record received from a user whose log is not given is drawn from the
 * receiver's side instead, so one log alone still gives a picture.
 *
 * Mermaid text, or with `--format svg` a picture drawn here (diagram-svg.ts, from the same model:
 * no Mermaid renderer or browser needed). Every label is made inert and written with Mermaid's entity
 * codes for the characters its syntax gives meaning to, so a message cannot end a line, start a
 * comment or inject markup (tests parse the output back).
 */
import { sanitizeText } from "../../adapters/tui/sanitize.ts"
import type { LogRecord, Outgoing } from "../../domain/events.ts"
import { parseTopic } from "../../domain/ids.ts"
import type { Body } from "../../domain/wire/messages.ts"
import { EXIT_OK, EXIT_USAGE, lines, locatedAll, ownerOf, type Output } from "./commands.ts"
import { withLogReader } from "./log-reader.ts"
import { terminalLine } from "./describe.ts"
import { describeFilter, isUnfiltered, matches, type RecordFilter } from "./filter.ts"
import { eachMerged } from "./merge.ts"
import { renderSvg } from "./diagram-svg.ts"

/** Characters of chat text quoted in a label. */
const LABEL_TEXT_CHARS = 40

/** Mermaid gives these meaning in a message: `;` ends a statement, `#…;` is an entity, `%%` a comment, `<br>` markup. */
const MERMAID_SPECIAL = /[#;%<>]/g
const ENTITIES: Readonly<Record<string, string>> = { "<": "#lt;", ">": "#gt;" }

/** Label text for Mermaid: inert for a terminal, on one line, with its special characters as entity codes. */
export const mermaidText = (text: string, maxChars = 200): string =>
  sanitizeText(text, { keepNewlines: false, maxLength: maxChars }).replace(MERMAID_SPECIAL, (c) => ENTITIES[c] ?? `#${c.charCodeAt(0)};`)

type Arrow = "solid" | "dashed" | "lost"
const ARROWS: Readonly<Record<Arrow, string>> = { solid: "->>", dashed: "-->>", lost: "-x" }

interface ArrowItem {
  readonly kind: "arrow"
  readonly from: string
  readonly to: string
  label: string
  style: Arrow
}
interface NoteItem {
  readonly kind: "note"
  readonly over: ReadonlyArray<string>
  readonly text: string
}
type Item = ArrowItem | NoteItem

/** A sent envelope waiting to learn whether the receivers whose logs are given got it. */
interface Pending {
  readonly item: ArrowItem
  /** Receivers (with a log here) that have not shown it yet. */
  readonly waiting: Set<string>
  readonly expected: number
  readonly group: boolean
}

/** A group as a participant of its own: what its members publish to its topics goes there. */
const GROUP_SUFFIX = " (group)"
const groupParticipant = (group: string): string => `${group}${GROUP_SUFFIX}`

const quoted = (text: string): string => `"${text.length > LABEL_TEXT_CHARS ? `${text.slice(0, LABEL_TEXT_CHARS - 1)}…` : text}"`

const members = (count: number): string => `${count} member${count === 1 ? "" : "s"}`

/** What an envelope says, in a few words. */
export const describeBody = (body: Body): string => {
  switch (body._tag) {
    case "chat.request":
      return `request (attempt ${body.attempt})`
    case "chat.accept":
      return `accept, topic ${body.topic}`
    case "chat.refuse":
      return `refuse${body.reason === "" ? "" : `: ${body.reason}`}`
    case "chat.leave":
      return "leave"
    case "chat.message":
    case "group.message":
      return `msg ${body.n} ${quoted(body.text)}`
    case "chat.resend":
      return `resend msg ${body.missing.slice(0, 8).join(", ")}${body.missing.length > 8 ? " …" : ""} on ${body.topic}`
    case "group.info":
      return `${body.info.name} v${body.info.version}${body.info.dissolved ? " dissolved" : `: leader ${body.info.leader}, ${members(body.info.members.length)}`}`
    case "group.join":
      return `join ${body.group}`
    case "group.accept":
      return `accept into ${body.group} (v${body.info.version})`
    case "group.refuse":
      return `refuse ${body.group}${body.reason === "" ? "" : `: ${body.reason}`}`
    case "group.leave":
      return `leave ${body.group}`
    case "presence":
      return `${body.status} (${body.session}, ${body.connection})`
    case "chat.sealed":
    case "group.sealed":
      return `msg ${body.n} (sealed)`
  }
}

export class DiagramBuilder {
  private readonly participants = new Map<string, string>()
  private readonly items: Array<Item> = []
  private readonly pending = new Map<string, Pending>()
  private omitted = 0

  /** `logs`: whose logs are given (their receipts decide crosses); `limit`: arrows and notes drawn at most. */
  constructor(private readonly logs: ReadonlySet<string>, private readonly limit: number, private readonly presence: boolean) {}

  private id(who: string): string {
    const known = this.participants.get(who)
    if (known !== undefined) return known
    const id = who.endsWith(GROUP_SUFFIX) ? `G${this.participants.size + 1}` : /^user-[0-9]+$/.test(who) ? `U${who.slice(5)}` : `P${this.participants.size + 1}`
    this.participants.set(who, id)
    return id
  }

  private push(item: Item): boolean {
    if (this.items.length >= this.limit) {
      this.omitted += 1
      return false
    }
    this.items.push(item)
    return true
  }

  private note(over: ReadonlyArray<string>, text: string): void {
    this.push({ kind: "note", over, text })
  }

  /** Where an envelope published on `topic` goes, and whose receipt of it can be checked. */
  private destination(who: string, out: Outgoing): { readonly to: string; readonly receivers: ReadonlyArray<string>; readonly group: boolean } | undefined {
    const kind = parseTopic(out.topic)
    const body = out.envelope.body
    switch (kind.kind) {
      case "control":
        return { to: kind.user, receivers: [kind.user], group: false }
      case "talk": {
        const peer = kind.users.find((user) => user !== who) ?? kind.users[0]
        return { to: peer, receivers: [peer], group: false }
      }
      case "groupTalk":
        return { to: groupParticipant(kind.group), receivers: [], group: true }
      case "groupInfo":
        return { to: groupParticipant(kind.group), receivers: [], group: true }
      case "presence":
      case "global":
        return this.presence && body._tag === "presence" ? { to: "(everyone)", receivers: [], group: true } : undefined
      case "unknown":
        return undefined
    }
  }

  /** The receivers of a group message whose logs are given: the members the sender named last. */
  private groupMembers = new Map<string, ReadonlyArray<string>>()

  private sent(who: string, record: LogRecord, shown: boolean): void {
    for (const out of record.out) {
      const where = this.destination(who, out)
      if (where === undefined) continue
      const body = out.envelope.body
      const receivers = body._tag === "group.message" || body._tag === "group.sealed" ? (this.groupMembers.get(where.to) ?? []).filter((m) => m !== who) : where.receivers
      const waiting = new Set(receivers.filter((user) => this.logs.has(user)))
      const item: ArrowItem = { kind: "arrow", from: who, to: where.to, label: describeBody(body), style: body._tag === "chat.resend" ? "dashed" : "solid" }
      if (!shown || !this.push(item)) continue
      const trackable = body._tag === "chat.message" || body._tag === "group.message" || body._tag === "chat.sealed" || body._tag === "group.sealed" || body._tag === "chat.request" || body._tag === "chat.accept" || body._tag === "chat.refuse" || body._tag === "chat.leave" || body._tag === "group.join"
      if (trackable && waiting.size > 0) this.pending.set(`${who}/${out.envelope.id}`, { item, waiting, expected: waiting.size, group: where.group })
    }
  }

  /** A receipt: the pending arrow of that envelope is no longer waiting for this receiver. */
  private received(who: string, from: string, id: string): void {
    const pending = this.pending.get(`${from}/${id}`)
    if (pending === undefined) return
    pending.waiting.delete(who)
    if (pending.waiting.size === 0) this.pending.delete(`${from}/${id}`)
  }

  /** One record of `who`'s log, in merged order; `shown`: it passes the filters (else only its receipts count). */
  add(who: string, record: LogRecord, shown: boolean): void {
    const event = record.event
    if (event._tag === "group.info.received" || event._tag === "group.accept.received") this.groupMembers.set(groupParticipant(event.info.name), event.info.members)
    for (const out of record.out) if (out.envelope.body._tag === "group.info") this.groupMembers.set(groupParticipant(out.envelope.body.info.name), out.envelope.body.info.members)
    switch (event._tag) {
      case "message.received":
      case "message.held":
        this.received(who, event.from, event.id)
        break
      case "conversation.stance.received":
        this.received(who, event.peer, event.requestId)
        break
      case "group.join.received":
        this.received(who, event.from, event.requestId)
        break
      default:
        break
    }
    this.sent(who, record, shown)
    if (!shown) return
    this.fromReceiver(who, record)
  }

  /** What the receiver's log shows: anomalies always, and arrows from senders whose logs are not given. */
  private fromReceiver(who: string, record: LogRecord): void {
    const event = record.event
    const absent = (user: string): boolean => !this.logs.has(user)
    switch (event._tag) {
      case "message.held":
        this.note([who], `held ${event.from}'s msg ${event.n} on ${event.topic}: an earlier one is missing`)
        if (absent(event.from)) this.push({ kind: "arrow", from: event.from, to: who, label: `msg ${event.n} ${quoted(event.text)} (held)`, style: "solid" })
        return
      case "message.received":
        if (absent(event.from)) this.push({ kind: "arrow", from: event.from, to: who, label: `msg ${event.n} ${quoted(event.text)}`, style: "solid" })
        return
      case "conversation.stance.received":
        if (absent(event.peer)) this.push({ kind: "arrow", from: event.peer, to: who, label: `${event.kind}${event.reason === "" ? "" : `: ${event.reason}`}`, style: "solid" })
        return
      case "group.info.received":
      case "group.accept.received":
        if (absent(event.from)) this.push({ kind: "arrow", from: event.from, to: who, label: `${event._tag === "group.accept.received" ? "accepted into " : ""}${event.info.name} v${event.info.version}: leader ${event.info.leader}, ${members(event.info.members.length)}`, style: "solid" })
        return
      case "group.join.received":
      case "group.refuse.received":
      case "group.leave.received":
        if (absent(event.from)) this.push({ kind: "arrow", from: event.from, to: who, label: `${event._tag === "group.join.received" ? "join" : event._tag === "group.refuse.received" ? "refuse" : "leave"} ${event.group}`, style: "solid" })
        return
      case "conversation.timed-out":
        this.note([who], `request with ${event.peer} timed out`)
        return
      case "session.started":
        this.note([who], `online (session ${event.session})`)
        return
      case "session.ended":
        this.note([who], `offline (session ${event.session} ended)`)
        return
      case "peer.key.changed":
        this.note([who], `${event.user} signs with other keys: refused until trusted`)
        return
      case "presence.observed":
        if (this.presence) this.note([who], `sees ${event.user} ${event.status}`)
        return
      default:
        return
    }
  }

  private finished = false

  /** Arrows still waiting for a receiver whose log is given become crosses (once). */
  private finish(): void {
    if (this.finished) return
    this.finished = true
    for (const pending of this.pending.values()) {
      if (pending.group) pending.item.label += ` (not received by ${[...pending.waiting].join(", ")})`
      else {
        pending.item.style = "lost"
        pending.item.label += " (never received)"
      }
    }
  }

  /** The diagram as data, for renderers other than Mermaid (diagram-svg.ts): participants in order of appearance. */
  model(): DiagramModel {
    this.finish()
    for (const item of this.items) {
      if (item.kind === "arrow") {
        this.id(item.from)
        this.id(item.to)
      } else item.over.forEach((who) => this.id(who))
    }
    const rows: DiagramRow[] = this.items.map((item) =>
      item.kind === "arrow" ? { kind: "arrow", from: item.from, to: item.to, label: item.label, style: item.style } : { kind: "note", over: item.over, text: item.text })
    if (this.omitted > 0) {
      const first = rows[0]
      const anchor = first === undefined ? undefined : first.kind === "arrow" ? first.from : first.over[0]
      if (anchor !== undefined) rows.push({ kind: "note", over: [anchor], text: `… ${this.omitted} more not drawn: narrow with --since/--until/--topic/--peer, or raise --limit` })
    }
    return { participants: [...this.participants.keys()], rows }
  }

  /** The diagram as Mermaid text: arrows still waiting for a receiver whose log is given are crosses. */
  render(): string {
    const { rows } = this.model()
    const body = rows.map((row) => row.kind === "arrow"
      ? `  ${this.id(row.from)}${ARROWS[row.style]}${this.id(row.to)}: ${mermaidText(row.label)}`
      : `  Note over ${row.over.map((who) => this.id(who)).join(",")}: ${mermaidText(row.text)}`)
    const header = [...this.participants].map(([who, id]) => `  participant ${id} as ${mermaidText(who)}`)
    return ["sequenceDiagram", ...header, ...body].join("\n")
  }
}

/** One row of a diagram: an arrow between participants, or a note over some. */
export type DiagramRow =
  | { readonly kind: "arrow"; readonly from: string; readonly to: string; readonly label: string; readonly style: Arrow }
  | { readonly kind: "note"; readonly over: ReadonlyArray<string>; readonly text: string }

export interface DiagramModel {
  readonly participants: ReadonlyArray<string>
  readonly rows: ReadonlyArray<DiagramRow>
}

export interface DiagramOptions {
  readonly limit: number
  readonly filter: RecordFilter
  readonly format: "mermaid" | "svg"
}

export const diagram = (targets: ReadonlyArray<string>, options: DiagramOptions, out: Output): number => {
  const locations = locatedAll(targets, out)
  if (locations === undefined) return EXIT_USAGE
  // Whose logs are given: their first records say.
  const owners = new Set(locations.map((location) => withLogReader(location.file, (reader) => ownerOf(reader.next()) ?? location.dir)))
  const presence = options.filter.events.some((pattern) => "presence.observed".startsWith(pattern))
  const builder = new DiagramBuilder(owners, options.limit, presence)
  let drawn = 0
  eachMerged(locations, out, ({ who, record }) => {
    const shown = matches(options.filter, record, who, record.clock)
    if (shown) drawn += 1
    builder.add(who, record, shown)
    return true
  })
  if (drawn === 0 && !isUnfiltered(options.filter)) out.note(terminalLine(`no record matches ${describeFilter(options.filter, "clock")}`))
  lines(out, options.format === "svg" ? renderSvg(builder.model()) : builder.render())
  return EXIT_OK
}
