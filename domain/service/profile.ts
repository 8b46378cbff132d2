/**
 * The profile: who I am, restored from the log before anything connects. The transport needs the
 * user id (it is the MQTT client id) and the Last Will (offline presence of the coming session), so
 * the profile is opened first and the transport layer is built from it.
 */
import { Context, Effect, Layer, Result, Stream } from "effect"
import { evolve, initialChatState, requireMe, type ChatState } from "../chat/chat-state.ts"
import { decideCommand, presenceOut } from "../chat/decide.ts"
import type { Outgoing } from "../events.ts"
import type { UserId } from "../ids.ts"
import { EventLog, EventLogError } from "../ports/event-log.port.ts"
import { WallClock } from "../ports/clock.port.ts"
import { IdSource } from "../ports/id-source.port.ts"
import { envelopeBytes } from "../wire/messages.ts"

export interface ProfileSnapshot {
  readonly me: UserId
  /** The state replayed from the log. */
  readonly restored: ChatState
  /** Records replayed. */
  readonly replayed: number
  /** The Last Will for the coming session: offline presence, retained. */
  readonly will: { readonly topic: string; readonly payload: Uint8Array; readonly retain: true }
}

export class Profile extends Context.Service<Profile, ProfileSnapshot>()("mqtt-chat/domain/service/Profile") {
  /** Replays the log; a new profile gets a fresh user id, appended as its first record. */
  static readonly layer = Layer.effect(
    Profile,
    Effect.gen(function* () {
      const log = yield* EventLog
      const clock = yield* WallClock
      const ids = yield* IdSource
      let state = initialChatState()
      let replayed = 0
      yield* log.replay().pipe(
        Stream.runForEach((record) =>
          Effect.sync(() => {
            state = evolve(state, record)
            replayed += 1
          }),
        ),
      )
      if (state.me === null) {
        const user = yield* ids.newUserId
        const now = yield* clock.now
        const entry = decideCommand(state, { _tag: "profile.create", user }, { now, newMessageId: () => { throw new Error("no ids needed") } })
        if (Result.isFailure(entry)) return yield* new EventLogError({ reason: "invalid", message: entry.failure.reason })
        const [record] = yield* log.append([entry.success])
        if (record === undefined) return yield* new EventLogError({ reason: "io", message: "the profile record was not stored" })
        state = evolve(state, record)
      }
      const me = requireMe(state)
      const now = yield* clock.now
      const newMessageId = yield* ids.newMessageId
      const [willOut] = presenceOut(state, state.clock, { now, newMessageId: () => newMessageId }, "offline", state.session + 1)
      if (willOut === undefined) throw new Error("presence announcement missing")
      return Profile.of({ me, restored: state, replayed, will: willMessage(willOut) })
    }),
  )
}

const willMessage = (out: Outgoing) => ({ topic: out.topic, payload: envelopeBytes(out.envelope), retain: true as const })
