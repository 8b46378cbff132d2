/**
 * Wall-clock time, injected: the domain never reads the clock itself. Its one implementation reads
 * Effect's own Clock, the same one `Effect.sleep`, `Effect.delay` and schedules use: the chat runs
 * on the real clock, and the simulator and the tests run everything (timestamps and the service's
 * timers alike) on a `TestClock` they advance. One source of time.
 */
import { Clock, Context, Layer } from "effect"
import type { Effect } from "effect"

export class WallClock extends Context.Service<WallClock, {
  /** Milliseconds since the epoch. */
  readonly now: Effect.Effect<number>
}>()("mqtt-chat/domain/ports/WallClock") {
  /** Whatever Clock the running fiber has: the live one, or a TestClock that moves only when told. */
  static readonly layer = Layer.succeed(WallClock, WallClock.of({ now: Clock.currentTimeMillis }))
}
