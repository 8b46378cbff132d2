/** The simulation world (harness.ts) with promise-returning steps, for tests and benchmarks. */
import { Effect } from "effect"
import type { ChatState } from "../../domain/chat/chat-state.ts"
import type { Command } from "../../domain/chat/decide.ts"
import { SimWorld, type WorldOptions } from "./harness.ts"

/** A world with promise-returning steps, for tests and benchmarks (each step runs on the world's runtime). */
export const openWorld = async (options: WorldOptions) => {
  const { world, runtime, ready } = SimWorld.open(options)
  await ready
  const run = <A>(effect: Effect.Effect<A>): Promise<A> => runtime.runPromise(effect)
  let closed = false
  return {
    world,
    run,
    /** The users' ids, by index. */
    ids: world.users.map((user) => user.id),
    command: (index: number, command: Command) => run(world.command(index, command)),
    /** Every user in `indexes` (default: all) started. */
    startAll: (indexes: ReadonlyArray<number> = world.users.map((u) => u.index)) => run(Effect.forEach(indexes, (i) => world.start(i), { discard: true })),
    drain: () => run(world.drain),
    advance: (ms: number) => run(world.advance(ms)),
    crash: (index: number, afterNextAppend = false) => run(world.crash(index, afterNextAppend)),
    partition: (index: number) => run(world.partition(index)),
    heal: (index: number) => run(world.heal(index)),
    records: (index: number) => run(world.records(index)),
    state: async (index: number): Promise<ChatState> => {
      const state = await run(world.state(index))
      if (state === undefined) throw new Error(`${world.user(index).id} never started`)
      return state
    },
    snapshot: () => run(world.snapshot),
    /** Puts raw bytes in `index`'s queue, as if the broker routed them to it. */
    inject: (index: number, topic: string, payload: Uint8Array | string) =>
      world.broker.inject(world.user(index).id, { topic, payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload, retain: false }),
    /** Every chat closed cleanly, then the runtime; a second call does nothing. */
    close: async () => {
      if (closed) return
      closed = true
      await run(world.close)
      await runtime.dispose()
    },
  }
}
export type OpenWorld = Awaited<ReturnType<typeof openWorld>>
