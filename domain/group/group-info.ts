/**
 * Which group information wins: the order within one founding (a lineage), the rules between two
 * foundings of one name (`rivalDisplaces`), and who may write it (`shouldAdopt`). Pure functions of
 * the information; the group machine (group.machine.ts) applies them.
 */
import type { UserId } from "../ids.ts"
import type { GroupInfo } from "../wire/messages.ts"

/** A founding of a name: its Lamport clock and its founder. */
export interface Lineage {
  readonly foundedClock: number
  readonly foundedBy: UserId
}

export const sameLineage = (a: GroupInfo, b: GroupInfo): boolean => a.foundedBy === b.foundedBy && a.foundedClock === b.foundedClock

const compareLineage = (a: Lineage, b: Lineage): number =>
  a.foundedClock !== b.foundedClock ? a.foundedClock - b.foundedClock : a.foundedBy === b.foundedBy ? 0 : a.foundedBy < b.foundedBy ? -1 : 1

/** `buried`, moved on to `info`'s founding if `info` is a dissolution. */
export const buryIfDissolved = (buried: Lineage | null, info: GroupInfo): Lineage | null =>
  !info.dissolved || (buried !== null && compareLineage(buried, info) >= 0) ? buried : { foundedClock: info.foundedClock, foundedBy: info.foundedBy }

/** Nothing happened in the group since it was founded: nobody joined or left, no handover. */
const isFresh = (info: GroupInfo): boolean => info.version <= 1

/**
 * A total order on group information: founding (Lamport clock, then founder), then version. Every
 * client adopts the greatest it has seen, so all views converge whatever the delivery order. A later
 * founding wins a name: whoever re-creates a dissolved group has seen the dissolution, so its clock
 * is higher; two truly simultaneous foundings resolve the same way everywhere.
 */
export const compareGroupInfo = (a: GroupInfo, b: GroupInfo): number => {
  if (a.foundedClock !== b.foundedClock) return a.foundedClock - b.foundedClock
  if (a.foundedBy !== b.foundedBy) return a.foundedBy < b.foundedBy ? -1 : 1
  return a.version - b.version
}

/**
 * Whether a founding `rival` takes the name from the founding `held` (another lineage). Every
 * field of a founding is the founder's claim, and a clock can always be claimed later (or earlier),
 * so no order on claims alone is fair. What is: a group that has lived keeps its name.
 *
 * - Information of a founding I have seen dissolved, or of an earlier one, is stale: never.
 * - A dissolved name is taken by a later founding (its founder saw the tombstone: its clock is higher).
 * - A dissolution never erases a live group of another founding.
 * - A group in which something happened (version > 1: someone joined or left) is never displaced.
 * - A fresh group (version 1) gives way to a later founding (the later Lamport clock, then the
 *   greater founder), everywhere alike: two users who created one name at once, before anyone
 *   joined, end in one group.
 *
 * A fresh group (nobody joined yet) can still be taken by a later founding: docs/protocol.md, Known gaps.
 */
export const rivalDisplaces = (held: GroupInfo, rival: GroupInfo, buried: Lineage | null = null): boolean => {
  if (buried !== null && compareLineage(rival, buried) <= 0) return false
  if (held.dissolved) return compareGroupInfo(rival, held) > 0
  if (rival.dissolved || !isFresh(held)) return false
  return compareGroupInfo(rival, held) > 0
}

/**
 * Whether the leader of `mine` answers the rival founding `rival` (which did not take the name) by
 * publishing its information again, logged: only when the rival's holders give way to mine or it
 * has no leader left to answer back (a dissolution, a fresh founding). Against a rival that lived as
 * well, neither gives way: the service repairs the retained copy instead, at most once a second
 * (domain/chat/retained.ts), so two such leaders cannot answer each other without bound.
 */
export const answersRival = (mine: GroupInfo, rival: GroupInfo): boolean => rival.dissolved || isFresh(rival) || rivalDisplaces(rival, mine)

/**
 * Whether `incoming`, published by `from`, replaces what we know. Only a leader writes: the leader
 * the information names, or (handing over, or dissolving) the current leader of the same group.
 */
export const shouldAdopt = (current: GroupInfo | null, incoming: GroupInfo, from: UserId, buried: Lineage | null = null): boolean => {
  if (buried !== null && compareLineage(incoming, buried) < 0) return false
  if (current === null) return from === incoming.leader
  if (incoming.name !== current.name) return false
  // Within one group only its current leader writes: information naming itself, or handing over
  // (naming a successor, itself no longer a member). A different founding is written by the leader
  // it names.
  const authorised = sameLineage(current, incoming)
    ? (from === current.leader && (incoming.leader === from || !incoming.members.includes(from))) ||
      // A leader handed the lead to while I was away (I missed the handover): one of the members
      // I know, publishing itself as leader. Without signatures members are trusted this far.
      (from === incoming.leader && current.members.includes(from))
    : from === incoming.leader && rivalDisplaces(current, incoming, buried)
  return authorised && (sameLineage(current, incoming) ? compareGroupInfo(incoming, current) > 0 : true)
}
