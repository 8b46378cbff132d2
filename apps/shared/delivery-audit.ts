/**
 * Who received each message sent, over several users' logs — one simulation run, or real users'
 * logs gathered — and, for every receiver that should have and did not, what each side's log says
 * last about it. Pure: logs in, a report out. The replay tool prints it (`replay audit`); the
 * simulator's delivery invariant is `missing.length === 0` of the same report (apps/sim/invariants.ts).
 *
 * Who should receive a message, from the logs alone (drops are not logged):
 *   - the receivers are the pair's other user on a talk topic, and the members of the group as the
 *     sender knew them when it sent, on a group topic; a receiver whose log is not given is only
 *     counted ("not audited");
 *   - a receiver is EXPECTED to have it when, at the end of its log, it still takes messages there
 *     (the conversation is open — or still asked for — on its side; it is still in the group and
 *     counts the sender as a member) and has done so, without a break, since before the message was
 *     sent: since a record whose Lamport clock is below the message's. Leaving, being refused,
 *     joining later, or learning of the sender's membership later all end or start such a stretch,
 *     and a message that fell outside one is "not expected" (listed with the reason, not missing).
 * A message that arrived but is still held back for a gap counts as missing (the user never saw it).
 */
import { conversationView, groupView } from "../../domain/chat/chat-state.ts"
import type { ChatState } from "../../domain/chat/chat-state.ts"
import type { DomainEvent, LogRecord } from "../../domain/events.ts"
import { parseTopic, type GroupName, type UserId } from "../../domain/ids.ts"
import { ViewFold } from "./domain-view.ts"

/** What a log says at one record, in short: for "the last thing each side's log says". */
export interface LogNote {
  readonly seq: number
  readonly at: number
  readonly clock: number
  readonly event: string
  readonly detail: string
}

export interface SentMessage {
  readonly id: string
  readonly from: string
  readonly topic: string
  readonly n: number
  readonly text: string
  readonly seq: number
  readonly at: number
  readonly clock: number
  /** The receivers, as the sender knew them when it sent. */
  readonly receivers: ReadonlyArray<string>
}

export interface Delivery {
  readonly to: string
  readonly seq: number
  readonly at: number
}

export interface MissingDelivery {
  readonly message: SentMessage
  readonly to: string
  /** One line: held back, never arrived, still in the sender's outbox… */
  readonly reason: string
  readonly sender: ReadonlyArray<LogNote>
  readonly receiver: ReadonlyArray<LogNote>
}

export interface NotExpected {
  readonly message: SentMessage
  readonly to: string
  readonly reason: string
}

export interface AuditReport {
  readonly users: ReadonlyArray<string>
  readonly sent: number
  /** Deliveries the logs can judge (the receiver's log is given). */
  readonly audited: number
  readonly received: number
  readonly notAudited: number
  readonly deliveries: ReadonlyMap<string, ReadonlyArray<Delivery>>
  readonly missing: ReadonlyArray<MissingDelivery>
  readonly notExpected: ReadonlyArray<NotExpected>
}

/** Which messages to audit (`replay audit --topic …`): all by default. */
export type MessageFilter = (message: SentMessage) => boolean

/** A stretch of time during which a log took messages from someone, from the clock it began. */
interface Stretch {
  /** Lamport clock, seq and wall time of the record that began it. */
  readonly since: number
  readonly sinceSeq: number
  readonly sinceAt: number
}

/** What one log contributes, gathered in one pass. */
interface LogFacts {
  readonly owner: string
  readonly sent: Array<SentMessage>
  /** `from/id` → where it was shown. */
  readonly received: Map<string, { seq: number; at: number }>
  /** `from/id` → held, not shown (yet). */
  readonly held: Map<string, { seq: number; at: number; n: number }>
  readonly acked: Map<string, number>
  readonly unacked: Set<string>
  /** Per talk peer: the open stretch of taking its messages, at the end. */
  readonly talk: Map<string, Stretch>
  /** Per group and member: the open stretch of taking that member's messages, at the end. */
  readonly group: Map<string, Stretch>
  /** `topic from` (messages), `peer P`, `group G`, `id ID`: the last record about it. */
  readonly last: Map<string, LogNote>
  readonly final: ChatState
}

const MAX_TEXT_PREVIEW = 60

/** Short words for a record: what the report quotes. */
export const noteOf = (record: LogRecord): LogNote => ({ seq: record.seq, at: record.at, clock: record.clock, event: record.event._tag, detail: detailOf(record.event) })

const detailOf = (event: DomainEvent): string => {
  const e = event as Record<string, unknown>
  const parts: Array<string> = []
  for (const key of ["peer", "from", "user", "member", "group", "kind", "status", "topic"]) if (typeof e[key] === "string") parts.push(`${key} ${e[key] as string}`)
  if (typeof e.n === "number") parts.push(`#${e.n}`)
  if (Array.isArray(e.missing)) parts.push(`missing #${(e.missing as ReadonlyArray<number>).slice(0, 10).join(" #")}`)
  if (Array.isArray(e.ids)) parts.push(`${(e.ids as ReadonlyArray<string>).length} ids`)
  const info = e.info as { name: string; version: number; members: ReadonlyArray<string> } | undefined
  if (info !== undefined) parts.push(`${info.name} v${info.version} members ${info.members.join(" ")}`)
  return parts.join(", ")
}

const key = (from: string, id: string): string => `${from}/${id}`

/** Whether `me` takes chat messages from `peer` in this state (as decideIncoming does). */
const takesTalk = (state: ChatState, peer: string): boolean => {
  const view = conversationView(state, peer as UserId)
  return view === "active" || view === "outgoing"
}

/** The members whose group messages `me` takes: I am in the group, and they are members as I know it. */
const groupSenders = (state: ChatState, group: string): ReadonlyArray<string> => {
  const view = groupView(state, group as GroupName)
  if (view !== "member" && view !== "leading") return []
  return state.groups.get(group)?.context.info?.members ?? []
}

/** The receivers of a message I sent on `topic`, as I know them now. */
const receiversOf = (state: ChatState, topic: string): ReadonlyArray<string> => {
  const kind = parseTopic(topic)
  if (kind.kind === "talk") return kind.users.filter((user) => user !== state.me)
  if (kind.kind === "groupTalk") return (state.groups.get(kind.group)?.context.info?.members ?? []).filter((user) => user !== state.me)
  return []
}

/** Starts or ends stretches after a record, for the peers and groups it touched. */
const updateStretches = (facts: LogFacts, state: ChatState, record: LogRecord): void => {
  const event = record.event
  if ("peer" in event) {
    const open = facts.talk.get(event.peer)
    const takes = takesTalk(state, event.peer)
    if (takes && open === undefined) facts.talk.set(event.peer, { since: record.clock, sinceSeq: record.seq, sinceAt: record.at })
    if (!takes && open !== undefined) facts.talk.delete(event.peer)
  }
  const group = (event as { group?: string; info?: { name: string } }).group ?? (event as { info?: { name: string } }).info?.name
  if (group !== undefined) {
    const senders = new Set(groupSenders(state, group))
    const prefix = `${group} `
    for (const stretchKey of [...facts.group.keys()]) {
      if (stretchKey.startsWith(prefix) && !senders.has(stretchKey.slice(prefix.length))) facts.group.delete(stretchKey)
    }
    for (const sender of senders) {
      const stretchKey = `${prefix}${sender}`
      if (!facts.group.has(stretchKey)) facts.group.set(stretchKey, { since: record.clock, sinceSeq: record.seq, sinceAt: record.at })
    }
  }
}

const remember = (facts: LogFacts, record: LogRecord): void => {
  const event = record.event
  const note = noteOf(record)
  if (event._tag === "message.received" || event._tag === "message.held" || event._tag === "message.resend.asked") facts.last.set(`${event.topic} ${event.from}`, note)
  if (event._tag === "message.sent") facts.last.set(`id ${event.id}`, note)
  if (event._tag === "outbox.acked") for (const id of event.ids) if (facts.last.has(`id ${id}`)) facts.last.set(`id ${id}`, note)
  if ("peer" in event) facts.last.set(`peer ${event.peer}`, note)
  if (event._tag === "presence.observed") facts.last.set(`peer ${event.user}`, note)
  const group = (event as { group?: string; info?: { name: string } }).group ?? (event as { info?: { name: string } }).info?.name
  if (group !== undefined) facts.last.set(`group ${group}`, note)
  if (event._tag === "session.started" || event._tag === "session.ended") facts.last.set("session", note)
}

/** One pass over one log: the fold, and what the audit needs from it. */
export const gatherLog = (records: Iterable<LogRecord>): LogFacts => {
  const fold = new ViewFold()
  const facts: Omit<LogFacts, "final" | "owner"> & { owner: string; final: ChatState } = {
    owner: "", sent: [], received: new Map(), held: new Map(), acked: new Map(), unacked: new Set(), talk: new Map(), group: new Map(), last: new Map(), final: fold.state,
  }
  for (const record of records) {
    fold.apply(record)
    const state = fold.state
    const event = record.event
    if (event._tag === "profile.created") facts.owner = event.user
    else if (event._tag === "message.sent") {
      facts.sent.push({ id: event.id, from: state.me ?? "?", topic: event.topic, n: event.n, text: event.text.slice(0, MAX_TEXT_PREVIEW), seq: record.seq, at: record.at, clock: record.clock, receivers: receiversOf(state, event.topic) })
    } else if (event._tag === "message.received") facts.received.set(key(event.from, event.id), { seq: record.seq, at: record.at })
    else if (event._tag === "message.held") facts.held.set(key(event.from, event.id), { seq: record.seq, at: record.at, n: event.n })
    else if (event._tag === "outbox.acked") for (const id of event.ids) facts.acked.set(id, record.seq)
    updateStretches(facts, state, record)
    remember(facts, record)
  }
  facts.final = fold.state
  for (const out of fold.state.outbox.values()) facts.unacked.add(out.envelope.id)
  if (facts.owner === "") facts.owner = fold.state.me ?? ""
  return facts
}

/**
 * Whether a stretch began before the message was sent, by both clocks: the Lamport clock (the
 * order the logs can prove) and the wall clock (a receiver that joined later in time was not yet
 * subscribed when the message went out, whatever the Lamport clocks say of two concurrent events).
 * At the same millisecond the logs cannot tell which came first (two concurrent events may have
 * any Lamport clocks): such a message is not counted as due.
 */
const before = (stretch: Stretch, message: SentMessage): boolean => stretch.since < message.clock && stretch.sinceAt < message.at

const describeStart = (start: { readonly since: number; readonly sinceAt: number }): string => `clock ${start.since}, at ${isoTime(start.sinceAt)}`

/** The largest time a Date holds (ms); beyond it a time is printed as a number. */
const isoTime = (ms: number): string => (ms <= 8.64e15 ? new Date(ms).toISOString() : `@${ms}`)

/** Why `to` was not expected to have `message`, or undefined when it was. */
const notExpectedReason = (message: SentMessage, receiver: LogFacts): string | undefined => {
  const kind = parseTopic(message.topic)
  if (kind.kind === "talk") {
    const stretch = receiver.talk.get(message.from)
    if (stretch === undefined) return `${receiver.owner}'s side of the conversation is ${conversationView(receiver.final, message.from as UserId)} at the end of its log`
    if (!before(stretch, message)) return `${receiver.owner} (re)opened the conversation at seq ${stretch.sinceSeq} (${describeStart(stretch)}), not before the message (${describeStart({ since: message.clock, sinceAt: message.at })})`
    return undefined
  }
  if (kind.kind === "groupTalk") {
    const stretch = receiver.group.get(`${kind.group} ${message.from}`)
    if (stretch === undefined) {
      const view = groupView(receiver.final, kind.group)
      return view === "member" || view === "leading" ? `${receiver.owner} does not count ${message.from} as a member of ${kind.group} at the end of its log` : `${receiver.owner} is not in ${kind.group} at the end of its log (${view})`
    }
    if (!before(stretch, message)) return `${receiver.owner} took ${message.from}'s messages in ${kind.group} only from seq ${stretch.sinceSeq} (${describeStart(stretch)}), not before the message (${describeStart({ since: message.clock, sinceAt: message.at })})`
    return undefined
  }
  return "not a conversation topic"
}

const notes = (facts: LogFacts, keys: ReadonlyArray<string>): ReadonlyArray<LogNote> => {
  const found = keys.map((k) => facts.last.get(k)).filter((note): note is LogNote => note !== undefined)
  return [...new Map(found.map((note) => [note.seq, note])).values()].sort((a, b) => a.seq - b.seq)
}

const explain = (message: SentMessage, to: string, sender: LogFacts, receiver: LogFacts): MissingDelivery => {
  const held = receiver.held.get(key(message.from, message.id))
  const ackSeq = sender.acked.get(message.id)
  const kind = parseTopic(message.topic)
  const about = kind.kind === "groupTalk" ? `group ${kind.group}` : `peer ${to}`
  const reason = held !== undefined ? `arrived (seq ${held.seq}) but is still held back, waiting for an earlier message of ${message.from}`
    : sender.unacked.has(message.id) ? `still in ${message.from}'s outbox: the broker never acknowledged it`
    : ackSeq === undefined ? `never arrived; ${message.from}'s log has no acknowledgement for it`
    : `never arrived, though the broker acknowledged it (${message.from}'s seq ${ackSeq})`
  return {
    message,
    to,
    reason,
    sender: notes(sender, [`id ${message.id}`, about, "session"]),
    receiver: notes(receiver, [`${message.topic} ${message.from}`, kind.kind === "groupTalk" ? about : `peer ${message.from}`, "session"]),
  }
}

/** The audit of several users' logs (each in its own order), `logs` keyed by nothing: owners come from the logs. */
export const auditLogs = (logs: Iterable<Iterable<LogRecord>>, include: MessageFilter = () => true): AuditReport => {
  const facts = [...logs].map(gatherLog)
  const byOwner = new Map(facts.map((f) => [f.owner, f]))
  const deliveries = new Map<string, Array<Delivery>>()
  const missing: Array<MissingDelivery> = []
  const notExpected: Array<NotExpected> = []
  let sent = 0
  let audited = 0
  let received = 0
  let notAudited = 0
  for (const sender of facts) {
    for (const message of sender.sent) {
      if (!include(message)) continue
      sent += 1
      const got: Array<Delivery> = []
      for (const to of message.receivers) {
        const receiver = byOwner.get(to)
        if (receiver === undefined) {
          notAudited += 1
          continue
        }
        audited += 1
        const shown = receiver.received.get(key(message.from, message.id))
        if (shown !== undefined) {
          received += 1
          got.push({ to, seq: shown.seq, at: shown.at })
          continue
        }
        const reason = notExpectedReason(message, receiver)
        if (reason === undefined) missing.push(explain(message, to, sender, receiver))
        else notExpected.push({ message, to, reason })
      }
      deliveries.set(key(message.from, message.id), got)
    }
  }
  return { users: facts.map((f) => f.owner), sent, audited, received, notAudited, deliveries, missing, notExpected }
}
