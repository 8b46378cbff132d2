/** The real clock and the real randomness: the only place the app reads either. */
import { randomInt, randomBytes } from "node:crypto"
import { Effect, Layer } from "effect"
import type { MessageId, UserId } from "../../domain/ids.ts"
import { WallClock } from "../../domain/ports/clock.port.ts"
import { IdSource } from "../../domain/ports/id-source.port.ts"

/** The live clock: WallClock reads Effect's Clock, which is the real one unless a TestClock is provided. */
export const SystemClock = {
  layer: WallClock.layer,
} as const

const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

export const SystemIds = {
  layer: Layer.succeed(
    IdSource,
    IdSource.of({
      // Five digits with a non-zero first digit, like the design note's `user-32563`.
      newUserId: Effect.sync(() => `user-${randomInt(10_000, 100_000)}` as UserId),
      // 16 base-36 characters ≈ 82 bits: collisions are not a concern for duplicate detection.
      newMessageId: Effect.sync(() => {
        const bytes = randomBytes(16)
        let id = ""
        for (const byte of bytes) id += ID_ALPHABET[byte % 36]
        return id as MessageId
      }),
    }),
  ),
} as const
