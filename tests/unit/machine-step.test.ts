/**
 * `stepMachine` (one inert actor scope per machine) gives exactly what xstate's `transition` gives.
 * Every call the fold and the decisions make during a simulation goes through a spy that runs both
 * and compares the next snapshot (persisted form, status) and the actions.
 */
import { transition, type AnyStateMachine } from "xstate"
import { describe, expect, it, vi } from "vitest"
import { DEFAULT_SIM_OPTIONS } from "../../apps/sim/options.ts"
import { simulate } from "../../apps/sim/simulation.ts"

const seen = { calls: new Map<string, number>(), mismatches: [] as Array<string> }

const describeStep = (machine: AnyStateMachine, result: readonly [unknown, ReadonlyArray<{ type: string; params?: unknown }>]): string =>
  JSON.stringify({
    snapshot: machine.getPersistedSnapshot(result[0] as never),
    status: (result[0] as { status: string }).status,
    actions: result[1].map((action) => ({ type: action.type, params: action.params })),
  })

vi.mock("../../domain/chat/machine-step.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../domain/chat/machine-step.ts")>()
  return {
    ...real,
    stepMachine: (machine: AnyStateMachine, snapshot: never, event: never) => {
      const fast = real.stepMachine(machine, snapshot, event)
      const slow = transition(machine, snapshot, event)
      seen.calls.set(machine.id, (seen.calls.get(machine.id) ?? 0) + 1)
      const [a, b] = [describeStep(machine, fast), describeStep(machine, slow)]
      if (a !== b && seen.mismatches.length < 5) seen.mismatches.push(`${machine.id} on ${JSON.stringify(event)}:\n  fast ${a}\n  slow ${b}`)
      return fast
    },
  }
})

describe("stepMachine", () => {
  it("matches xstate's transition on every machine step of a simulation", async () => {
    // A seed that keeps every invariant (see sim-simulation.test.ts for one that does not, and why).
    const { report } = await simulate({ ...DEFAULT_SIM_OPTIONS, seed: 1, users: 6, steps: 2500, timing: false })
    expect(report.ok).toBe(true)
    expect(seen.mismatches).toEqual([])
    // Each machine was stepped often enough for the comparison to mean something.
    const calls = Object.fromEntries(seen.calls)
    expect(Object.keys(calls).sort()).toHaveLength(3)
    for (const [machine, count] of Object.entries(calls)) expect(count, machine).toBeGreaterThan(200)
  })

  it("the comparison sees a difference when there is one", async () => {
    const { presenceMachine } = await import("../../domain/presence/presence.machine.ts")
    const { initialTransition } = await import("xstate")
    const [start] = initialTransition(presenceMachine)
    const online = transition(presenceMachine, start, { type: "presence.observed", status: "online", session: 1, connection: 1 })
    const offline = transition(presenceMachine, start, { type: "presence.observed", status: "offline", session: 1, connection: 1 })
    expect(describeStep(presenceMachine, online)).not.toBe(describeStep(presenceMachine, offline))
  })
})
