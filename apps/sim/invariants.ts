/**
 * The chat's promises, checked once every user is back online and the network is drained. Each
 * check reports how much it looked at and the first violation it met, so a failing seed says
 * where to look. The live state is the service's own; every log is read back from the log and
 * folded here afresh, so "replay gives the live state" compares two computations, not one.
 */
import { conversationView, evolve, groupView, initialChatState, receivedEnvelopeId, replay, stateToJson } from "../../domain/chat/chat-state.ts"
import type { GroupName } from "../../domain/ids.ts"
import type { ChatState } from "../../domain/chat/chat-state.ts"
import type { LogRecord } from "../../domain/events.ts"
import { parseTopic, topics, type UserId } from "../../domain/ids.ts"
import { auditLogs } from "../shared/delivery-audit.ts"

/** A user as the checks take it: its log (read back from the log) and its live state. */
export interface SimUser {
  readonly id: UserId
  readonly log: ReadonlyArray<LogRecord>
  readonly state: ChatState
}

export interface InvariantResult {
  readonly name: string
  readonly ok: boolean
  /** What was checked, or the first violation. */
  readonly detail: string
  /** The delivery audit's numbers (the report's "messages" row). */
  readonly figures?: { readonly sent: number; readonly audited: number; readonly received: number; readonly missing: number }
}

/** JSON with object keys sorted: two values are equal exactly when their texts are. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v)

const result = (name: string, violation: string | undefined, checked: string): InvariantResult =>
  violation === undefined ? { name, ok: true, detail: checked } : { name, ok: false, detail: violation }

export const networkDrained = (waiting: number): InvariantResult =>
  result("network drained", waiting === 0 ? undefined : `${waiting} messages still wait at the broker for connected users`, "nothing left waiting")

/** Both sides of every pair are active, or neither is. */
export const pairsAgree = (users: ReadonlyArray<SimUser>): InvariantResult => {
  let pairs = 0
  let active = 0
  for (let i = 0; i < users.length; i++) {
    for (let j = i + 1; j < users.length; j++) {
      const a = users[i]!
      const b = users[j]!
      const ab = conversationView(a.state, b.id)
      const ba = conversationView(b.state, a.id)
      pairs += 1
      if ((ab === "active") !== (ba === "active")) {
        return result("pairs agree on their conversation", `${a.id} sees ${ab} with ${b.id}, who sees ${ba}`, "")
      }
      if (ab === "active") active += 1
    }
  }
  return result("pairs agree on their conversation", undefined, `${pairs} pairs, ${active} active`)
}

const SHOWN_VALUE_CHARS = 60

/** What differs between two values: the differing fields of two objects, else both values, shortened. */
export const describeDifference = (a: unknown, b: unknown): string => {
  const short = (value: unknown) => {
    const text = canonicalJson(value)
    return text.length > SHOWN_VALUE_CHARS ? `${text.slice(0, SHOWN_VALUE_CHARS - 1)}…` : text
  }
  const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value)
  if (!isObject(a) || !isObject(b)) return `${short(a)} vs ${short(b)}`
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  return keys.filter((key) => canonicalJson(a[key]) !== canonicalJson(b[key])).map((key) => `${key} ${short(a[key])} vs ${short(b[key])}`).join(", ")
}

/** Every user holds the same information for every group (or none at all for a group never founded). */
export const groupViewsEqual = (users: ReadonlyArray<SimUser>, groups: ReadonlyArray<GroupName>): InvariantResult => {
  let founded = 0
  for (const group of groups) {
    const first = users[0]
    if (first === undefined) break
    const expectedInfo = first.state.groups.get(group)?.context.info ?? null
    const expected = canonicalJson(expectedInfo)
    for (const user of users) {
      const info = user.state.groups.get(group)?.context.info ?? null
      if (canonicalJson(info) !== expected) {
        return result("group information equal for every user", `${group}: ${first.id} vs ${user.id}: ${describeDifference(expectedInfo, info)}`, "")
      }
    }
    if (expected !== "null") founded += 1
  }
  return result("group information equal for every user", undefined, `${groups.length} names, ${founded} ever founded`)
}

/** Folding a user's log from scratch gives exactly the state the live run reached. */
export const replayEqualsLive = (users: ReadonlyArray<SimUser>): InvariantResult => {
  let records = 0
  for (const user of users) {
    records += user.log.length
    if (canonicalJson(stateToJson(replay(user.log))) !== canonicalJson(stateToJson(user.state))) {
      return result("replay(log) equals live state", `${user.id}: the replay of its ${user.log.length} records differs from its live state`, "")
    }
  }
  return result("replay(log) equals live state", undefined, `${users.length} users, ${records} records replayed`)
}

/** Duplicated deliveries must be dropped: a message reaches a history once. */
export const noMessageTwice = (users: ReadonlyArray<SimUser>): InvariantResult => {
  let received = 0
  for (const user of users) {
    const seen = new Set<string>()
    for (const record of user.log) {
      if (record.event._tag !== "message.received") continue
      const key = receivedEnvelopeId(record.event)!
      if (seen.has(key)) return result("no message twice in a history", `${user.id} received ${key} twice (seq ${record.seq})`, "")
      seen.add(key)
      received += 1
    }
  }
  return result("no message twice in a history", undefined, `${received} received messages, all distinct`)
}

/**
 * Every message reached every receiver that should have it (the delivery audit of `replay audit`,
 * apps/shared/delivery-audit.ts: same code, same definition of "should").
 */
export const messagesDelivered = (users: ReadonlyArray<SimUser>): InvariantResult => {
  const report = auditLogs(users.map((user) => user.log))
  const first = report.missing[0]
  const violation = first === undefined ? undefined
    : `${report.missing.length} missing; first: ${first.message.from}'s #${first.message.n} on ${first.message.topic} (its seq ${first.message.seq}) to ${first.to}: ${first.reason} (replay audit on --logs explains each)`
  return {
    ...result("every message reached its receivers", violation, `${report.sent} messages, ${report.received} of ${report.audited} deliveries received, ${report.notExpected.length} not due (receiver not in it then)`),
    figures: { sent: report.sent, audited: report.audited, received: report.received, missing: report.missing.length },
  }
}

/**
 * What a reader was shown of one sender on one topic comes in the sender's order: each
 * message.received has a higher number than the one before — with the exceptions the protocol
 * makes (protocol.md 7.5):
 *   - a reader that had to ask for a resend may give the gap up, and a message that comes after
 *     all is shown late;
 *   - when a conversation is opened again or a group joined (the reader's order is dropped), the
 *     first message shown sets where the sender's numbering resumes: earlier numbers that arrive
 *     after it are shown late. Only where nothing was ever received from that sender on a pair's
 *     topic is the baseline known (numbering starts at 1), and there is no exemption.
 */
export const shownInOrder = (users: ReadonlyArray<SimUser>): InvariantResult => {
  let shown = 0
  let resent = 0
  let late = 0
  for (const user of users) {
    const last = new Map<string, number>()
    /** Where the current stretch of each order started: numbers below it may come late. */
    const baseline = new Map<string, number>()
    const ever = new Set<string>()
    const gaveUp = new Set<string>()
    /** The orders of `topic` start again (the service forgot them when the stretch began). */
    const restart = (topic: string) => {
      for (const key of [...last.keys()]) {
        if (!key.startsWith(`${topic} `)) continue
        last.delete(key)
        baseline.delete(key)
      }
    }
    // Folded along, to see where the service starts an order again: a conversation that becomes
    // active, a group I come inside (chat-state.ts, forgetSenderOrder).
    let state = initialChatState()
    for (const record of user.log) {
      const event = record.event
      const previous = state
      state = evolve(state, record)
      if (event._tag === "message.resend.asked") {
        if (!gaveUp.has(`${event.topic} ${event.from}`)) resent += 1
        gaveUp.add(`${event.topic} ${event.from}`)
        continue
      }
      if (event._tag.startsWith("conversation.") && "peer" in event && typeof event.peer === "string") {
        const peer = event.peer as UserId
        if (conversationView(state, peer) === "active" && conversationView(previous, peer) !== "active") restart(topics.talk(user.id, peer))
      }
      if (event._tag.startsWith("group.")) {
        for (const [name] of state.groups) {
          const inside = (s: ChatState) => ["member", "leading"].includes(groupView(s, name as GroupName))
          if (inside(state) && !inside(previous)) restart(topics.groupTalk(name as GroupName))
        }
      }
      if (event._tag !== "message.received") continue
      const key = `${event.topic} ${event.from}`
      const before = last.get(key) ?? 0
      shown += 1
      if (!baseline.has(key)) baseline.set(key, !ever.has(key) && parseTopic(event.topic).kind === "talk" ? 1 : event.n)
      ever.add(key)
      if (event.n <= before) {
        if (event.n < baseline.get(key)! || gaveUp.has(key)) {
          late += 1
          continue
        }
        return result("shown in the sender's order", `${user.id} was shown ${event.from}'s #${event.n} on ${event.topic} after #${before} (seq ${record.seq})`, "")
      }
      last.set(key, event.n)
    }
  }
  return result("shown in the sender's order", undefined, `${shown} messages shown in their sender's order; ${late} shown late as the protocol allows (${resent} orders asked for a resend)`)
}

export const checkInvariants = (users: ReadonlyArray<SimUser>, waiting: number, groups: ReadonlyArray<GroupName>): ReadonlyArray<InvariantResult> => [
  networkDrained(waiting),
  pairsAgree(users),
  groupViewsEqual(users, groups),
  replayEqualsLive(users),
  noMessageTwice(users),
  messagesDelivered(users),
  shownInOrder(users),
]
