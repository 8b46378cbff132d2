/**
 * The domain view (apps/shared/domain-view.ts) as text, and what changed between two views. Every
 * line goes through the terminal sanitiser: topics and reasons come from the log.
 */
import type { DomainView } from "../shared/domain-view.ts"
import { isoTime, terminalLine } from "./describe.ts"

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? "" : "s"}`

const clockTime = (ms: number): string => isoTime(ms).slice(11, 19)

const conversationWords = (conversation: string, outcome: string): string => {
  switch (conversation) {
    case "active":
      return "conversation open"
    case "outgoing":
      return "I asked, waiting for an answer"
    case "incoming":
      return "asks me for a conversation"
    case "closed":
      return outcome === "none" ? "conversation closed" : `conversation closed (${outcome})`
    default:
      return "no conversation"
  }
}

const membershipWords = (me: string): string =>
  me === "leading" ? "I lead it" : me === "member" ? "I am a member" : me === "joining" ? "I asked to join" : me === "listed" ? "I am not in it" : "gone"

const messageWords = (messages: number, unread: number): string =>
  messages === 0 ? "" : ` · ${plural(messages, "message")}${unread > 0 ? `, ${unread} unread` : ""}`

export const formatDomainView = (view: DomainView): ReadonlyArray<string> => {
  const lines: Array<string> = []
  const when = view.at === null ? "an empty log" : `seq ${view.seq} (${isoTime(view.at)}, clock ${view.clock})`
  lines.push(`${view.me ?? "(no user yet)"} at ${when}: session ${view.session}, ${view.online ? "online" : "offline"}`)
  const users = Object.entries(view.users)
  lines.push("", `Users (${users.length}, ${users.filter(([, u]) => u.presence === "online").length} online)`)
  for (const [user, u] of users) {
    lines.push(`  ${user.padEnd(12)} ${u.presence.padEnd(8)} ${conversationWords(u.conversation, u.lastOutcome)}${u.topic === null ? "" : ` on ${u.topic}`}${messageWords(u.messages, u.unread)}`)
  }
  const groups = Object.entries(view.groups)
  lines.push("", `Groups (${groups.length})`)
  for (const [name, g] of groups) {
    const leader = g.leader === null ? "no information yet" : `leader ${g.leader}, members ${g.members.join(" ")}, v${g.version}${g.dissolved ? ", dissolved" : ""}`
    const pending = g.pending.length === 0 ? "" : ` · asking to join: ${g.pending.join(" ")}`
    const keys = g.keyVersions.length === 0 ? "" : ` · keys for v${g.keyVersions.join(" v")}`
    lines.push(`  #${name} — ${membershipWords(g.me)} · ${leader}${pending}${messageWords(g.messages, g.unread)}${keys}`)
  }
  lines.push("", `Requests waiting for my answer: ${view.requests.pending.length === 0 ? "none" : view.requests.pending.length} (${view.requests.answered} answered; ${plural(view.acceptances, "acceptance")} in the history)`)
  for (const r of view.requests.pending.slice(0, 20)) {
    lines.push(`  ${r.from} ${r.kind === "chat" ? "asks for a conversation" : `asks to join #${r.group ?? "?"}`} (since ${isoTime(r.at)})`)
  }
  lines.push(`Held back for a gap: ${view.held.length === 0 ? "none" : ""}`)
  for (const h of view.held) {
    const resend = h.resendAskedAt === null ? "" : `; resend asked at ${clockTime(h.resendAskedAt)}`
    lines.push(`  from ${h.from} on ${h.topic}: #${h.held.join(" #")} waiting for #${h.shown + 1} (held since ${clockTime(h.since)}${resend})`)
  }
  const topicsOut = Object.entries(view.outbox.byTopic)
  lines.push(`Outbox (sent, not acknowledged by the broker): ${view.outbox.count === 0 ? "empty" : `${view.outbox.count} — ${topicsOut.map(([topic, count]) => `${topic} ${count}`).join(", ")}`}`)
  lines.push(`Keys: ${plural(view.trust.pinned, "peer")} pinned; changed keys waiting for /trust: ${view.trust.keyChanges.length === 0 ? "none" : view.trust.keyChanges.join(" ")}`)
  return lines.map(terminalLine)
}

/** Leaves of a value by path (`users.user-2.presence`); arrays are leaves (shown whole). */
const flatten = (value: unknown, path: string, into: Map<string, string>): void => {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>)
    if (entries.length === 0) into.set(path, "{}")
    for (const [key, inner] of entries) flatten(inner, path === "" ? key : `${path}.${key}`, into)
    return
  }
  into.set(path, JSON.stringify(value) ?? "undefined")
}

/** Fields that move with every record: the record's own header says them. */
const ALWAYS_CHANGING = new Set(["seq", "at"])
/** Changes listed one by one; past this they are counted. */
export const MAX_LISTED_CHANGES = 200

/** What differs between two views, one line per leaf: `~ path: old → new`, `+ path: new`, `- path: old`. */
export const diffViews = (before: DomainView, after: DomainView): ReadonlyArray<string> => {
  const a = new Map<string, string>()
  const b = new Map<string, string>()
  flatten(before, "", a)
  flatten(after, "", b)
  const changes: Array<string> = []
  const paths = [...new Set([...a.keys(), ...b.keys()])].filter((path) => !ALWAYS_CHANGING.has(path)).sort()
  for (const path of paths) {
    const old = a.get(path)
    const now = b.get(path)
    if (old === now) continue
    changes.push(old === undefined ? `+ ${path}: ${now}` : now === undefined ? `- ${path}: ${old}` : `~ ${path}: ${old} → ${now}`)
  }
  const shown = changes.slice(0, MAX_LISTED_CHANGES)
  if (changes.length > shown.length) shown.push(`… and ${changes.length - shown.length} more changes`)
  return shown.map(terminalLine)
}
