/** Randomness, injected: user ids and message ids. A seeded source makes simulations reproducible. */
import { Context, Effect, Layer } from "effect"
import type { MessageId, UserId } from "../ids.ts"

export class IdSource extends Context.Service<IdSource, {
  readonly newUserId: Effect.Effect<UserId>
  readonly newMessageId: Effect.Effect<MessageId>
}>()("mqtt-chat/domain/ports/IdSource") {
  /** Deterministic ids from a seed (mulberry32): the same seed gives the same run. */
  static readonly layerSeeded = (seed: number) => Layer.succeed(IdSource, seededIdSource(seed))
}

export const mulberry32 = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

export const seededIdSource = (seed: number): IdSource["Service"] => {
  const next = mulberry32(seed)
  const digits = (n: number) => Array.from({ length: n }, () => ALPHABET[Math.floor(next() * 10)]).join("")
  const chars = (n: number) => Array.from({ length: n }, () => ALPHABET[Math.floor(next() * 36)]).join("")
  return IdSource.of({
    // First digit 1-9 so every id has exactly five digits, like `user-32563`.
    newUserId: Effect.sync(() => `user-${1 + Math.floor(next() * 9)}${digits(4)}` as UserId),
    newMessageId: Effect.sync(() => chars(16) as MessageId),
  })
}
