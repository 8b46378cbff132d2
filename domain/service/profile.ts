/**
 * The profile: who I am, restored from the log before anything connects. The transport needs the
 * user id (it is the MQTT client id) and the Last Will (offline presence of the coming session), so
 * the profile is opened first and the transport layer is built from it.
 */
import { Context, Effect, Layer, Option, Result, Stream } from "effect"
import { evolve, initialChatState, requireMe, type ChatState } from "../chat/chat-state.ts"
import { decideCommand, presenceOut } from "../chat/decide.ts"
import type { Outgoing } from "../events.ts"
import type { MessageId, Topic, UserId } from "../ids.ts"
import { EventLog, EventLogError } from "../ports/event-log.port.ts"
import { WallClock } from "../ports/clock.port.ts"
import { IdSource } from "../ports/id-source.port.ts"
import { UserDirectory, UserDirectoryError } from "../ports/user-directory.port.ts"
import { envelopeBytes } from "../wire/messages.ts"

export interface ProfileSnapshot {
  readonly me: UserId
  /** The state replayed from the log. */
  readonly restored: ChatState
  /** Records replayed. */
  readonly replayed: number
  /** The session this run will start (the log's last + 1). */
  readonly session: number
  /** The Last Will of connection N of the coming session: offline presence, retained. */
  readonly willFor: (connection: number) => { readonly topic: Topic; readonly payload: Uint8Array; readonly retain: true }
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
        const user = yield* drawFreeUserId(ids)
        const now = yield* clock.now
        const entry = decideCommand(state, { _tag: "profile.create", user }, { now, newMessageId: () => { throw new Error("no ids needed") } })
        if (Result.isFailure(entry)) return yield* new EventLogError({ reason: "invalid", message: entry.failure.reason })
        const [record] = yield* log.append([entry.success])
        if (record === undefined) return yield* new EventLogError({ reason: "io", message: "the profile record was not stored" })
        state = evolve(state, record)
      }
      const me = requireMe(state)
      const now = yield* clock.now
      const session = state.session + 1
      const restored = state
      const willFor = (connection: number) => {
        // A will's id is derived, not drawn: it is fixed when the connection is made.
        const id = `will${me.slice(5)}s${session}c${connection}` as MessageId
        const [out] = presenceOut(restored, restored.clock, { now, newMessageId: () => id }, "offline", { session, connection })
        if (out === undefined) throw new Error("presence announcement missing")
        return willMessage(out)
      }
      return Profile.of({ me, restored, replayed, session, willFor })
    }),
  )
}

/** How many ids a new profile draws before giving up: with 90,000 five-digit ids, plenty. */
const MAX_ID_DRAWS = 20

/** A fresh id that no other user has (when a directory is provided; otherwise the first drawn). */
const drawFreeUserId = (ids: IdSource["Service"]) =>
  Effect.gen(function* () {
    const directory = yield* Effect.serviceOption(UserDirectory)
    for (let draw = 0; draw < MAX_ID_DRAWS; draw++) {
      const candidate = yield* ids.newUserId
      if (Option.isNone(directory)) return candidate
      const taken = yield* directory.value.isTaken(candidate)
      if (!taken) return candidate
    }
    return yield* new UserDirectoryError({ message: `no free user id after ${MAX_ID_DRAWS} draws` })
  })

const willMessage = (out: Outgoing) => ({ topic: out.topic, payload: envelopeBytes(out.envelope), retain: true as const })
