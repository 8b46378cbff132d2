/**
 * The profile: who I am, restored from the log and the identity file before anything connects. The
 * transport needs the user id (it is the MQTT client id) and the Last Will (offline presence of the
 * coming session, signed), so the profile is opened first and the transport layer is built from it.
 *
 * The identity (user id and key seeds) lives apart from the log (IdentityStore), and each is checked
 * against the other at start: a damaged log never makes a new user, a lost identity file is never
 * silently replaced by new keys (peers have pinned the old ones).
 *
 * The state is the fold of the log. When the log holds a snapshot of it (domain/snapshot/, written
 * by snapshot-writer.ts), only the records after the snapshot are folded; a snapshot this code
 * cannot use (another code's fingerprint, a damaged state) is ignored and the whole log is folded.
 */
import { Context, Effect, Layer, Option, Result, Stream } from "effect"
import { evolve, initialChatState, requireMe, type ChatState } from "../chat/chat-state.ts"
import { decideCommand, presenceOut } from "../chat/decide.ts"
import type { LogRecord, Outgoing } from "../events.ts"
import type { MessageId, Topic, UserId } from "../ids.ts"
import { EventLog, EventLogError } from "../ports/event-log.port.ts"
import { decodeFoldedProfile } from "../snapshot/state-codec.ts"
import { WallClock } from "../ports/clock.port.ts"
import { IdSource } from "../ports/id-source.port.ts"
import { Crypto } from "../ports/crypto.port.ts"
import { IdentityStore, IdentityStoreError } from "../ports/identity-store.port.ts"
import { UserDirectory, UserDirectoryError } from "../ports/user-directory.port.ts"
import { publicKeysOf, restoreIdentity, storeIdentity, type Identity, type PublicKeys } from "../trust/identity.ts"
import { makeSecureChannel, type SecureChannel } from "../trust/secure-channel.ts"

export interface ProfileSnapshot {
  readonly me: UserId
  /** My keys, public half (what peers pin). */
  readonly keys: PublicKeys
  /** Signs and encrypts what I send, verifies and decrypts what I receive. */
  readonly channel: SecureChannel
  /** The state replayed from the log. */
  readonly restored: ChatState
  /** Records folded at start (after the snapshot, when one was used). */
  readonly replayed: number
  /** The snapshot the state started from (its seq), or null when the whole log was folded. */
  readonly snapshotSeq: number | null
  /** How the state was restored, in one line for the diagnostics: the snapshot used or why not. */
  readonly restoredFrom: string
  /** The keys the log's first record names (null in logs from before signing): snapshots keep them. */
  readonly createdKeys: PublicKeys | null
  /** The session this run will start (the log's last + 1). */
  readonly session: number
  /** The Last Will of connection N of the coming session: offline presence, retained, signed. */
  readonly willFor: (connection: number) => { readonly topic: Topic; readonly payload: Uint8Array; readonly retain: true }
}

const damaged = (message: string) => new EventLogError({ reason: "corrupt", message })

interface Folded {
  readonly state: ChatState
  readonly replayed: number
  readonly createdKeys: PublicKeys | undefined
}

/** Folds the log after `from`; from the start, the first record must be the profile's creation, or the log is not this profile's. */
const foldLog = Effect.fnUntraced(function* (log: EventLog["Service"], from: Folded, afterSeq: number) {
  let state = from.state
  let replayed = 0
  let createdKeys = from.createdKeys
  yield* log.replayAfter(afterSeq).pipe(
    Stream.runForEach((record: LogRecord) => {
      if (state.me === null && record.event._tag !== "profile.created") {
        return Effect.fail(damaged(
          `the profile's log starts with record ${record.seq} (${record.event._tag}), not with the profile's creation: its first record is damaged or missing. Nothing was changed; the identity file still holds your id and keys (see npm run replay -- check).`,
        ))
      }
      return Effect.sync(() => {
        if (record.event._tag === "profile.created") createdKeys = record.event.keys
        state = evolve(state, record)
        replayed += 1
      })
    }),
  )
  return { state, replayed, createdKeys } satisfies Folded
})

/** A fresh start each time: the state's seen-set and outbox are mutable, never shared between profiles. */
const nothingFolded = (): Folded => ({ state: initialChatState(), replayed: 0, createdKeys: undefined })

/** The state from the log's snapshot and the records after it, or from the whole log. */
const replayLog = Effect.fnUntraced(function* (log: EventLog["Service"]) {
  const taken = yield* log.takeSnapshot
  const status = log.snapshotStatus
  if (Option.isSome(taken)) {
    const decoded = decodeFoldedProfile(taken.value.state)
    const usable = Result.isSuccess(decoded) && decoded.success.state.lastSeq === taken.value.seq && decoded.success.state.me !== null
    if (usable) {
      const start: Folded = { state: decoded.success.state, replayed: 0, createdKeys: decoded.success.createdKeys ?? undefined }
      const folded = yield* foldLog(log, start, taken.value.seq)
      return { ...folded, snapshotSeq: taken.value.seq, restoredFrom: `from the snapshot at record ${taken.value.seq}, then ${folded.replayed} records` }
    }
    const why = Result.isFailure(decoded) ? decoded.failure : `its state is of record ${decoded.success.state.lastSeq}, not ${taken.value.seq}`
    const folded = yield* foldLog(log, nothingFolded(), 0)
    return { ...folded, snapshotSeq: null, restoredFrom: `${folded.replayed} records (the snapshot at record ${taken.value.seq} was ignored: ${why})` }
  }
  const folded = yield* foldLog(log, nothingFolded(), 0)
  const why = status._tag === "ignored" ? ` (the snapshot was ignored: ${status.reason})` : ""
  return { ...folded, snapshotSeq: null, restoredFrom: `${folded.replayed} records${why}` }
})

const newIdentity = Effect.fnUntraced(function* (user: UserId) {
  const crypto = yield* Crypto
  const signSeed = yield* crypto.newSecret
  const agreeSeed = yield* crypto.newSecret
  return { user, signSeed, agreeSeed } satisfies Identity
})

/** The identity for this log: the stored one (checked against the log), or a new one saved first. */
const openIdentity = Effect.fnUntraced(function* (state: ChatState, replayed: number, createdKeys: PublicKeys | undefined) {
  const crypto = yield* Crypto
  const store = yield* IdentityStore
  const log = yield* EventLog
  const stored = yield* store.load
  if (Option.isSome(stored)) {
    const identity = restoreIdentity(stored.value)
    if (identity === null) return yield* new IdentityStoreError({ reason: "corrupt", message: "the identity file's keys are damaged; restore it from a backup" })
    if (state.me !== null && identity.user !== state.me) {
      return yield* damaged(`the identity file is ${identity.user}'s but the log is ${state.me}'s: they belong to different profiles`)
    }
    if (createdKeys !== undefined && createdKeys !== publicKeysOf(crypto, identity)) {
      return yield* damaged(`the identity file's keys are not the ones ${identity.user} was created with`)
    }
    return identity
  }
  if (createdKeys !== undefined) {
    return yield* new IdentityStoreError({ reason: "corrupt", message: `the identity file of ${state.me ?? "this profile"} is missing; restore it from a backup (new keys would not be the ones your peers pinned)` })
  }
  if (state.me === null && (replayed > 0 || log.recovery.corruptRecords.length > 0)) {
    return yield* damaged("the log has damaged records and no profile creation; refusing to start as a new user")
  }
  // A new profile (or one from before signing): the identity is saved BEFORE the log names it.
  const identity = yield* newIdentity(state.me ?? (yield* drawFreeUserId))
  yield* store.save(storeIdentity(identity))
  return identity
})

export class Profile extends Context.Service<Profile, ProfileSnapshot>()("mqtt-chat/domain/service/Profile") {
  /** Replays the log and opens the identity; a new profile gets a fresh user id and keys. */
  static readonly layer = Layer.effect(
    Profile,
    Effect.gen(function* () {
      const log = yield* EventLog
      const clock = yield* WallClock
      const crypto = yield* Crypto
      const replayedLog = yield* replayLog(log)
      let state = replayedLog.state
      const identity = yield* openIdentity(state, replayedLog.replayed, replayedLog.createdKeys)
      const keys = publicKeysOf(crypto, identity)
      let createdKeys = replayedLog.createdKeys ?? null
      if (state.me === null) {
        const now = yield* clock.now
        const entry = decideCommand(state, { _tag: "profile.create", user: identity.user, keys }, { now, newMessageId: () => { throw new Error("no ids needed") } })
        if (Result.isFailure(entry)) return yield* new EventLogError({ reason: "invalid", message: entry.failure.reason })
        const [record] = yield* log.append([entry.success])
        if (record === undefined) return yield* new EventLogError({ reason: "io", message: "the profile record was not stored" })
        state = evolve(state, record)
        createdKeys = keys
      }
      const me = requireMe(state)
      const channel = makeSecureChannel(crypto, identity)
      const now = yield* clock.now
      const session = state.session + 1
      const restored = state
      const willFor = (connection: number) => {
        // A will's id is derived, not drawn: it is fixed when the connection is made.
        const id = `will${me.slice(5)}s${session}c${connection}` as MessageId
        const [out] = presenceOut(restored, restored.clock, { now, newMessageId: () => id }, "offline", { session, connection })
        if (out === undefined) throw new Error("presence announcement missing")
        return willMessage(channel, restored, out)
      }
      return Profile.of({ me, keys, channel, restored, replayed: replayedLog.replayed, snapshotSeq: replayedLog.snapshotSeq, restoredFrom: replayedLog.restoredFrom, createdKeys, session, willFor })
    }),
  )
}

/** How many ids a new profile draws before giving up: with 90,000 five-digit ids, plenty. */
const MAX_ID_DRAWS = 20

/** A fresh id that no other user has (when a directory is provided; otherwise the first drawn). */
const drawFreeUserId = Effect.gen(function* () {
  const ids = yield* IdSource
  const directory = yield* Effect.serviceOption(UserDirectory)
  for (let draw = 0; draw < MAX_ID_DRAWS; draw++) {
    const candidate = yield* ids.newUserId
    if (Option.isNone(directory)) return candidate
    const taken = yield* directory.value.isTaken(candidate)
    if (!taken) return candidate
  }
  return yield* new UserDirectoryError({ message: `no free user id after ${MAX_ID_DRAWS} draws` })
})

const willMessage = (channel: SecureChannel, state: ChatState, out: Outgoing) => {
  const sealed = channel.seal(state, out)
  if (Result.isFailure(sealed)) throw new Error(`the Last Will could not be signed: ${sealed.failure}`)
  return { topic: out.topic, payload: sealed.success, retain: true as const }
}
