/**
 * The small panes as pure functions of what the controller knows: the side list, the title line,
 * the status bar and the input prompt. Each returns blessed-tagged text fitted to a width.
 */
import type { ConnectionState, GroupListing, UserListing } from "./chat-port.ts"
import { seg, styledLine, type Segment } from "./styled.ts"
import { counted } from "./plural.ts"

export type Presence = UserListing["status"]
export type ConversationView = UserListing["conversation"]
export type GroupMembership = GroupListing["me"]

/** One entry of the buffer list. */
export interface BufferSummary {
  readonly key: string
  /** 1-based; Alt-1..9 jump to it. */
  readonly number: number
  readonly label: string
  readonly unread: number
  /** A request waits in this buffer. */
  readonly requestPending: boolean
  readonly kind: "status" | "peer" | "group"
  readonly presence: Presence | null
  readonly conversation: ConversationView | null
  readonly membership: GroupMembership | null
}

export interface SidebarModel {
  readonly buffers: ReadonlyArray<BufferSummary>
  readonly activeKey: string
  readonly users: ReadonlyArray<UserListing>
  readonly groups: ReadonlyArray<GroupListing>
  readonly pendingRequests: number
}

export interface SidebarView {
  readonly lines: ReadonlyArray<string>
  /** For each line, the buffer (or user / group) a click on it opens. */
  readonly targets: ReadonlyArray<string | null>
}

const PRESENCE_MARK: Record<Presence, Segment> = {
  online: seg("●", { fg: "green" }),
  offline: seg("○", { fg: "grey" }),
  unknown: seg("?", { fg: "grey" }),
}

/** A word for the state of a conversation, or null when there is nothing to say ("active"). */
export const conversationWord = (view: ConversationView): string | null => {
  switch (view) {
    case "active":
      return null
    case "outgoing":
      return "waiting"
    case "incoming":
      return "asks you"
    case "closed":
      return "closed"
    case "idle":
      return "no conversation"
  }
}

export const membershipWord = (me: GroupMembership): string | null => {
  switch (me) {
    case "leading":
      return "leader"
    case "member":
      return null
    case "joining":
      return "joining"
    case "listed":
      return "not a member"
    case "absent":
      return "gone"
  }
}

const header = (text: string, width: number): string => styledLine([seg(text, { fg: "grey", bold: true })], width)

const bufferLine = (buffer: BufferSummary, active: boolean, width: number): string => {
  const number = seg(`${String(buffer.number).padStart(2)} `, { fg: "grey" })
  const mark = buffer.presence === null ? seg("  ") : { ...PRESENCE_MARK[buffer.presence], text: `${PRESENCE_MARK[buffer.presence].text} ` }
  const state = buffer.kind === "peer" && buffer.conversation !== null ? conversationWord(buffer.conversation)
    : buffer.kind === "group" && buffer.membership !== null ? membershipWord(buffer.membership)
    : null
  const badge = buffer.requestPending ? " ?" : buffer.unread > 0 ? ` ${buffer.unread > 999 ? "999+" : buffer.unread}` : ""
  const labelStyle = active ? { inverse: true, bold: true } : buffer.unread > 0 || buffer.requestPending ? { bold: true, fg: "white" } : {}
  const stateText = state === null ? "" : ` ${state === "leader" ? "★" : state === "waiting" || state === "joining" ? "…" : state === "closed" || state === "gone" ? "×" : ""}`
  const fixed = 3 + 2 + badge.length + stateText.length
  const label = buffer.label.length + fixed > width ? `${buffer.label.slice(0, Math.max(1, width - fixed - 1))}…` : buffer.label
  return styledLine([number, mark, seg(label, labelStyle), seg(stateText, { fg: "grey" }), seg(badge, { fg: buffer.requestPending ? "yellow" : "magenta", bold: true })], width)
}

/** The side list: buffers first (always whole), then users, groups and requests as room allows. */
export const renderSidebar = (model: SidebarModel, width: number, height: number): SidebarView => {
  const lines: string[] = []
  const targets: (string | null)[] = []
  const push = (line: string, target: string | null) => {
    lines.push(line)
    targets.push(target)
  }
  push(header(" Buffers", width), null)
  for (const buffer of model.buffers) push(bufferLine(buffer, buffer.key === model.activeKey, width), buffer.key)

  const online = model.users.filter((u) => u.status === "online").length
  const tail: Array<{ readonly line: string; readonly target: string | null }> = []
  tail.push({ line: styledLine([], width), target: null })
  tail.push({ line: header(` Users ${online}/${model.users.length} online`, width), target: null })
  // Online first, then by id: the people you can talk to now are at the top.
  const users = [...model.users].sort((a, b) => Number(b.status === "online") - Number(a.status === "online") || a.user.localeCompare(b.user))
  for (const user of users) tail.push({ line: styledLine([seg(" "), PRESENCE_MARK[user.status], seg(` ${user.user}`)], width), target: `@${user.user}` })
  const usersEnd = tail.length
  tail.push({ line: styledLine([], width), target: null })
  tail.push({ line: header(` Groups ${model.groups.length}`, width), target: null })
  for (const group of model.groups) {
    const mine = group.me === "member" || group.me === "leading"
    tail.push({
      line: styledLine([seg(` #${group.name}`, mine ? { bold: true } : {}), seg(` (${group.members.length}) ${group.leader}`, { fg: "grey" })], width),
      target: `#${group.name}`,
    })
  }
  const groupsEnd = tail.length
  if (model.pendingRequests > 0) {
    tail.push({ line: styledLine([], width), target: null })
    tail.push({ line: styledLine([seg(` ${counted(model.pendingRequests, "request")} waiting (F6)`, { fg: "yellow", bold: true })], width), target: "requests" })
  }

  const room = Math.max(0, height - lines.length)
  if (tail.length <= room) {
    for (const entry of tail) push(entry.line, entry.target)
    return { lines, targets }
  }
  // Not enough room: cut the users list first, then the groups, and say how many are hidden.
  const requestsPart = tail.slice(groupsEnd)
  const groupsPart = tail.slice(usersEnd, groupsEnd)
  const usersPart = tail.slice(0, usersEnd)
  const cut = (part: typeof tail, keep: number, what: "user" | "group") => {
    if (part.length <= keep) return part
    const shown = part.slice(0, Math.max(0, keep - 1))
    const hidden = part.length - shown.length
    return [...shown, { line: styledLine([seg(`   … ${counted(hidden, `more ${what}`, `more ${what}s`)} (F1)`, { fg: "grey" })], width), target: "users" }]
  }
  const afterRequests = room - requestsPart.length
  const groupsRoom = Math.max(0, Math.min(groupsPart.length, Math.floor(afterRequests / 2)))
  const usersRoom = Math.max(0, afterRequests - groupsRoom)
  for (const entry of [...cut(usersPart, usersRoom, "user"), ...cut(groupsPart, groupsRoom, "group"), ...requestsPart].slice(0, room)) push(entry.line, entry.target)
  return { lines, targets }
}

export interface TitleModel {
  readonly kind: "status" | "peer" | "group"
  readonly label: string
  readonly me: string
  readonly user: UserListing | null
  readonly group: GroupListing | null
  readonly topic: string | null
  /** Scrolled up with this many lines below the view, or 0 when following. */
  readonly linesBelow: number
}

export const renderTitle = (model: TitleModel, width: number): string => {
  const parts: Segment[] = [seg(` ${model.label} `, { bold: true })]
  if (model.kind === "status") {
    parts.push(seg(`— mqtt-chat · you are ${model.me} · F1..F8 or Ctrl-O: menu · /help`, { fg: "grey" }))
  } else if (model.kind === "peer") {
    const user = model.user
    if (user !== null) {
      parts.push(user.status === "online" ? seg("online", { fg: "green" }) : seg(user.status, { fg: "grey" }))
      const word = conversationWord(user.conversation)
      parts.push(seg(` · ${word === null ? "conversation open" : word}`, { fg: word === null ? "white" : "yellow" }))
      if (user.conversation === "idle" || user.conversation === "closed") parts.push(seg(" · /talk to ask", { fg: "grey" }))
      if (user.conversation === "incoming") parts.push(seg(" · /accept or /refuse", { fg: "yellow" }))
    }
  } else if (model.group !== null) {
    const group = model.group
    const word = membershipWord(group.me)
    parts.push(seg(`leader ${group.leader} · ${counted(group.members.length, "member")}: ${group.members.join(", ")}`, { fg: "white" }))
    if (word !== null) parts.push(seg(` · you: ${word}`, { fg: "yellow" }))
    if (group.pending.length > 0 && group.me === "leading") parts.push(seg(` · ${group.pending.length} asking to join`, { fg: "yellow" }))
  } else {
    parts.push(seg("not a group you know of yet", { fg: "grey" }))
  }
  if (model.topic !== null) parts.push(seg(` · topic ${model.topic}`, { fg: "grey" }))
  if (model.linesBelow > 0) parts.push(seg(` · ↓ ${counted(model.linesBelow, "more line")} (PgDn)`, { fg: "magenta", bold: true }))
  return styledLine(parts, width)
}

export interface StatusModel {
  readonly me: string
  readonly broker: string
  readonly connection: ConnectionState
  readonly target: string
  readonly pendingRequests: number
  readonly problems: number
  readonly hint: string | null
}

const connectionSegment = (state: ConnectionState): Segment => {
  switch (state._tag) {
    case "connected":
      return seg("● connected", { fg: "green" })
    case "connecting":
      return seg("◌ connecting", { fg: "yellow" })
    case "reconnecting":
      return seg(`◌ reconnecting (try ${state.attempt})`, { fg: "yellow", bold: true })
    case "closed":
      return seg("○ disconnected", { fg: "red", bold: true })
  }
}

export const renderStatusBar = (model: StatusModel, width: number): string => {
  const parts: Segment[] = [
    seg(` ${model.me} `, { inverse: true, bold: true }),
    seg(" "),
    connectionSegment(model.connection),
    seg(` ${model.broker}`, { fg: "grey" }),
    seg(" │ to ", { fg: "grey" }),
    seg(model.target, { bold: true }),
  ]
  if (model.pendingRequests > 0) parts.push(seg(` │ ${counted(model.pendingRequests, "request")} (F6)`, { fg: "yellow", bold: true }))
  if (model.problems > 0) parts.push(seg(` │ ! ${model.problems} in chat.log`, { fg: "red" }))
  parts.push(seg(` │ ${model.hint ?? "F1-F8/^O menu ^N/^P switch Alt-A activity /help"}`, { fg: "grey" }))
  return styledLine(parts, width)
}

/** The prompt names where Enter sends: "[@user-12345] ", "[#team · joining] ", "[status] ". */
export const promptText = (label: string, state: string | null): string => (state === null ? `[${label}] ` : `[${label} · ${state}] `)
