/**
 * What changed between two snapshots of the service, as notes in the buffers it concerns
 * ("user-1 is offline", "user-2 accepted", "you left #team"). Called by the controller after each
 * refresh; it only writes notes.
 */
import { topics } from "../../domain/ids.ts"
import type { ChatSnapshot, GroupListing, UserListing } from "./chat-port.ts"
import { STATUS_KEY } from "./chat-buffer.ts"
import type { BufferTarget } from "./commands.ts"
import type { TuiHost } from "./tui-host.ts"

type NoteHost = Pick<TuiHost, "me" | "quiet" | "withdrawnJoins" | "note" | "noteFor" | "buffer" | "topicOf">

export const noteChanges = (host: NoteHost, before: ChatSnapshot, after: ChatSnapshot): void => {
  for (const user of after.keyChanges) {
    if (before.keyChanges.includes(user)) continue
    const text = `WARNING: ${user} now signs with different keys. Their messages are refused. If they reinstalled, compare safety numbers (/whois ${user}) and /trust ${user}; otherwise someone may be posing as them.`
    host.note(STATUS_KEY, text, "error")
    if (host.buffer(`@${user}`) !== undefined) host.note(`@${user}`, text, "error")
  }
  const usersBefore = new Map(before.users.map((u) => [u.user as string, u]))
  for (const user of after.users) {
    const old = usersBefore.get(user.user)
    if (old !== undefined && old.status !== user.status && user.status !== "unknown") {
      const text = `${user.user} is ${user.status === "online" ? "online" : "offline"}`
      if (host.buffer(`@${user.user}`) !== undefined) host.note(`@${user.user}`, text, "event")
      for (const group of after.groups) {
        if ((group.me === "member" || group.me === "leading") && group.members.includes(user.user)) host.note(`#${group.name}`, text, "event")
      }
    }
    const was = old?.conversation ?? "idle"
    if (was !== user.conversation) noteConversation(host, user, was, after)
  }
  noteWithdrawn(host, before, after)
  noteWithdrawnJoins(host, before, after)
  const groupsBefore = new Map(before.groups.map((g) => [g.name as string, g]))
  for (const group of after.groups) noteGroup(host, groupsBefore.get(group.name) ?? null, group)
  for (const [name, old] of groupsBefore) {
    if (!after.groups.some((g) => g.name === name) && (old.me === "member" || old.me === "leading")) host.noteFor({ kind: "group", group: name }, `#${name} no longer exists`, "event")
  }
}

const noteConversation = (host: NoteHost, user: UserListing, was: UserListing["conversation"], after: ChatSnapshot): void => {
  const peer = user.user
  const target: BufferTarget = { kind: "peer", user: peer }
  const topic = host.topicOf(target)
  switch (user.conversation) {
    case "outgoing":
      host.noteFor(target, `asked ${peer} for a conversation; waiting for an answer (they get it even if offline now)`, "info")
      return
    case "incoming":
      if (host.quiet.has(`@${peer}`)) return
      host.noteFor(target, `${peer} asks for a one-to-one conversation: y / n in the popup, or /accept ${peer}, /refuse ${peer}`, "event")
      host.note(STATUS_KEY, `${peer} asks for a one-to-one conversation (F6: requests)`, "event")
      return
    case "active":
      host.noteFor(target, `${was === "outgoing" ? `${peer} accepted` : "accepted"}: conversation open on topic ${topic ?? "?"}`, "event")
      return
    case "closed": {
      const outcome = after.outcomes[peer] ?? "none"
      const text = outcome === "refused" ? `${peer} refused the conversation`
        : outcome === "refused-by-me" ? `you refused ${peer}'s request`
        : outcome === "timed-out" ? "the request timed out without an answer"
        : outcome === "left" ? "you left the conversation"
        : outcome === "peer-left" ? `${peer} left the conversation`
        : "the conversation ended"
      host.noteFor(target, `${text} — /talk ${peer} to ask again`, "event")
      return
    }
    case "idle":
      return
  }
}

/** A request withdrawn before I answered: the conversation is no more (the core keeps only a tombstone). */
const noteWithdrawn = (host: NoteHost, before: ChatSnapshot, after: ChatSnapshot): void => {
  const now = new Map(after.users.map((u) => [u.user as string, u.conversation]))
  for (const user of before.users) {
    const view = now.get(user.user) ?? "idle"
    if (user.conversation !== "incoming" || view !== "idle" || host.quiet.has(`@${user.user}`)) continue
    host.noteFor({ kind: "peer", user: user.user }, `${user.user} withdrew the request — /talk ${user.user} to ask`, "event")
  }
}

/** Join requests to a group I lead, withdrawn by their requester before I answered. */
const noteWithdrawnJoins = (host: NoteHost, before: ChatSnapshot, after: ChatSnapshot): void => {
  const pendingBefore = new Set(before.requests.filter((r) => r.kind === "group" && r.status === "pending").map((r) => `${r.from} ${r.requestId}`))
  for (const request of after.requests) {
    if (request.kind !== "group" || request.status !== "withdrawn" || request.group === null || !pendingBefore.has(`${request.from} ${request.requestId}`)) continue
    if (host.quiet.has(`#${request.group} ${request.from}`)) continue
    host.noteFor({ kind: "group", group: request.group }, `${request.from} withdrew the request to join #${request.group}`, "event")
  }
}

const noteGroup = (host: NoteHost, old: GroupListing | null, group: GroupListing): void => {
  const target: BufferTarget = { kind: "group", group: group.name }
  const name = `#${group.name}`
  const wasIn = old !== null && (old.me === "member" || old.me === "leading")
  const isIn = group.me === "member" || group.me === "leading"
  const was = old?.me ?? "absent"
  if (was !== group.me) {
    if (group.me === "leading" && (was === "absent" || was === "listed")) host.noteFor(target, `you created ${name} and lead it; others can /join ${group.name}`, "event")
    else if (group.me === "leading") host.noteFor(target, `you now lead ${name}`, "event")
    else if (group.me === "joining") host.noteFor(target, `asked ${group.leader} (the leader) to let you into ${name}`, "info")
    else if (group.me === "member" && was === "joining") host.noteFor(target, `${group.leader} accepted you into ${name} (topic ${topics.groupTalk(group.name)})`, "event")
    else if (group.me === "listed" && was === "joining" && host.withdrawnJoins.delete(group.name)) host.noteFor(target, `you withdrew your request to join ${name}`, "info")
    else if (group.me === "listed" && was === "joining") host.noteFor(target, `your request to join ${name} was refused — /join ${group.name} to ask again`, "event")
    else if (wasIn && !isIn) host.noteFor(target, `you left ${name}`, "event")
  }
  if (wasIn && isIn && old !== null) {
    for (const member of group.members) if (!old.members.includes(member) && member !== host.me) host.noteFor(target, `${member} joined ${name}`, "event")
    for (const member of old.members) if (!group.members.includes(member) && member !== host.me) host.noteFor(target, `${member} left ${name}`, "event")
    if (old.leader !== group.leader && group.leader !== host.me) host.noteFor(target, `${group.leader} now leads ${name}`, "event")
  }
  if (group.me === "leading") {
    for (const user of group.pending) {
      if (old?.pending.includes(user) === true || host.quiet.has(`#${group.name} ${user}`)) continue
      host.noteFor(target, `${user} asks to join ${name}: y / n in the popup, or /accept #${group.name} ${user}`, "event")
      host.note(STATUS_KEY, `${user} asks to join ${name} (F6: requests)`, "event")
    }
  }
}
