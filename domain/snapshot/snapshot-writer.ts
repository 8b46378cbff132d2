/**
 * Keeps the log's snapshot of the folded state fresh, so the next start folds only a short tail:
 * every `everyRecords` records (checked every `checkEveryMs`), and once more when the service
 * closes cleanly (if SHUTDOWN_MIN_RECORDS came since the last). A snapshot is a cache: one that cannot be written is only a slower next start,
 * so failures are logged and the chat goes on.
 *
 * Encoding is synchronous (it must read the state's mutable seen-set and outbox as of one record);
 * the file is written by the log adapter without blocking the decision loop.
 */
import { Duration, Effect, Layer } from "effect"
import { EventLog } from "../ports/event-log.port.ts"
import { ChatService } from "../service/chat-service.ts"
import { Profile } from "../service/profile.ts"
import { encodeFoldedProfile } from "./state-codec.ts"

export interface SnapshotOptions {
  /** Records folded since the last snapshot that make a new one worth writing. */
  readonly everyRecords: number
  /** How often the count is looked at. */
  readonly checkEveryMs: number
}

export const defaultSnapshotOptions: SnapshotOptions = { everyRecords: 5_000, checkEveryMs: 2_000 }

/**
 * At a clean stop a snapshot is written when at least this many records came since the last one:
 * folding fewer at the next start costs less than writing it (for a 1,000,000-message profile,
 * about 20 MB more memory for a moment and a 24 MB file).
 */
export const SHUTDOWN_MIN_RECORDS = 100

export const snapshotWriterLayer = (options: SnapshotOptions = defaultSnapshotOptions) =>
  Layer.effectDiscard(Effect.gen(function* () {
    if (!Number.isSafeInteger(options.everyRecords) || options.everyRecords < 1) throw new Error("invariant: snapshot everyRecords must be a positive integer")
    const log = yield* EventLog
    const service = yield* ChatService
    const profile = yield* Profile
    let savedSeq = profile.snapshotSeq ?? 0
    const createdKeys = profile.createdKeys

    /** Writes a snapshot of the state as it is now, if it moved past the last one. */
    const save = (minimumRecords: number) =>
      Effect.gen(function* () {
        const state = yield* service.state
        if (state.lastSeq - savedSeq < minimumRecords || state.lastSeq < 1) return
        const seq = state.lastSeq
        const text = encodeFoldedProfile({ state, createdKeys })
        yield* log.saveSnapshot({ seq, state: text })
        savedSeq = seq
      }).pipe(
        Effect.catchCause((cause) => Effect.logWarning(`snapshot not written (the next start replays more of the log): ${String(cause).slice(0, 300)}`)),
      )

    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(Duration.millis(options.checkEveryMs)), save(options.everyRecords))))
    // Runs before the service and the log close (this layer is built after them).
    yield* Effect.addFinalizer(() => save(Math.min(SHUTDOWN_MIN_RECORDS, options.everyRecords)))
  }))
