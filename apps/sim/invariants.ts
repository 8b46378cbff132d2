/**
 * What must hold once every user is back online and the network is drained. Each check reports
 * how much it looked at and the first violation it met, so a failing seed says where to look.
 */
import { conversationView, receivedEnvelopeId, replay, stateToJson } from "../../domain/chat/chat-state.ts"
import type { GroupName } from "../../domain/ids.ts"
import type { SimUser } from "../../domain/sim/cluster.ts"
import { auditLogs } from "../shared/delivery-audit.ts"
import type { InFlight } from "./in-flight.ts"

export interface InvariantResult {
  readonly name: string
  readonly ok: boolean
  /** What was checked, or the first violation. */
  readonly detail: string
}

/** JSON with object keys sorted: two values are equal exactly when their texts are. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v)

const result = (name: string, violation: string | undefined, checked: string): InvariantResult =>
  violation === undefined ? { name, ok: true, detail: checked } : { name, ok: false, detail: violation }

export const networkDrained = (inFlight: InFlight): InvariantResult => {
  const left = inFlight.anyOne()
  return result(
    "network drained",
    left === undefined ? undefined : `${inFlight.size} deliveries still in flight, one to ${left.to} on ${left.topic}`,
    "no delivery left in flight",
  )
}

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
  return result("every message reached its receivers", violation, `${report.sent} messages, ${report.received} of ${report.audited} deliveries received, ${report.notExpected.length} not due (receiver not in it then)`)
}

export const checkInvariants = (users: ReadonlyArray<SimUser>, inFlight: InFlight, groups: ReadonlyArray<GroupName>): ReadonlyArray<InvariantResult> => [
  networkDrained(inFlight),
  pairsAgree(users),
  groupViewsEqual(users, groups),
  replayEqualsLive(users),
  noMessageTwice(users),
  messagesDelivered(users),
]
