/**
 * One-to-one negotiation with ONE peer, from this client's side.
 *
 * Each side owns a small "stance" — do I want to talk to you, as of my attempt number N? — and
 * every negotiation message (request, accept, refuse, leave) carries the sender's latest stance.
 * Each side keeps the peer's stance with the highest attempt number seen, so duplicated and
 * reordered messages change nothing. The visible state is a pure function of the two stances:
 *
 *   active   — both want to talk
 *   outgoing — I asked, the peer has not answered
 *   incoming — the peer asked, I have not answered
 *   closed   — neither wants (after a refusal, a timeout or a leave); idle before any of it
 *
 * Once every message is delivered both sides hold the same two stances, so they agree: both active
 * on the pair's topic (a function of the two ids), or neither. Crossed requests are two stances that
 * both want: ONE conversation. An acceptance is conditional ("yes, if you still want"), so accepting
 * a request that meanwhile timed out opens nothing and does not turn into a request of its own.
 *
 * The machine does no I/O: the `send.stance` action comes back as data from `transition` and the
 * shell publishes it.
 */
import { and, assign, setup } from "xstate"
import { MAX_COUNTER, MAX_STEP } from "../wire/limits.ts"

/** A side's position. `attempt` grows by one at each change of mind; the highest attempt wins. */
export interface Stance {
  readonly attempt: number
  readonly wants: boolean
  /** An acceptance: wants only while the other side still wants. */
  readonly conditional: boolean
  /**
   * The peer's attempt this stance ends: a refusal of their request, or a leave (which consumes the
   * request that opened the conversation, so neither side is left "asking").
   */
  readonly refuses: number | null
}

export const NO_STANCE: Stance = { attempt: 0, wants: false, conditional: false, refuses: null }

export type StanceKind = "request" | "accept" | "refuse" | "leave"

export interface ConversationContext {
  readonly peer: string
  readonly topic: string
  readonly mine: Stance
  readonly theirs: Stance
  /** How the last attempt ended, for the UI. */
  readonly lastOutcome: "none" | "refused" | "refused-by-me" | "timed-out" | "left" | "peer-left"
}

export interface ConversationInput {
  readonly peer: string
  readonly topic: string
}

export type ConversationEvent =
  | { readonly type: "request.send" }
  | { readonly type: "accept.send" }
  | { readonly type: "refuse.send" }
  | { readonly type: "leave.send" }
  /** My own request, or my pending answer to theirs, expired. */
  | { readonly type: "timeout" }
  | { readonly type: "stance.receive"; readonly stance: Stance }

export type ConversationAction = {
  readonly type: "send.stance"
  readonly params: { readonly kind: StanceKind; readonly stance: Stance }
}

export type ConversationView = "idle" | "outgoing" | "incoming" | "active" | "closed"

/** The whole negotiation in one pure function: what both stances mean together. */
export const viewOf = (mine: Stance, theirs: Stance): ConversationView => {
  // An acceptance the other side has since ended (by leaving) no longer counts as wanting.
  const ended = mine.refuses === theirs.attempt || theirs.refuses === mine.attempt
  if (mine.wants && theirs.wants && !ended) return "active"
  const iAsk = mine.wants && !mine.conditional && theirs.refuses !== mine.attempt
  const theyAsk = theirs.wants && !theirs.conditional && mine.refuses !== theirs.attempt
  if (iAsk) return "outgoing"
  if (theyAsk) return "incoming"
  return mine.attempt === 0 && theirs.attempt === 0 ? "idle" : "closed"
}

const next = (current: Stance, change: Omit<Stance, "attempt">): Stance => ({ attempt: current.attempt + 1, ...change })

/** The message that carries a stance as it stands (re-sent when the peer holds a wrong idea of mine). */
const kindOf = (stance: Stance): StanceKind => (stance.wants ? (stance.conditional ? "accept" : "request") : "leave")

export const conversationMachine = setup({
  types: {
    context: {} as ConversationContext,
    events: {} as ConversationEvent,
    input: {} as ConversationInput,
  },
  actions: {
    "send.stance": (_, _params: { kind: StanceKind; stance: Stance }) => {},
    ask: assign(({ context }) => ({
      // Asking again after I left keeps the peer's ended acceptance ended: the peer is asked anew.
      // After the peer left, the request names that leave: ending a stance that does not want
      // changes nothing, but a peer who never made that attempt learns that someone spoke in its
      // name, and goes past it (passTheirBelief).
      mine: next(context.mine, {
        wants: true,
        conditional: false,
        refuses: context.mine.refuses === context.theirs.attempt || (!context.theirs.wants && context.theirs.attempt > 0) ? context.theirs.attempt : null,
      }),
    })),
    acceptTheirs: assign(({ context }) => ({ mine: next(context.mine, { wants: true, conditional: true, refuses: null }) })),
    refuseTheirs: assign(({ context }) => ({
      mine: next(context.mine, { wants: false, conditional: false, refuses: context.theirs.attempt }),
    })),
    withdraw: assign(({ context }) => ({
      mine: next(context.mine, { wants: false, conditional: false, refuses: context.theirs.attempt > 0 ? context.theirs.attempt : null }),
    })),
    recordTheirs: assign(({ context, event }) => {
      if (event.type !== "stance.receive") throw new Error(`recordTheirs on ${event.type}`)
      const before = viewOf(context.mine, context.theirs)
      const after = viewOf(context.mine, event.stance)
      const ended = after === "closed" && before !== "closed"
      const refused = before === "outgoing" && event.stance.refuses === context.mine.attempt
      return {
        theirs: event.stance,
        lastOutcome: ended ? (refused ? "refused" : "peer-left") : context.lastOutcome,
      }
    }),
    outcome: assign((_, params: { outcome: ConversationContext["lastOutcome"] }) => ({ lastOutcome: params.outcome })),
    /**
     * The peer's stance names an attempt of mine that I never made: someone spoke in my name (a
     * forged leave the peer believed). My next attempt goes past it, so the peer hears me again.
     */
    passTheirBelief: assign(({ context, event }) => {
      if (event.type !== "stance.receive" || event.stance.refuses === null) throw new Error(`passTheirBelief on ${event.type}`)
      return { mine: { ...context.mine, attempt: event.stance.refuses + 1 } }
    }),
  },
  guards: {
    /** Only a later attempt of the peer counts: duplicates and reordered stale messages do nothing. */
    isNewerStance: ({ context, event }) => event.type === "stance.receive" && event.stance.attempt > context.theirs.attempt,
    /** It ends an attempt of mine beyond my latest (within MAX_STEP, and with room to go past it). */
    namesAnAttemptINeverMade: ({ context, event }) =>
      event.type === "stance.receive" && event.stance.refuses !== null && event.stance.refuses > context.mine.attempt &&
      event.stance.refuses - context.mine.attempt <= MAX_STEP && event.stance.refuses < MAX_COUNTER,
    isActive: ({ context }) => viewOf(context.mine, context.theirs) === "active",
    isOutgoing: ({ context }) => viewOf(context.mine, context.theirs) === "outgoing",
    isIncoming: ({ context }) => viewOf(context.mine, context.theirs) === "incoming",
    isIdle: ({ context }) => viewOf(context.mine, context.theirs) === "idle",
  },
}).createMachine({
  id: "conversation",
  context: ({ input }) => ({ peer: input.peer, topic: input.topic, mine: NO_STANCE, theirs: NO_STANCE, lastOutcome: "none" }),
  initial: "settling",
  on: {
    "stance.receive": [
      {
        guard: and(["isNewerStance", "namesAnAttemptINeverMade"]),
        target: ".settling",
        actions: ["recordTheirs", "passTheirBelief", { type: "send.stance", params: ({ context }) => ({ kind: kindOf(context.mine), stance: context.mine }) }],
      },
      { guard: "isNewerStance", target: ".settling", actions: "recordTheirs" },
    ],
  },
  states: {
    /** Transient: routes to the state the two stances mean. Every change passes through here. */
    settling: {
      always: [
        { guard: "isActive", target: "active" },
        { guard: "isOutgoing", target: "outgoing" },
        { guard: "isIncoming", target: "incoming" },
        { guard: "isIdle", target: "idle" },
        { target: "closed" },
      ],
    },
    idle: {
      on: {
        "request.send": { target: "settling", actions: ["ask", { type: "send.stance", params: ({ context }) => ({ kind: "request", stance: context.mine }) }] },
      },
    },
    outgoing: {
      on: {
        "leave.send": { target: "settling", actions: ["withdraw", { type: "send.stance", params: ({ context }) => ({ kind: "leave", stance: context.mine }) }, { type: "outcome", params: { outcome: "left" } }] },
        timeout: { target: "settling", actions: ["withdraw", { type: "send.stance", params: ({ context }) => ({ kind: "leave", stance: context.mine }) }, { type: "outcome", params: { outcome: "timed-out" } }] },
      },
    },
    incoming: {
      on: {
        // Starting a conversation with someone who asked is accepting.
        "request.send": { target: "settling", actions: ["acceptTheirs", { type: "send.stance", params: ({ context }) => ({ kind: "accept", stance: context.mine }) }] },
        "accept.send": { target: "settling", actions: ["acceptTheirs", { type: "send.stance", params: ({ context }) => ({ kind: "accept", stance: context.mine }) }] },
        "refuse.send": { target: "settling", actions: ["refuseTheirs", { type: "send.stance", params: ({ context }) => ({ kind: "refuse", stance: context.mine }) }, { type: "outcome", params: { outcome: "refused-by-me" } }] },
        timeout: { target: "settling", actions: ["refuseTheirs", { type: "send.stance", params: ({ context }) => ({ kind: "refuse", stance: context.mine }) }, { type: "outcome", params: { outcome: "timed-out" } }] },
      },
    },
    active: {
      on: {
        "leave.send": { target: "settling", actions: ["withdraw", { type: "send.stance", params: ({ context }) => ({ kind: "leave", stance: context.mine }) }, { type: "outcome", params: { outcome: "left" } }] },
      },
    },
    closed: {
      on: {
        "request.send": { target: "settling", actions: ["ask", { type: "send.stance", params: ({ context }) => ({ kind: "request", stance: context.mine }) }] },
      },
    },
  },
})

export type ConversationState = ConversationView
