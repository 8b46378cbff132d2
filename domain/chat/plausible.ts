/**
 * Numbers an incoming message may carry, checked against what its sender can plausibly have sent
 * (the decoder already held them to the absolute bounds of domain/wire/limits.ts). A message that
 * fails is dropped with the reason; nothing of it is stored. The rules, one per field:
 *
 * - `clock`: at most `acceptableClock(now)`, what any Lamport clock can have counted by now.
 * - a one-to-one stance's `attempt`: at most MAX_STEP above the last attempt I know from that peer
 *   (0 before any): every change of mind sends me a message, so a larger gap is not a loss.
 * - a join request's `attempt`: at most MAX_STEP above what the leader knows from that user (its
 *   pending or last refused attempt); a refusal's `attempt`: at most MAX_STEP above my own.
 * - group information: `foundedClock` not after the clock of the message carrying it (a founding is
 *   announced at its own clock, later copies after it); within the founding I hold, `version` at
 *   most MAX_STEP above the version I hold (a leader changes its group one step at a time, and a
 *   subscriber gets every step it missed from its queue).
 * - `ts` is display only: further ahead than MAX_FUTURE_TS_MS it is replaced by the arrival time
 *   (`believableTime`), never a reason to drop text.
 * - presence `session`/`connection` and message `n`: the absolute bounds only. Only a presence
 *   topic's owner can write it (the broker's ACL), so a far-ahead position hides only the sender
 *   itself; and a far-ahead `n` is held, then shown, and shows later ones as late: it wedges nothing.
 */
import type { DomainEvent } from "../events.ts"
import { acceptableClock, MAX_FUTURE_TS_MS, MAX_STEP } from "../wire/limits.ts"
import type { Envelope } from "../wire/messages.ts"
import type { ChatState } from "./chat-state.ts"

const ahead = (what: string, value: number, known: number, whose: string): string | null =>
  value > known + MAX_STEP ? `${what} ${value} is more than ${MAX_STEP} ahead of the last one I know ${whose} (${known})` : null

/** Why `env` (interpreted as `event`) carries numbers its sender cannot have sent; null when it can. */
export const implausibleNumbers = (state: ChatState, env: Envelope, event: DomainEvent, now: number): string | null => {
  const ceiling = acceptableClock(now)
  if (env.clock > ceiling) return `clock ${env.clock} is beyond what any sender can have counted by now (at most ${ceiling})`
  switch (event._tag) {
    case "conversation.stance.received":
      return ahead("attempt", event.attempt, state.conversations.get(event.peer)?.context.theirs.attempt ?? 0, `from ${event.peer}`)
    case "group.join.received": {
      const context = state.groups.get(event.group)?.context
      const known = Math.max(context?.pending.find((p) => p.user === event.from)?.attempt ?? 0, context?.refused[event.from] ?? 0)
      return ahead("join attempt", event.attempt, known, `from ${event.from}`)
    }
    case "group.refuse.received":
      return ahead("refused attempt", event.attempt, state.groups.get(event.group)?.context.joinAttempt ?? 0, "of mine")
    case "group.info.received":
    case "group.accept.received": {
      const info = event.info
      if (info.foundedClock > env.clock) return `group ${info.name} founded at clock ${info.foundedClock}, after its own message's clock ${env.clock}`
      const held = state.groups.get(info.name)?.context.info
      if (held === null || held === undefined || held.foundedBy !== info.foundedBy || held.foundedClock !== info.foundedClock) return null
      return ahead(`group ${info.name} version`, info.version, held.version, "of that group")
    }
    default:
      return null
  }
}

/** A received message's time as shown: the sender's, unless it claims to come from the future. */
export const believableTime = (event: DomainEvent, now: number): DomainEvent =>
  event._tag === "message.received" && event.sentAt > now + MAX_FUTURE_TS_MS ? { ...event, sentAt: now } : event
