/**
 * Presence of ONE other user, as this client sees it: unknown → online ⇄ offline.
 *
 * Announcements arrive in any order (the retained copy, the live announcement, the Last Will), so
 * each carries the sender's session number (incremented at every connect). A higher session wins;
 * within one session `offline` wins, because the Last Will is registered at connect time and may
 * arrive after that session's `online`.
 */
import { assign, setup } from "xstate"
import type { PresenceStatus } from "../wire/messages.ts"

export interface PresenceContext {
  /** Session of the last accepted announcement; -1 before any. */
  readonly session: number
}

export type PresenceEvent = { readonly type: "presence.observed"; readonly status: PresenceStatus; readonly session: number }

export const presenceMachine = setup({
  types: {
    context: {} as PresenceContext,
    events: {} as PresenceEvent,
  },
  guards: {
    isOnline: ({ event }) => event.status === "online",
    isLaterOnline: ({ context, event }) => event.status === "online" && event.session > context.session,
    /** Offline of the same or a later session: the Last Will of the session we saw online. */
    isOfflineOfThisSessionOrLater: ({ context, event }) => event.status === "offline" && event.session >= context.session,
    isLaterOffline: ({ context, event }) => event.status === "offline" && event.session > context.session,
  },
  actions: {
    recordSession: assign({ session: ({ event }) => event.session }),
  },
}).createMachine({
  id: "presence",
  context: { session: -1 },
  initial: "unknown",
  states: {
    unknown: {
      on: {
        "presence.observed": [
          { guard: "isOnline", target: "online", actions: "recordSession" },
          { target: "offline", actions: "recordSession" },
        ],
      },
    },
    online: {
      on: {
        "presence.observed": [
          { guard: "isLaterOnline", actions: "recordSession" },
          { guard: "isOfflineOfThisSessionOrLater", target: "offline", actions: "recordSession" },
        ],
      },
    },
    offline: {
      on: {
        "presence.observed": [
          { guard: "isLaterOnline", target: "online", actions: "recordSession" },
          { guard: "isLaterOffline", actions: "recordSession" },
        ],
      },
    },
  },
})

export type PresenceState = "unknown" | "online" | "offline"
