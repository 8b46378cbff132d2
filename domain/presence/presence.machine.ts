/**
 * Presence of ONE other user, as this client sees it: unknown → online ⇄ offline.
 *
 * Announcements arrive in any order (the retained copy, the live one, the Last Will of a dropped
 * connection, a takeover's late will), so each carries the sender's position: its session (process
 * start count) and its connection within that session. A later position wins; at the same position
 * `offline` wins, because that connection's Last Will was registered when it connected and can only
 * mean the connection is gone.
 */
import { assign, setup } from "xstate"
import type { PresenceStatus } from "../wire/messages.ts"

export interface PresencePosition {
  readonly session: number
  readonly connection: number
}

export interface PresenceContext extends PresencePosition {}

export type PresenceEvent = {
  readonly type: "presence.observed"
  readonly status: PresenceStatus
  readonly session: number
  readonly connection: number
}

export const comparePositions = (a: PresencePosition, b: PresencePosition): number =>
  a.session !== b.session ? a.session - b.session : a.connection - b.connection

export const presenceMachine = setup({
  types: {
    context: {} as PresenceContext,
    events: {} as PresenceEvent,
  },
  guards: {
    isOnline: ({ event }) => event.status === "online",
    isLaterOnline: ({ context, event }) => event.status === "online" && comparePositions(event, context) > 0,
    /** Offline of the same connection or a later one: the Last Will of what we saw online. */
    isOfflineOfThisConnectionOrLater: ({ context, event }) => event.status === "offline" && comparePositions(event, context) >= 0,
    isLaterOffline: ({ context, event }) => event.status === "offline" && comparePositions(event, context) > 0,
  },
  actions: {
    recordPosition: assign(({ event }) => ({ session: event.session, connection: event.connection })),
  },
}).createMachine({
  id: "presence",
  context: { session: -1, connection: -1 },
  initial: "unknown",
  states: {
    unknown: {
      on: {
        "presence.observed": [
          { guard: "isOnline", target: "online", actions: "recordPosition" },
          { target: "offline", actions: "recordPosition" },
        ],
      },
    },
    online: {
      on: {
        "presence.observed": [
          { guard: "isLaterOnline", actions: "recordPosition" },
          { guard: "isOfflineOfThisConnectionOrLater", target: "offline", actions: "recordPosition" },
        ],
      },
    },
    offline: {
      on: {
        "presence.observed": [
          { guard: "isLaterOnline", target: "online", actions: "recordPosition" },
          { guard: "isLaterOffline", actions: "recordPosition" },
        ],
      },
    },
  },
})

export type PresenceState = "unknown" | "online" | "offline"
