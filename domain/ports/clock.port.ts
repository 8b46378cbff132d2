/** Wall-clock time, injected: the domain never reads the clock itself. */
import { Context, Effect, Layer } from "effect"

export class WallClock extends Context.Service<WallClock, {
  /** Milliseconds since the epoch. */
  readonly now: Effect.Effect<number>
}>()("mqtt-chat/domain/ports/WallClock") {
  /** A clock that only moves when told: for simulations and tests. */
  static readonly layerManual = (start: number) => {
    let current = start
    return {
      layer: Layer.succeed(WallClock, WallClock.of({ now: Effect.sync(() => current) })),
      advance: (ms: number) => {
        current += ms
      },
      set: (ms: number) => {
        current = ms
      },
    }
  }
}
