/**
 * Retained copies this client owns: its presence (`global_control/presence/<me>`) and the
 * information of every group it leads (`global_control/groups/NAME`). Anyone can clear a retained
 * topic (an empty payload) or overwrite it with junk; whoever subscribes afterwards would miss the
 * user or the group. Subscribers already holding them drop the junk with a reason and keep what
 * they know. The owner keeps the last good copy — its own state — and publishes it again: on every
 * connection (the damage may have happened while it was away), and as soon as a message on one of
 * those topics leaves the broker's copy wrong (`spoilsMyRetained`). Not logged: a repair that is
 * lost is made again at the next connection.
 *
 * A valid rival founding of a group's name is decided by the group machine (group.machine.ts,
 * `rivalDisplaces`), which publishes mine again, logged, when the rival's holders give way
 * (`answersRival`). A rival that lived as well gives way to nobody: that one is repaired here, at
 * the service's rate (once a second), so two such leaders answer each other at that rate, not in
 * a storm and not in the log.
 */
import { parseTopic, type GroupName } from "../ids.ts"
import type { Envelope, GroupInfo } from "../wire/messages.ts"
import { answersRival, shouldAdopt } from "../group/group.machine.ts"
import { groupView, type ChatState } from "./chat-state.ts"

export type RetainedOwner = { readonly kind: "presence" } | { readonly kind: "group"; readonly group: GroupName }

/** My presence as the current connection announced it; null while not connected (my Will is then right). */
export interface PresencePosition {
  readonly session: number
  readonly connection: number
}

const sameInfo = (a: GroupInfo, b: GroupInfo): boolean =>
  a.name === b.name && a.leader === b.leader && a.version === b.version && a.foundedClock === b.foundedClock && a.foundedBy === b.foundedBy &&
  a.dissolved === b.dissolved && a.members.length === b.members.length && a.members.every((m, i) => m === b.members[i])

/**
 * Whether `env` (null when the payload did not decode) arriving on `topic` leaves the broker's
 * retained copy of something I own other than what I last published: then, what to publish again.
 */
export const spoilsMyRetained = (state: ChatState, topic: string, env: Envelope | null, presence: PresencePosition | null): RetainedOwner | null => {
  const me = state.me
  if (me === null) return null
  const where = parseTopic(topic)
  if (where.kind === "presence" && where.user === me) {
    if (presence === null) return null
    const body = env?.body
    const mine = env?.from === me && body?._tag === "presence" && body.status === "online" && body.session === presence.session && body.connection === presence.connection
    return mine ? null : { kind: "presence" }
  }
  if (where.kind !== "groupInfo" || groupView(state, where.group) !== "leading") return null
  const held = state.groups.get(where.group)?.context.info
  if (held === null || held === undefined) return null
  const owner: RetainedOwner = { kind: "group", group: where.group }
  if (env === null || env.body._tag !== "group.info" || env.body.info.name !== where.group) return owner
  const info = env.body.info
  const context = state.groups.get(where.group)!.context
  if (info.foundedBy !== held.foundedBy || info.foundedClock !== held.foundedClock) {
    // Another founding. If it takes the name, I no longer lead (nothing to repair); if the group
    // machine answers it, that is logged; otherwise (a rival that lived too) the copy is repaired here.
    return shouldAdopt(held, info, env.from, context.buried) || answersRival(held, info) ? null : owner
  }
  // Above my version in my name: the machine outbids it.
  if (info.version > held.version) return null
  return env.from === me && sameInfo(info, held) ? null : owner
}

/** The groups I lead: their information is published again on every connection. */
export const ledGroups = (state: ChatState): ReadonlyArray<GroupName> =>
  [...state.groups.keys()].filter((name) => groupView(state, name as GroupName) === "leading") as GroupName[]
