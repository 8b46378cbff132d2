/**
 * Membership of ONE group, from this client's side. The leader is the single writer of the group's
 * information (name, leader, members, version); everyone adopts the leader's information with the
 * highest version, so duplicated and reordered traffic changes nothing and every view converges to
 * the leader's once messages are delivered. Only the leader's acceptance adds a member.
 *
 * When the leader leaves, leadership passes to the earliest-joined remaining member (the order of
 * `members`); the last one out dissolves the group and frees its name. Group information is ordered
 * totally (see `compareGroupInfo`), so even two foundings of one name converge. See docs/decisions.
 *
 * The visible state is derived from the context: absent (no such group, or dissolved), listed (known,
 * not a member), joining (my request is pending), member, leading.
 */
import { and, assign, setup } from "xstate"
import type { GroupInfo } from "../wire/messages.ts"
import { MAX_GROUP_MEMBERS } from "../wire/messages.ts"
import { MAX_COUNTER, MAX_STEP } from "../wire/limits.ts"
import { answersRival, buryIfDissolved, compareGroupInfo, rivalDisplaces, sameLineage, shouldAdopt, type Lineage } from "./group-info.ts"

export { answersRival, compareGroupInfo, rivalDisplaces, shouldAdopt, type Lineage } from "./group-info.ts"
import type { UserId } from "../ids.ts"

/** Bound on pending join requests and remembered refusals at the leader. */
export const MAX_PENDING_JOINS = 256

export interface PendingJoin {
  readonly user: UserId
  readonly attempt: number
}

export interface GroupContext {
  readonly me: UserId
  readonly name: string
  readonly info: GroupInfo | null
  /** My latest join attempt (0: never asked). */
  readonly joinAttempt: number
  /** The attempt of mine that the leader refused, if any. */
  readonly refusedAttempt: number
  /** The attempt that ended when I left: it no longer counts as pending. */
  readonly settledAttempt: number
  /**
   * I left and have not asked to join again. Information that still lists me (the leader has not
   * seen my leave yet, or it went to a leader who has since handed over) does not make me a member:
   * I repeat my leave to that information's leader instead.
   */
  readonly leaving: boolean
  /** Leader only: join requests waiting for my decision, oldest first. */
  readonly pending: ReadonlyArray<PendingJoin>
  /** Leader only: the last refused attempt per user, so a duplicated request is not asked again. */
  readonly refused: Readonly<Record<string, number>>
  /**
   * The latest founding of this name I have seen dissolved: information of it, or of any earlier
   * founding, is stale (a copy delayed behind the dissolution) and never adopted again.
   */
  readonly buried: Lineage | null
  /**
   * A later founding of this name that could not take it because the group I hold had lived: when
   * that group dissolves, this one has the name (its founder saw the dissolution before I did — the
   * two may arrive in either order, and a retained founding is not delivered twice).
   */
  readonly waiting: GroupInfo | null
}

export interface GroupInput {
  readonly me: UserId
  readonly name: string
}

export type GroupEvent =
  | { readonly type: "group.create"; readonly info: GroupInfo }
  | { readonly type: "info.receive"; readonly from: UserId; readonly info: GroupInfo }
  | { readonly type: "join.send" }
  | { readonly type: "join.receive"; readonly from: UserId; readonly attempt: number }
  | { readonly type: "join.accept"; readonly user: UserId }
  | { readonly type: "join.refuse"; readonly user: UserId; readonly reason: string }
  | { readonly type: "refuse.receive"; readonly from: UserId; readonly attempt: number }
  | { readonly type: "leave.send" }
  | { readonly type: "leave.receive"; readonly from: UserId }

export type GroupAction =
  | { readonly type: "publish.info"; readonly params: { readonly info: GroupInfo } }
  | { readonly type: "send.join"; readonly params: { readonly leader: UserId; readonly attempt: number } }
  | { readonly type: "send.accept"; readonly params: { readonly to: UserId; readonly attempt: number; readonly info: GroupInfo } }
  | { readonly type: "send.refuse"; readonly params: { readonly to: UserId; readonly attempt: number; readonly reason: string } }
  | { readonly type: "send.leave"; readonly params: { readonly leader: UserId } }
  | { readonly type: "send.refuseAll"; readonly params: { readonly refusals: ReadonlyArray<PendingJoin>; readonly reason: string } }

export type GroupView = "absent" | "listed" | "joining" | "member" | "leading"

export const viewOfGroup = (context: GroupContext): GroupView => {
  const info = context.info
  if (info === null || info.dissolved) return "absent"
  if (info.leader === context.me && !context.leaving) return "leading"
  if (info.members.includes(context.me) && !context.leaving) return "member"
  if (context.joinAttempt > Math.max(context.refusedAttempt, context.settledAttempt)) return "joining"
  return "listed"
}

/** What takes the name when `info` dissolves the group: the founding that was waiting for it, if any. */
const successorOf = (info: GroupInfo, waiting: GroupInfo | null, buried: Lineage | null): GroupInfo | null =>
  info.dissolved && waiting !== null && rivalDisplaces(info, waiting, buried) ? waiting : null

/** The waiting founding once `adopted` is held: gone if `adopted` is it, or a later one. */
const stillWaiting = (waiting: GroupInfo | null, adopted: GroupInfo): GroupInfo | null =>
  waiting === null || sameLineage(waiting, adopted) || compareGroupInfo(waiting, adopted) <= 0 ? null : waiting

/** `rival` as the founding waiting for the name, when it is one (written by its leader, later than what waits). */
const laterWaiting = (context: GroupContext, rival: GroupInfo, from: UserId): GroupInfo | null => {
  const held = context.info
  if (held === null || held.dissolved || rival.dissolved || sameLineage(held, rival) || from !== rival.leader) return context.waiting
  if (compareGroupInfo(rival, held) <= 0 || (context.buried !== null && compareGroupInfo(rival, { ...rival, ...context.buried, version: 0 }) <= 0)) return context.waiting
  if (context.waiting !== null && compareGroupInfo(rival, context.waiting) <= 0) return context.waiting
  return rival
}

const withoutMember = (info: GroupInfo, user: UserId): GroupInfo => {
  const members = info.members.filter((m) => m !== user)
  const leader = info.leader === user ? members[0] : info.leader
  return leader === undefined
    ? { ...info, members: [], version: info.version + 1, dissolved: true }
    : { ...info, leader, members, version: info.version + 1 }
}

const mustHaveInfo = (context: GroupContext): GroupInfo => {
  if (context.info === null) throw new Error(`group invariant: ${context.name} has no information here`)
  return context.info
}

export const groupMachine = setup({
  types: {
    context: {} as GroupContext,
    events: {} as GroupEvent,
    input: {} as GroupInput,
  },
  actions: {
    "publish.info": (_, _params: { info: GroupInfo }) => {},
    "send.join": (_, _params: { leader: UserId; attempt: number }) => {},
    "send.accept": (_, _params: { to: UserId; attempt: number; info: GroupInfo }) => {},
    "send.refuse": (_, _params: { to: UserId; attempt: number; reason: string }) => {},
    "send.leave": (_, _params: { leader: UserId }) => {},
    /** One refusal per pending request: they would wait forever for a leader who left. */
    "send.refuseAll": (_, _params: { refusals: ReadonlyArray<PendingJoin>; reason: string }) => {},
    found: assign(({ context, event }) => {
      if (event.type !== "group.create") throw new Error(`found on ${event.type}`)
      return { info: event.info, leaving: false, pending: [], refused: {}, buried: context.info === null ? context.buried : buryIfDissolved(context.buried, context.info) }
    }),
    adopt: assign(({ context, event }) => {
      if (event.type !== "info.receive") throw new Error(`adopt on ${event.type}`)
      const members = new Set(event.info.members)
      const buried = buryIfDissolved(context.buried, event.info)
      const successor = successorOf(event.info, context.waiting, buried)
      if (successor !== null) return { info: successor, buried, pending: [], waiting: null }
      return {
        info: event.info,
        buried,
        // Requests of users who became members (or whose group dissolved) are no longer pending.
        pending: event.info.dissolved ? [] : context.pending.filter((p) => !members.has(p.user)),
        waiting: stillWaiting(context.waiting, event.info),
      }
    }),
    // Past any refused attempt, also one I never made (a join forged in my name and refused).
    askToJoin: assign(({ context }) => ({ joinAttempt: Math.max(context.joinAttempt, context.refusedAttempt) + 1, leaving: false })),
    recordPending: assign(({ context, event }) => {
      if (event.type !== "join.receive") throw new Error(`recordPending on ${event.type}`)
      const others = context.pending.filter((p) => p.user !== event.from)
      return { pending: [...others, { user: event.from, attempt: event.attempt }].slice(-MAX_PENDING_JOINS) }
    }),
    admit: assign(({ context, event }) => {
      if (event.type !== "join.accept") throw new Error(`admit on ${event.type}`)
      const info = mustHaveInfo(context)
      return {
        info: { ...info, members: [...info.members, event.user], version: info.version + 1 },
        pending: context.pending.filter((p) => p.user !== event.user),
      }
    }),
    reject: assign(({ context, event }) => {
      if (event.type !== "join.refuse") throw new Error(`reject on ${event.type}`)
      const request = context.pending.find((p) => p.user === event.user)
      if (request === undefined) throw new Error("reject without a pending request")
      const refused = Object.fromEntries(
        [...Object.entries(context.refused).filter(([user]) => user !== event.user), [event.user, request.attempt] as const].slice(-MAX_PENDING_JOINS),
      )
      return { pending: context.pending.filter((p) => p.user !== event.user), refused }
    }),
    recordRefusal: assign(({ event }) => {
      if (event.type !== "refuse.receive") throw new Error(`recordRefusal on ${event.type}`)
      return { refusedAttempt: event.attempt }
    }),
    removeMember: assign(({ context, event }) => {
      if (event.type !== "leave.receive") throw new Error(`removeMember on ${event.type}`)
      return { info: withoutMember(mustHaveInfo(context), event.from), pending: context.pending.filter((p) => p.user !== event.from) }
    }),
    leaveAsMember: assign(({ context }) => ({ leaving: true, settledAttempt: context.joinAttempt })),
    /**
     * Leader: the requester withdrew its pending join (a group.leave before it was let in). Its
     * attempt counts as answered, like a refused one, so a late copy of it is not asked again.
     */
    withdrawPending: assign(({ context, event }) => {
      if (event.type !== "leave.receive") throw new Error(`withdrawPending on ${event.type}`)
      const request = context.pending.find((p) => p.user === event.from)
      if (request === undefined) throw new Error("withdrawPending without a pending request")
      const refused = Object.fromEntries(
        [...Object.entries(context.refused).filter(([user]) => user !== event.from), [event.from, request.attempt] as const].slice(-MAX_PENDING_JOINS),
      )
      return { pending: context.pending.filter((p) => p.user !== event.from), refused }
    }),
    /** The leader leaves: hand over to the earliest member, or dissolve when alone. */
    leaveAsLeader: assign(({ context }) => {
      const info = withoutMember(mustHaveInfo(context), context.me)
      const buried = buryIfDissolved(context.buried, info)
      return { info: successorOf(info, context.waiting, buried) ?? info, leaving: true, pending: [], settledAttempt: context.joinAttempt, buried, waiting: null }
    }),
    /** A rival founding refused because my group lived: kept for when my group dissolves. */
    keepWaiting: assign(({ context, event }) => {
      if (event.type !== "info.receive") throw new Error(`keepWaiting on ${event.type}`)
      return { waiting: laterWaiting(context, event.info, event.from) }
    }),
    /** I was named leader after I left: pass it on to the next member (or dissolve). */
    handOverAgain: assign(({ context }) => {
      const info = withoutMember(mustHaveInfo(context), context.me)
      return { info, pending: [], buried: buryIfDissolved(context.buried, info) }
    }),
    /** Information of my group in my name with a version I never reached: mine goes above it. */
    outbid: assign(({ context, event }) => {
      if (event.type !== "info.receive") throw new Error(`outbid on ${event.type}`)
      return { info: { ...mustHaveInfo(context), version: event.info.version + 1 } }
    }),
    /** Leadership was handed to me by information the old leader published: publish it as mine. */
    takeOverLeadership: assign(({ context }) => {
      const info = mustHaveInfo(context)
      return { info: { ...info, version: info.version + 1 } }
    }),
  },
  guards: {
    canFound: ({ context }) => viewOfGroup(context) === "absent",
    isAdoptable: ({ context, event }) => event.type === "info.receive" && shouldAdopt(context.info, event.info, event.from, context.buried),
    /** Information naming me leader that I did not publish: the previous leader handed over. */
    isHandoverToMe: ({ context, event }) =>
      event.type === "info.receive" && event.info.leader === context.me && event.from !== context.me && !event.info.dissolved &&
      shouldAdopt(context.info, event.info, event.from, context.buried),
    /** My group's information "from me" with a version I never published: written in my name. */
    isForgedInMyName: ({ context, event }) =>
      event.type === "info.receive" && event.from === context.me && viewOfGroup(context) === "leading" && context.info !== null &&
      sameLineage(context.info, event.info) && event.info.version > context.info.version && event.info.version < MAX_COUNTER,
    isLeading: ({ context }) => viewOfGroup(context) === "leading",
    isMember: ({ context }) => viewOfGroup(context) === "member",
    isJoining: ({ context }) => viewOfGroup(context) === "joining",
    isListed: ({ context }) => viewOfGroup(context) === "listed",
    requesterIsMember: ({ context, event }) => event.type === "join.receive" && (context.info?.members.includes(event.from) ?? false),
    isNewJoinRequest: ({ context, event }) => {
      if (event.type !== "join.receive") return false
      const refusedAttempt = context.refused[event.from] ?? 0
      const pending = context.pending.find((p) => p.user === event.from)
      return event.attempt > refusedAttempt && (pending === undefined || event.attempt > pending.attempt) &&
        (pending !== undefined || context.pending.length < MAX_PENDING_JOINS)
    },
    hasPendingFrom: ({ context, event }) =>
      (event.type === "join.accept" || event.type === "join.refuse") && context.pending.some((p) => p.user === event.user),
    hasRoom: ({ context }) => (context.info?.members.length ?? 0) < MAX_GROUP_MEMBERS,
    // My latest attempt, or one beyond it that someone made in my name: the leader now ignores
    // anything of mine up to it, so my next request goes past it (askToJoin).
    isRefusalOfMyAttempt: ({ context, event }) =>
      event.type === "refuse.receive" && event.attempt >= context.joinAttempt && event.attempt - context.joinAttempt <= MAX_STEP &&
      event.attempt > context.refusedAttempt,
    isLeaveOfMember: ({ context, event }) =>
      event.type === "leave.receive" && event.from !== context.me && (context.info?.members.includes(event.from) ?? false),
    isWithdrawalOfPending: ({ context, event }) =>
      event.type === "leave.receive" && event.from !== context.me && context.pending.some((p) => p.user === event.from),
  },
}).createMachine({
  id: "group",
  context: ({ input }) => ({
    me: input.me,
    name: input.name,
    info: null,
    joinAttempt: 0,
    refusedAttempt: 0,
    settledAttempt: 0,
    leaving: false,
    pending: [],
    refused: {},
    buried: null,
    waiting: null,
  }),
  initial: "settling",
  on: {
    "info.receive": [
      { guard: "isForgedInMyName", actions: ["outbid", { type: "publish.info", params: ({ context }) => ({ info: mustHaveInfo(context) }) }] },
      {
        // Handed the lead while my own leave was on its way: I leave as leader in turn.
        guard: ({ context, event }) =>
          event.type === "info.receive" && context.leaving && event.info.leader === context.me && !event.info.dissolved &&
          shouldAdopt(context.info, event.info, event.from, context.buried),
        target: ".settling",
        actions: ["adopt", "handOverAgain", { type: "publish.info", params: ({ context }) => ({ info: mustHaveInfo(context) }) }],
      },
      {
        guard: "isHandoverToMe",
        target: ".settling",
        actions: ["adopt", "takeOverLeadership", { type: "publish.info", params: ({ context }) => ({ info: mustHaveInfo(context) }) }],
      },
      {
        guard: ({ context, event }) => event.type === "info.receive" && context.leaving && event.info.members.includes(context.me) && shouldAdopt(context.info, event.info, event.from, context.buried),
        target: ".settling",
        actions: ["adopt", { type: "send.leave", params: ({ context }) => ({ leader: mustHaveInfo(context).leader }) }],
      },
      { guard: "isAdoptable", target: ".settling", actions: "adopt" },
      {
        guard: ({ context, event }) => event.type === "info.receive" && viewOfGroup(context) !== "leading" && laterWaiting(context, event.info, event.from) !== context.waiting,
        actions: "keepWaiting",
      },
      {
        // A founding of my group's name that does not take it was published (it is now the retained
        // copy): publish mine again, so clients that subscribe later see mine. Not against a rival
        // that lived as well (neither gives way): the two leaders would answer each other for ever.
        guard: ({ context, event }) =>
          event.type === "info.receive" && viewOfGroup(context) === "leading" && context.info !== null &&
          event.info.name === context.info.name && !sameLineage(context.info, event.info) &&
          !shouldAdopt(context.info, event.info, event.from, context.buried) && answersRival(context.info, event.info),
        actions: ["keepWaiting", { type: "publish.info", params: ({ context }) => ({ info: mustHaveInfo(context) }) }],
      },
    ],
    "refuse.receive": { guard: "isRefusalOfMyAttempt", target: ".settling", actions: "recordRefusal" },
  },
  states: {
    /** Transient: routes to the state the context means. */
    settling: {
      always: [
        { guard: "isLeading", target: "leading" },
        { guard: "isMember", target: "member" },
        { guard: "isJoining", target: "joining" },
        { guard: "isListed", target: "listed" },
        { target: "absent" },
      ],
    },
    absent: {
      on: {
        "group.create": {
          guard: "canFound",
          target: "settling",
          actions: ["found", { type: "publish.info", params: ({ context }) => ({ info: mustHaveInfo(context) }) }],
        },
      },
    },
    listed: {
      on: {
        "join.send": {
          target: "settling",
          actions: ["askToJoin", { type: "send.join", params: ({ context }) => ({ leader: mustHaveInfo(context).leader, attempt: context.joinAttempt }) }],
        },
        // Someone asks me, but I do not lead (any more): say so instead of leaving them waiting.
        "join.receive": {
          actions: { type: "send.refuse", params: ({ event }) => ({ to: event.from, attempt: event.attempt, reason: "not the leader" }) },
        },
      },
    },
    joining: {
      on: {
        // Asking again re-sends the same attempt: the leader ignores the duplicate.
        "join.send": {
          actions: { type: "send.join", params: ({ context }) => ({ leader: mustHaveInfo(context).leader, attempt: context.joinAttempt }) },
        },
        // Withdrawing the request: the leader is told with a leave; if its acceptance crosses it,
        // I am `leaving`, so the information that lists me makes me repeat the leave, not a member.
        "leave.send": {
          target: "settling",
          actions: [{ type: "send.leave", params: ({ context }) => ({ leader: mustHaveInfo(context).leader }) }, "leaveAsMember"],
        },
      },
    },
    member: {
      on: {
        "leave.send": {
          target: "settling",
          actions: [{ type: "send.leave", params: ({ context }) => ({ leader: mustHaveInfo(context).leader }) }, "leaveAsMember"],
        },
        "join.receive": {
          actions: { type: "send.refuse", params: ({ event }) => ({ to: event.from, attempt: event.attempt, reason: "not the leader" }) },
        },
      },
    },
    leading: {
      on: {
        "join.receive": [
          // Already a member (my acceptance was lost or duplicated): acknowledge again.
          {
            guard: "requesterIsMember",
            actions: { type: "send.accept", params: ({ context, event }) => ({ to: event.from, attempt: event.attempt, info: mustHaveInfo(context) }) },
          },
          { guard: "isNewJoinRequest", actions: "recordPending" },
        ],
        "join.accept": {
          guard: and(["hasPendingFrom", "hasRoom"]),
          target: "settling",
          // The information goes out BEFORE the acceptance: the broker then queues it for every member
          // before the new member can even learn it was accepted, let alone write to the group.
          actions: [
            { type: "publish.info", params: ({ context, event }) => ({ info: admitted(context, event.user) }) },
            { type: "send.accept", params: ({ context, event }) => ({ to: event.user, attempt: context.pending.find((p) => p.user === event.user)?.attempt ?? 0, info: admitted(context, event.user) }) },
            "admit",
          ],
        },
        "join.refuse": {
          guard: "hasPendingFrom",
          actions: [
            { type: "send.refuse", params: ({ context, event }) => ({ to: event.user, attempt: context.pending.find((p) => p.user === event.user)?.attempt ?? 0, reason: event.reason }) },
            "reject",
          ],
        },
        "leave.receive": [
          {
            guard: "isLeaveOfMember",
            target: "settling",
            actions: ["removeMember", { type: "publish.info", params: ({ context }) => ({ info: mustHaveInfo(context) }) }],
          },
          { guard: "isWithdrawalOfPending", actions: "withdrawPending" },
        ],
        "leave.send": {
          target: "settling",
          actions: [
            // The next leader never saw the pending requests: answer them now.
            { type: "send.refuseAll", params: ({ context }) => ({ refusals: context.pending, reason: "the leader left; ask the new leader" }) },
            "leaveAsLeader",
            { type: "publish.info", params: ({ context }) => ({ info: mustHaveInfo(context) }) },
          ],
        },
      },
    },
  },
})

/** The information after admitting `user`, computed before `admit` runs so the acceptance carries it. */
const admitted = (context: GroupContext, user: UserId): GroupInfo => {
  const info = mustHaveInfo(context)
  return { ...info, members: [...info.members, user], version: info.version + 1 }
}
