/**
 * What the virtual users do: each command is chosen the way a person at the keyboard would, from
 * what that user's own state shows (answer a pending request, write in an active conversation,
 * accept someone who asked to join my group), with a share of blind commands aimed at a random
 * peer or group, so the rejection paths run too. Someone who wants to write and has nobody to
 * write to asks for a conversation or a group first, as a person would: most commands succeed.
 * Every choice draws from the one seeded source.
 */
import { conversationView, groupView, type ChatState } from "../../domain/chat/chat-state.ts"
import type { Command } from "../../domain/chat/decide.ts"
import type { GroupName, UserId } from "../../domain/ids.ts"

export type Random = () => number

/** A uniform integer in [0, bound). */
export const randomBelow = (random: Random, bound: number): number => Math.floor(random() * bound)

export const pickOne = <A>(random: Random, items: ReadonlyArray<A>): A | undefined =>
  items.length === 0 ? undefined : items[randomBelow(random, items.length)]

/** Picks a key with probability proportional to its weight. Weights are positive and fixed. */
export const pickWeighted = <K extends string>(random: Random, weights: Readonly<Record<K, number>>): K => {
  const entries = Object.entries(weights) as Array<[K, number]>
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0)
  let roll = random() * total
  for (const [key, weight] of entries) {
    roll -= weight
    if (roll < 0) return key
  }
  return entries[entries.length - 1]![0]
}

/**
 * How often each kind of command is typed. Chat text dominates, as in real use; the protocol
 * commands are frequent enough that conversations and groups keep opening and closing.
 */
export const COMMAND_WEIGHTS = {
  "message.peer": 30,
  "message.group": 15,
  "conversation.request": 10,
  "conversation.accept": 8,
  "conversation.refuse": 3,
  "conversation.leave": 3,
  "group.create": 3,
  "group.join": 6,
  "group.accept": 6,
  "group.refuse": 2,
  "group.leave": 2,
} as const
export type CommandKind = keyof typeof COMMAND_WEIGHTS

/** Share of commands aimed blindly at a random peer or group instead of one the state suggests. */
export const BLIND_COMMAND_PROBABILITY = 0.1
/**
 * A request waiting for me is answered before anything else this often (the chat shows it in a
 * popup); answers are mostly yes, so conversations open and groups grow.
 */
export const ANSWER_PENDING_PROBABILITY = 0.9
export const ANSWER_YES_PROBABILITY = 0.9
/** A message sent is followed by up to this many more in the same conversation (people write in bursts). */
export const BURST_MAX = 6

/** A few groups per handful of users, so names are contended (two founders, re-creation after dissolving). */
export const groupNamesFor = (users: number): ReadonlyArray<GroupName> => {
  const count = Math.min(50, Math.max(2, Math.ceil(users / 5)))
  return Array.from({ length: count }, (_, i) => `room-${i + 1}` as GroupName)
}

/**
 * Chat text of every kind the terminal must survive: plain, accented, wide, emoji, and hostile
 * (an escape sequence, a bidi override) — the replay tool and the UI must show them inert.
 */
const TEXTS: ReadonlyArray<string> = [
  "hello",
  "are you there?",
  "ça va, à demain",
  "会议在三点",
  "ok 👍",
  "see the \u001b[31mred\u001b[0m text",
  "abc\u202edcba",
  "a longer message that goes on for a while, the way people sometimes write when they explain something",
]

export const messageText = (counter: number): string => `${TEXTS[counter % TEXTS.length]} #${counter}`

const peersWhere = (state: ChatState, wanted: ReadonlyArray<string>): ReadonlyArray<UserId> =>
  ([...state.conversations.keys()] as Array<UserId>).filter((peer) => wanted.includes(conversationView(state, peer)))

const groupsWhere = (state: ChatState, wanted: ReadonlyArray<string>): ReadonlyArray<GroupName> =>
  ([...state.groups.keys()] as Array<GroupName>).filter((group) => wanted.includes(groupView(state, group)))

/** Join requests waiting for me, in groups I lead. */
const pendingJoins = (state: ChatState): ReadonlyArray<{ readonly group: GroupName; readonly user: UserId }> =>
  groupsWhere(state, ["leading"]).flatMap((group) => (state.groups.get(group)?.context.pending ?? []).map((p) => ({ group, user: p.user })))

/** An answer to a pending conversation request or join request, when the user takes one up. */
const answerPending = (random: Random, state: ChatState): CommandChoice | undefined => {
  const incoming = peersWhere(state, ["incoming"])
  const joins = pendingJoins(state)
  if ((incoming.length === 0 && joins.length === 0) || random() >= ANSWER_PENDING_PROBABILITY) return undefined
  const yes = random() < ANSWER_YES_PROBABILITY
  const peer = pickOne(random, incoming)
  if (peer !== undefined) {
    return yes
      ? { kind: "conversation.accept", command: { _tag: "conversation.accept", peer } }
      : { kind: "conversation.refuse", command: { _tag: "conversation.refuse", peer, reason: "not now" } }
  }
  const join = pickOne(random, joins)!
  return yes
    ? { kind: "group.accept", command: { _tag: "group.accept", group: join.group, user: join.user } }
    : { kind: "group.refuse", command: { _tag: "group.refuse", group: join.group, user: join.user, reason: "full" } }
}

/** What a person who meant `kind` does when its state offers nothing for it (nobody to write to, no group). */
const sensible = (kind: CommandKind, state: ChatState, groups: ReadonlyArray<GroupName>): CommandKind => {
  const has = (wanted: ReadonlyArray<string>) => peersWhere(state, wanted).length > 0
  const inGroups = groupsWhere(state, ["member", "leading"]).length > 0
  switch (kind) {
    case "message.peer":
    case "conversation.leave":
      return has(["active"]) ? kind : has(["outgoing"]) ? "message.group" : "conversation.request"
    case "conversation.accept":
    case "conversation.refuse":
      return has(["incoming"]) ? kind : "message.peer"
    case "message.group":
    case "group.leave":
      return inGroups ? kind : groupsWhere(state, ["listed"]).length > 0 ? "group.join" : "group.create"
    case "group.join":
      return groupsWhere(state, ["listed"]).length > 0 ? kind : inGroups ? "message.group" : "group.create"
    case "group.create":
      return groups.some((group) => groupView(state, group) === "absent") ? kind : "group.join"
    case "group.accept":
    case "group.refuse":
      return pendingJoins(state).length > 0 ? kind : "message.group"
    case "conversation.request":
      return kind
  }
}

export interface CommandChoice {
  readonly kind: CommandKind
  readonly command: Command
}

/**
 * The next command of `me`. `others` are the users it could name; `textCounter` numbers the texts
 * so every message is distinct.
 */
export const chooseCommand = (
  random: Random,
  me: UserId,
  state: ChatState,
  others: ReadonlyArray<UserId>,
  groups: ReadonlyArray<GroupName>,
  textCounter: number,
): CommandChoice => {
  const answer = answerPending(random, state)
  if (answer !== undefined) return answer
  const blind = random() < BLIND_COMMAND_PROBABILITY
  const kind = blind ? pickWeighted(random, COMMAND_WEIGHTS) : sensible(pickWeighted(random, COMMAND_WEIGHTS), state, groups)
  const anyPeer = (): UserId => pickOne(random, others) ?? me
  const anyGroup = (): GroupName => pickOne(random, groups)!
  /** A target the state suggests, or (blind, or nothing suggested) any. */
  const peerFrom = (candidates: ReadonlyArray<UserId>): UserId => (blind ? undefined : pickOne(random, candidates)) ?? anyPeer()
  const groupFrom = (candidates: ReadonlyArray<GroupName>): GroupName => (blind ? undefined : pickOne(random, candidates)) ?? anyGroup()
  const text = messageText(textCounter)

  const command = ((): Command => {
    switch (kind) {
      case "message.peer":
        return { _tag: "message.send", target: { _tag: "peer", peer: peerFrom(peersWhere(state, ["active"])) }, text }
      case "message.group":
        return { _tag: "message.send", target: { _tag: "group", group: groupFrom(groupsWhere(state, ["member", "leading"])) }, text }
      case "conversation.request":
        return { _tag: "conversation.request", peer: peerFrom(others.filter((peer) => !["active", "outgoing"].includes(conversationView(state, peer)))) }
      case "conversation.accept":
        return { _tag: "conversation.accept", peer: peerFrom(peersWhere(state, ["incoming"])) }
      case "conversation.refuse":
        return { _tag: "conversation.refuse", peer: peerFrom(peersWhere(state, ["incoming"])), reason: "not now" }
      case "conversation.leave":
        return { _tag: "conversation.leave", peer: peerFrom(peersWhere(state, ["active", "outgoing"])) }
      case "group.create":
        return { _tag: "group.create", group: groupFrom(groups.filter((group) => groupView(state, group) === "absent")) }
      case "group.join":
        return { _tag: "group.join", group: groupFrom(groupsWhere(state, ["listed"])) }
      case "group.accept":
      case "group.refuse": {
        const join = blind ? undefined : pickOne(random, pendingJoins(state))
        const group = join?.group ?? anyGroup()
        const user = join?.user ?? anyPeer()
        return kind === "group.accept" ? { _tag: "group.accept", group, user } : { _tag: "group.refuse", group, user, reason: "full" }
      }
      case "group.leave":
        return { _tag: "group.leave", group: groupFrom(groupsWhere(state, ["member", "leading"])) }
    }
  })()
  return { kind, command }
}
